/*
 * What a callback may reach: every refused range at its edges (the first
 * and last address in, the neighbours out), IPv6 forms that carry an IPv4
 * address, the allow-list, and callback URLs as submitted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/notify.h"
#include "moat/util.h"

static enum notify_addr_class cls(const char *text)
{
    struct notify_addr a;
    if (notify_addr_parse(text, &a) < 0)
        fail_msg("not an address: %s", text);
    return notify_addr_classify(&a);
}

#define IS(text, want)                                                                             \
    do {                                                                                           \
        enum notify_addr_class got_ = cls(text);                                                   \
        if (got_ != (want))                                                                        \
            fail_msg("%s: class %d (%s), want %d", text, (int)got_, notify_addr_class_name(got_),  \
                     (int)(want));                                                                 \
    } while (0)

static void test_ipv4_ranges(void **state)
{
    (void)state;
    IS("0.0.0.0", NOTIFY_ADDR_UNSPECIFIED);
    IS("0.255.255.255", NOTIFY_ADDR_UNSPECIFIED);
    IS("1.0.0.0", NOTIFY_ADDR_OK);
    IS("127.0.0.1", NOTIFY_ADDR_LOOPBACK);
    IS("127.255.255.255", NOTIFY_ADDR_LOOPBACK);
    IS("126.255.255.255", NOTIFY_ADDR_OK);
    IS("128.0.0.0", NOTIFY_ADDR_OK);
    IS("10.0.0.0", NOTIFY_ADDR_PRIVATE);
    IS("10.255.255.255", NOTIFY_ADDR_PRIVATE);
    IS("11.0.0.0", NOTIFY_ADDR_OK);
    IS("9.255.255.255", NOTIFY_ADDR_OK);
    IS("172.16.0.0", NOTIFY_ADDR_PRIVATE);
    IS("172.31.255.255", NOTIFY_ADDR_PRIVATE);
    IS("172.15.255.255", NOTIFY_ADDR_OK);
    IS("172.32.0.0", NOTIFY_ADDR_OK);
    IS("192.168.0.0", NOTIFY_ADDR_PRIVATE);
    IS("192.168.255.255", NOTIFY_ADDR_PRIVATE);
    IS("192.167.255.255", NOTIFY_ADDR_OK);
    IS("192.169.0.0", NOTIFY_ADDR_OK);
    IS("169.254.0.0", NOTIFY_ADDR_LINK_LOCAL);
    IS("169.254.255.255", NOTIFY_ADDR_LINK_LOCAL);
    IS("169.254.169.254", NOTIFY_ADDR_METADATA);
    IS("169.253.255.255", NOTIFY_ADDR_OK);
    IS("169.255.0.0", NOTIFY_ADDR_OK);
    IS("100.64.0.0", NOTIFY_ADDR_CGNAT);
    IS("100.127.255.255", NOTIFY_ADDR_CGNAT);
    IS("100.63.255.255", NOTIFY_ADDR_OK);
    IS("100.128.0.0", NOTIFY_ADDR_OK);
    IS("224.0.0.0", NOTIFY_ADDR_MULTICAST);
    IS("239.255.255.255", NOTIFY_ADDR_MULTICAST);
    IS("223.255.255.255", NOTIFY_ADDR_OK);
    IS("240.0.0.0", NOTIFY_ADDR_RESERVED);
    IS("255.255.255.255", NOTIFY_ADDR_RESERVED);
    IS("8.8.8.8", NOTIFY_ADDR_OK);
    IS("93.184.216.34", NOTIFY_ADDR_OK);
}

static void test_ipv6_ranges(void **state)
{
    (void)state;
    IS("::", NOTIFY_ADDR_UNSPECIFIED);
    IS("::1", NOTIFY_ADDR_LOOPBACK);
    IS("::2", NOTIFY_ADDR_OK);
    IS("fc00::", NOTIFY_ADDR_PRIVATE);
    IS("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NOTIFY_ADDR_PRIVATE);
    IS("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NOTIFY_ADDR_OK);
    IS("fe80::", NOTIFY_ADDR_LINK_LOCAL);
    IS("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NOTIFY_ADDR_LINK_LOCAL);
    IS("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NOTIFY_ADDR_OK);
    IS("fec0::1", NOTIFY_ADDR_PRIVATE); /* site-local */
    IS("ff00::", NOTIFY_ADDR_MULTICAST);
    IS("ff02::1", NOTIFY_ADDR_MULTICAST);
    IS("fd00:ec2::254", NOTIFY_ADDR_METADATA);
    IS("fd00:ec2::253", NOTIFY_ADDR_PRIVATE);
    IS("2001:4860:4860::8888", NOTIFY_ADDR_OK);
    IS("2606:4700::1111", NOTIFY_ADDR_OK);
}

