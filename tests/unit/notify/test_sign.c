/*
 * The signature (against values computed independently: Python's hmac),
 * the backoff schedule, Retry-After, and what an answer means.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/notify.h"
#include "moat/util.h"

static void test_signature(void **state)
{
    (void)state;
    char sig[NOTIFY_SIGNATURE_MAX];
    /* python3 -c 'import hmac,hashlib;print(hmac.new(b"s3cret",b"1700000000.{\"a\":1}",
     *             hashlib.sha256).hexdigest())' */
    assert_int_equal(notify_signature("s3cret", 1700000000, "{\"a\":1}", 7, sig), 0);
    assert_string_equal(sig, "t=1700000000,v1="
                             "1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940");
}

static void test_signature_other_inputs(void **state)
{
    (void)state;
    char a[NOTIFY_SIGNATURE_MAX], b[NOTIFY_SIGNATURE_MAX];
    assert_int_equal(notify_signature("k", 1, "body", 4, a), 0);
    assert_int_equal(notify_signature("k", 2, "body", 4, b), 0);
    assert_string_not_equal(a + 4, b + 4); /* the time is signed */
    assert_int_equal(notify_signature("k", 1, "bodz", 4, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(notify_signature("l", 1, "body", 4, b), 0);
    assert_string_not_equal(a, b);
    /* bytes, not text: a NUL in the body is signed too */
    assert_int_equal(notify_signature("k", 1, "bo\0y", 4, a), 0);
    assert_int_equal(notify_signature("k", 1, "bo\0z", 4, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(notify_signature("", 0, "", 0, a), 0);
    assert_int_equal(strlen(a), strlen("t=0,v1=") + 64);
}

static void test_backoff(void **state)
{
    (void)state;
    /* base * 2^(n-1), capped, no jitter */
    const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (uint32_t n = 1; n <= 8; n++)
        assert_int_equal(notify_backoff_ms(1000, 60000, n, 1.0), want[n - 1]);
    /* jitter in [0.5, 1]: half at the low end; anything else is none */
    assert_int_equal(notify_backoff_ms(1000, 60000, 3, 0.5), 2000);
    assert_int_equal(notify_backoff_ms(1000, 60000, 3, 0.75), 3000);
    assert_int_equal(notify_backoff_ms(1000, 60000, 3, 0.2), 4000);
    assert_int_equal(notify_backoff_ms(1000, 60000, 3, 2.0), 4000);
    /* no overflow far out */
    assert_int_equal(notify_backoff_ms(UINT64_MAX / 4, UINT64_MAX / 2, 100, 1.0), UINT64_MAX / 2);
    assert_int_equal(notify_backoff_ms(1, 86400000, UINT32_MAX, 1.0), 86400000);
    assert_int_equal(notify_backoff_ms(5000, 1000, 1, 1.0), 1000); /* cap below base */
}

static void test_retry_after(void **state)
{
    (void)state;
    uint64_t ms = 1;
    assert_int_equal(notify_retry_after_ms("120", 0, &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(notify_retry_after_ms(" 0", 0, &ms), 0);
    assert_int_equal(ms, 0);
    /* an HTTP date: Tue, 14 Nov 2023 22:13:20 GMT is 1700000000 */
    assert_int_equal(notify_retry_after_ms("Tue, 14 Nov 2023 22:13:20 GMT", 1699999990, &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(notify_retry_after_ms("Tue, 14 Nov 2023 22:13:20 GMT", 1800000000, &ms), 0);
    assert_int_equal(ms, 0); /* in the past: now */
    const char *bad[] = {"", "-1", "1.5", "soon", "99999999999", "Tue, 14 Nov 2023", NULL};
    for (size_t i = 0; bad[i]; i++) {
        ms = 7;
        if (notify_retry_after_ms(bad[i], 0, &ms) != -EINVAL)
            fail_msg("accepted Retry-After \"%s\"", bad[i]);
        assert_int_equal(ms, 7);
    }
    assert_int_equal(notify_retry_after_ms(NULL, 0, &ms), -EINVAL);
}

static void test_verdicts(void **state)
{
    (void)state;
    const struct {
        long status;
        enum notify_verdict v;
    } t[] = {
        {0, NOTIFY_RETRY},       {199, NOTIFY_FAIL},      {200, NOTIFY_DELIVERED},
        {204, NOTIFY_DELIVERED}, {299, NOTIFY_DELIVERED}, {300, NOTIFY_FAIL},
        {301, NOTIFY_FAIL},      {400, NOTIFY_FAIL},      {401, NOTIFY_FAIL},
        {404, NOTIFY_FAIL},      {408, NOTIFY_RETRY},     {410, NOTIFY_FAIL},
        {429, NOTIFY_RETRY},     {499, NOTIFY_FAIL},      {500, NOTIFY_RETRY},
        {503, NOTIFY_RETRY},     {599, NOTIFY_RETRY},     {600, NOTIFY_FAIL},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(t); i++)
        if (notify_verdict_of(t[i].status) != t[i].v)
            fail_msg("status %ld: verdict %d, want %d", t[i].status,
                     (int)notify_verdict_of(t[i].status), (int)t[i].v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature), cmocka_unit_test(test_signature_other_inputs),
        cmocka_unit_test(test_backoff),   cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
