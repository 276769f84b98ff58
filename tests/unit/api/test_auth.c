/* auth-rules.c: the decision table of who a caller is, when anonymous
 * callers are served, the open routes, the lists of origins and
 * languages, and the jobs-per-minute bucket's exact accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "auth.h"
#include "moat/config.h"

static void test_decision_table(void **state)
{
    (void)state;
    /* given, found, malformed, anonymous_ok, any_keys -> caller */
    static const struct {
        bool given, found, malformed, anon, any;
        enum api_caller want;
    } rows[] = {
        {true, true, false, false, true, API_CALLER_KEYED},
        {true, true, false, true, true, API_CALLER_KEYED},
        {true, false, false, false, true, API_CALLER_INVALID},
        {true, false, false, true, true, API_CALLER_INVALID}, /* checked where anonymous */
        {false, false, true, true, true, API_CALLER_INVALID}, /* Authorization: Basic ... */
        {false, false, true, false, true, API_CALLER_INVALID},
        {true, true, true, true, true, API_CALLER_INVALID},
        {false, false, false, true, true, API_CALLER_ANONYMOUS},
        {false, false, false, false, true, API_CALLER_MISSING},
        /* no key exists: ignored where anonymous callers are served */
        {true, false, false, true, false, API_CALLER_ANONYMOUS},
        {false, false, true, true, false, API_CALLER_ANONYMOUS},
        {false, false, false, true, false, API_CALLER_ANONYMOUS},
        {true, false, false, false, false, API_CALLER_INVALID},
        {false, false, true, false, false, API_CALLER_INVALID},
        {false, false, false, false, false, API_CALLER_MISSING},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(api_auth_decide(rows[i].given, rows[i].found, rows[i].malformed,
                                         rows[i].anon, rows[i].any),
                         rows[i].want);
}

static void test_anonymous(void **state)
{
    (void)state;
    struct moat_config cfg;
    config_defaults(&cfg);
    assert_true(api_anonymous_ok(&cfg, true, 0));   /* loopback, no key: as ever */
    assert_false(api_anonymous_ok(&cfg, true, 1));  /* a key exists: keys needed */
    assert_false(api_anonymous_ok(&cfg, false, 0)); /* a public address */
    cfg.require_keys = true;
    assert_false(api_anonymous_ok(&cfg, true, 0));
    cfg.allow_anonymous = true;
    assert_true(api_anonymous_ok(&cfg, false, 0));
    assert_true(api_anonymous_ok(&cfg, false, 5));
    assert_true(api_anonymous_ok(&cfg, true, 5));
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(api_listen_loopback("127.0.0.1:8080"));
    assert_true(api_listen_loopback("127.9.8.7:0"));
    assert_true(api_listen_loopback("[::1]:8080"));
    assert_false(api_listen_loopback("0.0.0.0:8080"));
    assert_false(api_listen_loopback(":8080"));
    assert_false(api_listen_loopback("[::]:8080"));
    assert_false(api_listen_loopback("10.0.0.1:80"));
    assert_false(api_listen_loopback("128.0.0.1:80"));
    assert_false(api_listen_loopback("[::ffff:127.0.0.1]:80"));
    assert_false(api_listen_loopback("localhost:80"));
    assert_false(api_listen_loopback(""));
}

static void test_bearer(void **state)
{
    (void)state;
    assert_string_equal(api_bearer_token("Bearer moat_abc"), "moat_abc");
    assert_string_equal(api_bearer_token("bearer moat_abc"), "moat_abc");
    assert_string_equal(api_bearer_token("BEARER   moat_abc"), "moat_abc");
    assert_null(api_bearer_token("Bearer"));
    assert_null(api_bearer_token("Bearer "));
    assert_null(api_bearer_token("Bearer  "));
    assert_null(api_bearer_token("Bearermoat_abc"));
    assert_null(api_bearer_token("Basic eDp5"));
    assert_null(api_bearer_token("Bearer a b"));
    assert_null(api_bearer_token("Bear"));
    assert_null(api_bearer_token(""));
    assert_null(api_bearer_token("Bearer\tmoat_abc"));
}