static void test_ipv6_carrying_ipv4(void **state)
{
    (void)state;
    /* mapped */
    IS("::ffff:127.0.0.1", NOTIFY_ADDR_LOOPBACK);
    IS("::ffff:7f00:1", NOTIFY_ADDR_LOOPBACK);
    IS("::ffff:10.1.2.3", NOTIFY_ADDR_PRIVATE);
    IS("::ffff:169.254.169.254", NOTIFY_ADDR_METADATA);
    IS("::ffff:0.0.0.0", NOTIFY_ADDR_UNSPECIFIED);
    IS("::ffff:8.8.8.8", NOTIFY_ADDR_OK);
    /* compatible (deprecated) */
    IS("::127.0.0.1", NOTIFY_ADDR_LOOPBACK);
    IS("::192.168.1.1", NOTIFY_ADDR_PRIVATE);
    IS("::8.8.8.8", NOTIFY_ADDR_OK);
    /* NAT64 */
    IS("64:ff9b::127.0.0.1", NOTIFY_ADDR_LOOPBACK);
    IS("64:ff9b::a9fe:a9fe", NOTIFY_ADDR_METADATA);
    IS("64:ff9b::8.8.8.8", NOTIFY_ADDR_OK);
    /* 6to4 */
    IS("2002:7f00:1::", NOTIFY_ADDR_LOOPBACK);
    IS("2002:0a00:0001::1", NOTIFY_ADDR_PRIVATE);
    IS("2002:0808:0808::1", NOTIFY_ADDR_OK);
}

static void test_parse(void **state)
{
    (void)state;
    struct notify_addr a;
    assert_int_equal(notify_addr_parse("1.2.3.4", &a), 0);
    assert_false(a.v6);
    assert_int_equal(notify_addr_parse("::1", &a), 0);
    assert_true(a.v6);
    const char *bad[] = {"",         "1.2.3",     "1.2.3.4.5", "[::1]",    "localhost",
                         "01.2.3.4", "1.2.3.256", "::1%lo",    " 1.2.3.4", NULL};
    for (size_t i = 0; bad[i]; i++)
        if (notify_addr_parse(bad[i], &a) != -EINVAL)
            fail_msg("parsed %s", bad[i]);
    assert_int_equal(notify_addr_parse(NULL, &a), -EINVAL);
}

static bool allowed(const struct notify_allow *al, const char *text)
{
    struct notify_addr a;
    assert_int_equal(notify_addr_parse(text, &a), 0);
    return notify_addr_check(al, &a) == NOTIFY_ADDR_OK;
}

