/* The job between nodes (job_wire_*): every field survives the round trip,
 * bytes included (NULs, invalid UTF-8), with and without the steps; the
 * size bound refuses before building; anything but the shape is refused
 * and leaves *out untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/job.h"
#include "moat/util.h"

#include "job_fx.h"

/* A job with every member set to something other than its zero. */
static void full_job(struct job *j)
{
    *j = (struct job){.status = JOB_STATUS_COMPLETED,
                      .priority = 7,
                      .limits = {1, 2, 3, 4, 5, 6, 7, 8},
                      .attempts = 3,
                      .created_ms = 1700000000001,
                      .started_ms = 1700000000002,
                      .finished_ms = 1700000000003,
                      .compiled = true};
    moat_strlcpy(j->id, "0190f3a4-7b1c-7def-8abc-0123456789ab", sizeof(j->id));
    moat_strlcpy(j->language, "cpp", sizeof(j->language));
    moat_strlcpy(j->language_given, "c++", sizeof(j->language_given));
    moat_strlcpy(j->version, "g++ 12.2", sizeof(j->version));
    moat_strlcpy(j->code_hash, "ab", sizeof(j->code_hash));
    moat_strlcpy(j->output_hash, "cd", sizeof(j->output_hash));
    j->nfiles = 2;
    j->files = calloc(2, sizeof(*j->files));
    assert_non_null(j->files);
    j->files[0] =
        (struct job_file){.name = strdup("main.cpp"), .data = dup_bytes("int\0main", 8), .len = 8};
    j->files[1] = (struct job_file){.name = strdup("a.h"), .data = dup_bytes("\xff\xfe", 2), .len = 2};
    j->stdin_data = dup_bytes("in\0put", 6);
    j->stdin_len = 6;
    j->nargs = 2;
    j->args = calloc(2, sizeof(char *));
    assert_non_null(j->args);
    j->args[0] = strdup("-x");
    j->args[1] = strdup("");
    j->judged = true;
    j->expected = dup_bytes("4\0 2\n", 5);
    j->expected_len = 5;
    j->compare = (struct job_compare_opts){.mode = JOB_COMPARE_FLOAT, .abs_tol = 0.25, .rel_tol = 1e-9};
    j->metadata_json = strdup("{\"k\":1}");
    j->tags_json = strdup("[\"t\"]");
    j->compile = (struct job_step){.verdict = JOB_VERDICT_OK,
                                   .wall_time_ms = 900,
                                   .cached = true,
                                   .err = dup_bytes("warn\n", 5),
                                   .err_len = 5};
    j->run = (struct job_step){.verdict = JOB_VERDICT_INTERNAL_ERROR,
                               .exit_code = -3,
                               .signal = 9,
                               .time_ms = 11,
                               .wall_time_ms = 12,
                               .memory_kb = 13,
                               .out = dup_bytes("o\0\xc3", 3),
                               .out_len = 3,
                               .err = dup_bytes("e", 1),
                               .err_len = 1,
                               .order = dup_bytes("\x02\0\0\0\x01\0\0\x80\x01\0\0\0", 12),
                               .order_len = 12, /* the compile step has none */
                               .out_truncated = true};
    moat_strlcpy(j->run.message, "box \xe2 lost", sizeof(j->run.message));
}