static void test_open_paths(void **state)
{
    (void)state;
    assert_true(api_open_path("/healthz"));
    assert_true(api_open_path("/readyz"));
    assert_true(api_open_path("/metrics"));
    assert_false(api_open_path("/healthz/"));
    assert_false(api_open_path("/v1/jobs"));
    assert_false(api_open_path("/openapi.yaml"));
    assert_false(api_open_path("/metricsx"));
}

static void test_lists(void **state)
{
    (void)state;
    const char *origins = "https://a.example, https://b.example:8443";
    assert_true(api_origin_allowed(origins, "https://a.example"));
    assert_true(api_origin_allowed(origins, "https://b.example:8443"));
    assert_false(api_origin_allowed(origins, "https://b.example"));
    assert_false(api_origin_allowed(origins, "https://a.example.evil"));
    assert_false(api_origin_allowed(origins, "http://a.example"));
    assert_false(api_origin_allowed(origins, ""));
    assert_false(api_origin_allowed("", "https://a.example"));
    assert_true(api_origin_allowed("*", "https://any.example"));
    assert_true(api_origin_allowed("https://x, *", "null"));
    assert_true(api_language_allowed("", "bash"));
    assert_true(api_language_allowed("python,c", "c"));
    assert_true(api_language_allowed("python,c", "python"));
    assert_false(api_language_allowed("python,c", "cpp"));
    assert_false(api_language_allowed("python,c", "pytho"));
    assert_false(api_language_allowed("*", "c")); /* no wildcard for languages */
}

#define S 1000000LL /* us */

static void test_rate_burst_then_steady(void **state)
{
    (void)state;
    int64_t tat = 0, now = 1000 * S;
    struct api_rate r;
    /* 3 per minute: a burst of 3, remaining 2, 1, 0 */
    for (uint64_t i = 0; i < 3; i++) {
        assert_true(api_rate_take(&tat, 3, now, &r));
        assert_int_equal(r.limit, 3);
        assert_int_equal(r.remaining, 2 - i);
        assert_int_equal(r.reset_s, 20 * (i + 1));
    }
    /* the fourth at once: refused, the next in 20 s, full in 60 s */
    int64_t before = tat;
    assert_false(api_rate_take(&tat, 3, now, &r));
    assert_int_equal(tat, before);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after_s, 20);
    assert_int_equal(r.reset_s, 60);
    /* 19.5 s later: still refused (retry in 1 s); at 20 s: one more */
    assert_false(api_rate_take(&tat, 3, now + 19 * S + S / 2, &r));
    assert_int_equal(r.retry_after_s, 1);
    assert_true(api_rate_take(&tat, 3, now + 20 * S, &r));
    assert_int_equal(r.remaining, 0);
    assert_false(api_rate_take(&tat, 3, now + 20 * S, &r));
    /* idle for minutes: a whole burst again, never more */
    now += 600 * S;
    int taken = 0;
    while (api_rate_take(&tat, 3, now, &r))
        taken++;
    assert_int_equal(taken, 3);
}

static void test_rate_exact_count(void **state)
{
    (void)state;
    /* n at one instant: exactly per_minute taken, for any per_minute */
    static const uint64_t limits[] = {1, 2, 7, 60, 61, 1000, 1000000};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        int64_t tat = 0;
        struct api_rate r;
        uint64_t taken = 0;
        for (uint64_t k = 0; k < limits[i] + 10; k++)
            taken += api_rate_take(&tat, limits[i], 5 * S, &r);
        assert_int_equal(taken, limits[i]);
        assert_true(r.retry_after_s >= 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_anonymous),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_open_paths),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_rate_burst_then_steady),
        cmocka_unit_test(test_rate_exact_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