static void test_allow_list(void **state)
{
    (void)state;
    struct notify_allow al;
    struct moat_err err = {0};
    assert_int_equal(notify_allow_parse("127.0.0.1/32, 10.1.0.0/16,fd00::/8 ,::1", &al, &err), 0);
    assert_int_equal(al.n, 4);
    assert_true(allowed(&al, "127.0.0.1"));
    assert_false(allowed(&al, "127.0.0.2"));
    assert_true(allowed(&al, "::ffff:127.0.0.1")); /* mapped: the IPv4 entry */
    assert_true(allowed(&al, "10.1.255.255"));
    assert_false(allowed(&al, "10.2.0.0"));
    assert_true(allowed(&al, "fd12::1"));
    assert_true(allowed(&al, "fd00:ec2::254")); /* allowed by name: the operator said so */
    assert_false(allowed(&al, "fc00::1"));
    assert_true(allowed(&al, "::1"));
    assert_false(allowed(&al, "169.254.169.254"));
    assert_true(allowed(&al, "8.8.8.8")); /* public: no entry needed */

    assert_int_equal(notify_allow_parse("", &al, &err), 0);
    assert_int_equal(al.n, 0);
    assert_int_equal(notify_allow_parse(NULL, &al, &err), 0);
    assert_int_equal(notify_allow_parse("0.0.0.0/0", &al, &err), 0);
    assert_true(allowed(&al, "127.0.0.1"));
    assert_false(allowed(&al, "::1"));
    assert_int_equal(notify_allow_parse("10.0.0.0/7", &al, &err), 0);
    assert_true(allowed(&al, "11.255.0.1"));

    const char *bad[] = {"10.0.0.0/33", "::/129",     "10.0.0.0/",    "10.0.0.0/x",
                         "host/8",      "1.2.3.4/-1", "1.2.3.4,nope", NULL};
    for (size_t i = 0; bad[i]; i++) {
        struct moat_err e = {0};
        al.n = 77;
        if (notify_allow_parse(bad[i], &al, &e) != -EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(e.field, "webhooks.allow");
        assert_int_equal(al.n, 77); /* untouched */
    }
    char many[2048] = "";
    for (int i = 0; i <= NOTIFY_ALLOW_MAX; i++)
        (void)snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d,", i);
    assert_int_equal(notify_allow_parse(many, &al, &err), -E2BIG);
}

static void url_ok(const struct notify_allow *al, const char *url, bool https, const char *host,
                   unsigned port, bool literal)
{
    struct notify_url u;
    struct moat_err err = {0};
    if (notify_url_check(url, al, &u, &err) < 0)
        fail_msg("%s refused: %s", url, err.msg);
    assert_int_equal(u.https, https);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_int_equal(u.literal, literal);
}

static void url_bad(const struct notify_allow *al, const char *url, const char *why)
{
    struct moat_err err = {0};
    if (notify_url_check(url, al, NULL, &err) != -EINVAL)
        fail_msg("%s accepted", url);
    assert_string_equal(err.field, "callbackUrl");
    if (!strstr(err.msg, why))
        fail_msg("%s: \"%s\" does not say \"%s\"", url, err.msg, why);
}

static void test_urls(void **state)
{
    (void)state;
    struct notify_allow none = {0}, lo;
    struct moat_err err = {0};
    assert_int_equal(notify_allow_parse("127.0.0.1/32", &lo, &err), 0);
    url_ok(&none, "https://example.com/hook?a=1&b=2", true, "example.com", 443, false);
    url_ok(&none, "http://example.com:8080", false, "example.com", 8080, false);
    url_ok(&none, "HTTP://EXAMPLE.com/", false, "EXAMPLE.com", 80, false);
    url_ok(&none, "http://8.8.8.8/x", false, "8.8.8.8", 80, true);
    url_ok(&none, "http://[2001:4860::8888]:81/", false, "2001:4860::8888", 81, true);
    url_ok(&lo, "http://127.0.0.1:9999/hook", false, "127.0.0.1", 9999, true);
    /* a name is checked when it is resolved, at delivery */
    url_ok(&none, "http://localhost/", false, "localhost", 80, false);

    url_bad(&none, "http://127.0.0.1/", "loopback");
    url_bad(&lo, "http://127.0.0.2/", "loopback");
    url_bad(&none, "http://[::1]/", "loopback");
    url_bad(&none, "http://[::ffff:127.0.0.1]/", "loopback");
    url_bad(&none, "http://169.254.169.254/latest", "cloud metadata");
    url_bad(&none, "http://[fd00:ec2::254]/", "cloud metadata");
    url_bad(&none, "http://10.0.0.1/", "private");
    url_bad(&none, "http://100.100.100.100/", "shared (CGNAT)");
    url_bad(&none, "http://[fe80::1]/", "link-local");
    url_bad(&none, "http://0.0.0.0:80/", "unspecified");
    url_bad(&none, "http://239.1.1.1/", "multicast");
    url_bad(&none, "ftp://example.com/", "only http and https");
    url_bad(&none, "file:///etc/passwd", "only http and https");
    url_bad(&none, "javascript:alert(1)", "");
    url_bad(&none, "example.com/x", "not a valid URL");
    url_bad(&none, "//example.com/x", "not a valid URL");
    url_bad(&none, "http://", "");
    url_bad(&none, "http://u:p@example.com/", "user information");
    url_bad(&none, "http://example.com/#frag", "fragment");
    url_bad(&none, "http://example.com:0/", "port");
    url_bad(&none, "http://example.com:65536/", "");
    url_bad(&none, "http://example.com/a b", "percent-encoded");
    url_bad(&none, "http://example.com/\x01", "percent-encoded");
    url_bad(&none, "http://ex\xc3\xa4mple.com/", "percent-encoded");
    url_bad(&none, "http://[fe80::1%25eth0]/", "");
    url_bad(&none, "", "http or https URL");
    url_bad(&none, NULL, "http or https URL");
    char longer[JOB_CALLBACK_URL_MAX + 2];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer, "http://e.com/", 13);
    url_bad(&none, longer, "longer than");
    longer[JOB_CALLBACK_URL_MAX] = '\0'; /* exactly the maximum */
    url_ok(&none, longer, false, "e.com", 80, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_ranges),        cmocka_unit_test(test_ipv6_ranges),
        cmocka_unit_test(test_ipv6_carrying_ipv4), cmocka_unit_test(test_parse),
        cmocka_unit_test(test_allow_list),         cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