static void test_round_trip_with_result(void **state)
{
    (void)state;
    struct job j, back = {0};
    full_job(&j);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(job_wire_encode(&j, true, 1 << 20, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_int_equal(job_wire_decode(text, len, &back), 0);
    assert_request_equal(&j, &back, true);
    assert_true(back.compiled);
    assert_step_equal(&j.compile, &back.compile);
    assert_step_equal(&j.run, &back.run);
    free(text);
    job_release(&back);
    job_release(&j);
}

static void test_round_trip_request_only(void **state)
{
    (void)state;
    struct job j, back = {0};
    full_job(&j);
    j.nargs = 0; /* no args, no metadata: nulls and an empty array */
    free(j.args[0]);
    free(j.args[1]);
    free(j.args);
    j.args = NULL;
    free(j.metadata_json);
    j.metadata_json = NULL;
    free(j.expected); /* not judged */
    j.expected = NULL;
    j.expected_len = 0;
    j.judged = false;
    j.compare = (struct job_compare_opts){0};
    j.files[0].name = (free(j.files[0].name), NULL);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(job_wire_encode(&j, false, 1 << 20, &text, &len), 0);
    assert_null(strstr(text, "\"run\""));
    assert_int_equal(job_wire_decode(text, len, &back), 0);
    assert_request_equal(&j, &back, true);
    assert_null(back.files[0].name);
    assert_null(back.metadata_json);
    assert_false(back.compiled);
    assert_int_equal(back.run.verdict, JOB_VERDICT_NONE);
    assert_null(back.run.out);
    free(text);
    job_release(&back);
    job_release(&j);
}

static void test_bound(void **state)
{
    (void)state;
    struct job j;
    full_job(&j);
    char *text = NULL;
    size_t len = 0;
    /* the bytes alone (8 + 2 + 6 + outputs) pass 8 bytes: nothing built */
    assert_int_equal(job_wire_encode(&j, true, 8, &text, &len), -E2BIG);
    assert_null(text);
    assert_null(job_wire_json(&j, true, 8));
    /* the bytes fit, the JSON around them does not */
    assert_int_equal(job_wire_encode(&j, false, 64, &text, &len), -E2BIG);
    assert_null(text);
    job_release(&j);
}

/* Each text: refused, *out as it was. */
static void refuse(const char *text)
{
    struct job out = {.priority = 42};
    assert_int_equal(job_wire_decode(text, strlen(text), &out), -EINVAL);
    assert_int_equal(out.priority, 42);
    assert_null(out.files);
}

static void test_refusals(void **state)
{
    (void)state;
    struct job j;
    full_job(&j);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(job_wire_encode(&j, true, 1 << 20, &text, &len), 0);
    job_release(&j);
    refuse("");
    refuse("[]");
    refuse("{\"v\":1}");
    /* one field at a time made wrong in a good text */
    static const char *const swaps[][2] = {
        {"\"v\":1", "\"v\":2"},
        {"\"priority\":7", "\"priority\":11"},
        {"\"status\":2", "\"status\":9"},
        {"\"language\":\"cpp\"", "\"language\":\"this-name-is-longer-than-the-field-holds\""},
        {"\"language\":\"cpp\"", "\"language\":\"c\\u0000p\""},
        {"\"stdin\":\"aW4AcHV0\"", "\"stdin\":\"aW4AcHV0!\""},
        {"\"limits\":[1,2,3,4,5,6,7,8]", "\"limits\":[1,2,3,4,5,6,7]"},
        {"\"limits\":[1,2,3,4,5,6,7,8]", "\"limits\":[1,2,3,4,5,6,7,-8]"},
        {"\"compiled\":true", "\"compiled\":1"},
        {"\"signal\":9", "\"signal\":\"9\""},
        {"\"mode\":3", "\"mode\":4"},
        {"\"abs\":0.25", "\"abs\":-0.25"},
    };
    for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
        const char *at = strstr(text, swaps[i][0]);
        assert_non_null(at);
        size_t pre = (size_t)(at - text), old = strlen(swaps[i][0]), neu = strlen(swaps[i][1]);
        char *bad = malloc(len - old + neu + 1);
        assert_non_null(bad);
        memcpy(bad, text, pre);
        memcpy(bad + pre, swaps[i][1], neu);
        memcpy(bad + pre + neu, at + old, len - pre - old + 1);
        refuse(bad);
        free(bad);
    }
    free(text);
}

/* Tests: what each asks survives (stdin with a NUL, args given or not, an
 * empty expected output judged, limits), and what each gave; in the store's
 * two blobs and in the job between nodes. */
static void add_tests(struct job *j)
{
    j->ntests = 3;
    j->tests = calloc(3, sizeof(*j->tests));
    assert_non_null(j->tests);
    j->stop_on_failure = true;
    struct job_test *t = j->tests;
    t[0] = (struct job_test){.stdin_data = dup_bytes("1\0 2", 4), .stdin_len = 4, .judged = true,
                             .expected = dup_bytes("3\n", 2), .expected_len = 2, .time_ms = 500};
    t[1] = (struct job_test){.stdin_data = dup_bytes("", 0), .judged = true, .expected = dup_bytes("", 0),
                             .memory_mb = 64};
    t[1].args = calloc(2, sizeof(char *));
    assert_non_null(t[1].args);
    t[1].args[0] = strdup("--x");
    t[1].nargs = 1;
    t[2] = (struct job_test){.stdin_data = dup_bytes("z", 1), .stdin_len = 1};
    t[0].result = (struct job_step){.verdict = JOB_VERDICT_ACCEPTED, .time_ms = 5,
                                    .out = dup_bytes("3\n", 2), .out_len = 2};
    t[1].result = (struct job_step){.verdict = JOB_VERDICT_WRONG_ANSWER, .exit_code = 0,
                                    .out = dup_bytes("\xff", 1), .out_len = 1};
    t[2].result = (struct job_step){.verdict = JOB_VERDICT_SKIPPED};
}

static void assert_tests_equal(const struct job *a, const struct job *b, bool results)
{
    assert_int_equal(a->ntests, b->ntests);
    for (size_t i = 0; i < a->ntests; i++) {
        const struct job_test *x = &a->tests[i], *y = &b->tests[i];
        assert_int_equal(x->stdin_len, y->stdin_len);
        assert_memory_equal(x->stdin_data, y->stdin_data, x->stdin_len);
        assert_int_equal(x->judged, y->judged);
        assert_int_equal(x->expected_len, y->expected_len);
        if (x->judged)
            assert_memory_equal(x->expected, y->expected, x->expected_len);
        assert_int_equal(x->args != NULL, y->args != NULL);
        assert_int_equal(x->nargs, y->nargs);
        for (size_t k = 0; k < x->nargs; k++)
            assert_string_equal(x->args[k], y->args[k]);
        assert_int_equal(x->time_ms, y->time_ms);
        assert_int_equal(x->memory_mb, y->memory_mb);
        if (results)
            assert_step_equal(&x->result, &y->result);
    }
}

static void test_tests_round_trip(void **state)
{
    (void)state;
    struct job j, back = {0};
    full_job(&j);
    add_tests(&j);
    /* the store's blobs: the spec, then the results into it */
    char *spec = NULL, *res = NULL;
    size_t ns = 0, nr = 0;
    assert_int_equal(job_tests_encode(&j, false, &spec, &ns), 0);
    assert_int_equal(job_tests_encode(&j, true, &res, &nr), 0);
    assert_int_equal(job_tests_decode(spec, ns, &back, false), 0);
    assert_tests_equal(&j, &back, false);
    assert_int_equal(back.tests[2].result.verdict, JOB_VERDICT_NONE);
    assert_int_equal(job_tests_decode(res, nr, &back, true), 0);
    assert_tests_equal(&j, &back, true);
    /* results of another count: refused */
    struct job two = {0};
    two.ntests = 2;
    two.tests = calloc(2, sizeof(*two.tests));
    assert_non_null(two.tests);
    assert_int_equal(job_tests_decode(res, nr, &two, true), -EINVAL);
    job_release(&two);
    job_release(&back);
    /* between nodes */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(job_wire_encode(&j, true, 1 << 20, &text, &len), 0);
    assert_int_equal(job_wire_decode(text, len, &back), 0);
    assert_true(back.stop_on_failure);
    assert_tests_equal(&j, &back, true);
    job_release(&back);
    /* a deep copy keeps what each asks, not what each gave */
    struct job copy;
    assert_int_equal(job_copy_request(&copy, &j), 0);
    assert_tests_equal(&j, &copy, false);
    assert_int_equal(copy.tests[0].result.verdict, JOB_VERDICT_NONE);
    job_release(&copy);
    free(text);
    free(spec);
    free(res);
    job_release(&j);
}

/* A job's callback travels with it (a final event read on another node
 * shows it as GET does); a job without one has no "callback" key; a bad
 * callback is refused. */
static void test_callback_round_trip(void **state)
{
    (void)state;
    struct job j, back = {0};
    full_job(&j);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(job_wire_encode(&j, true, 1 << 20, &text, &len), 0);
    assert_null(strstr(text, "\"callback\""));
    assert_int_equal(job_wire_decode(text, len, &back), 0);
    assert_string_equal(back.callback.url, "");
    assert_int_equal(back.callback.status, JOB_CALLBACK_NONE);
    free(text);
    job_release(&back);

    moat_strlcpy(j.callback.url, "https://example.com/h?x=1", sizeof(j.callback.url));
    j.callback.shape = JOB_CALLBACK_JUDGE0;
    j.callback.status = JOB_CALLBACK_FAILED;
    j.callback.attempts = 4;
    j.callback.delivered_ms = 0;
    j.callback.next_ms = 1700000000009;
    moat_strlcpy(j.callback.last_error, "the receiver answered 404", sizeof(j.callback.last_error));
    assert_int_equal(job_wire_encode(&j, true, 1 << 20, &text, &len), 0);
    assert_int_equal(job_wire_decode(text, len, &back), 0);
    assert_memory_equal(&back.callback, &j.callback, sizeof(j.callback));
    job_release(&back);
    static const char *const swaps[][2] = {
        {"\"status\":3,\"attempts\":4", "\"status\":0,\"attempts\":4"},
        {"\"status\":3,\"attempts\":4", "\"status\":4,\"attempts\":4"},
        {"\"shape\":1", "\"shape\":2"},
        {"\"url\":\"https://example.com/h?x=1\"", "\"url\":\"\""},
        {"\"url\":\"https://example.com/h?x=1\"", "\"url\":7"},
        {"\"next\":1700000000009", "\"next\":-1"},
        {"\"attempts\":4,\"delivered\"", "\"attempts\":4294967296,\"delivered\""},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(swaps); i++) {
        char *at = strstr(text, swaps[i][0]);
        if (!at)
            fail_msg("no %s in %s", swaps[i][0], text);
        size_t a = strlen(swaps[i][0]), b = strlen(swaps[i][1]);
        char *bad = malloc(len - a + b + 1);
        assert_non_null(bad);
        memcpy(bad, text, (size_t)(at - text));
        memcpy(bad + (at - text), swaps[i][1], b);
        memcpy(bad + (at - text) + b, at + a, strlen(at + a) + 1);
        refuse(bad);
        free(bad);
    }
    free(text);
    job_release(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_with_result),
        cmocka_unit_test(test_round_trip_request_only),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_tests_round_trip),
        cmocka_unit_test(test_callback_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
