/* job_step_to_json: the exact field set, order and types of a step result,
 * and the exact text of the example of the design. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>

#include "moat/job.h"
#include "moat/util.h"

#include "../json_keys.h"


#define BASE_KEYS                                                                                  \
    "verdict,exitCode,signal,timeMs,wallTimeMs,memoryKb,stdout,stderr,stdoutTruncated,"            \
    "stderrTruncated"

static void test_design_example_exact(void **state)
{
    (void)state;
    struct job_step s = {
        .verdict = JOB_VERDICT_OK, .time_ms = 12, .wall_time_ms = 15, .memory_kb = 8123};
    s.out = moat_strdup("4\n");
    s.out_len = 2;
    json_t *o = job_step_to_json(&s, false);
    assert_non_null(o);
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    assert_non_null(text);
    /* The result of the design, compact, followed by "error": null. */
    assert_string_equal(text, "{\"verdict\":\"ok\",\"exitCode\":0,\"signal\":null,"
                              "\"timeMs\":12,\"wallTimeMs\":15,\"memoryKb\":8123,"
                              "\"stdout\":\"4\\n\",\"stderr\":\"\",\"stdoutTruncated\":false,"
                              "\"stderrTruncated\":false,\"error\":null}");
    free(text);
    /* JSON_PRESERVE_ORDER changes nothing: insertion order is the order. */
    char *a = json_dumps(o, JOB_JSON_DUMP_FLAGS | JSON_PRESERVE_ORDER);
    char *b = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(o);
    job_step_release(&s);
}

static void test_ok_types(void **state)
{
    (void)state;
    struct job_step s = {.verdict = JOB_VERDICT_OK,
                         .time_ms = 1,
                         .wall_time_ms = 2,
                         .memory_kb = 3,
                         .out_truncated = true};
    json_t *o = job_step_to_json(&s, false);
    assert_non_null(o);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS ",error");
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "ok");
    assert_true(json_is_integer(json_object_get(o, "exitCode")));
    assert_true(json_is_null(json_object_get(o, "signal")));
    assert_int_equal(json_integer_value(json_object_get(o, "timeMs")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "wallTimeMs")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "memoryKb")), 3);
    assert_true(json_is_string(json_object_get(o, "stdout")));
    assert_true(json_is_string(json_object_get(o, "stderr")));
    assert_true(json_is_true(json_object_get(o, "stdoutTruncated")));
    assert_true(json_is_false(json_object_get(o, "stderrTruncated")));
    assert_true(json_is_null(json_object_get(o, "error")));
    json_decref(o);
}

static void test_signal(void **state)
{
    (void)state;
    struct job_step s = {
        .verdict = JOB_VERDICT_RUNTIME_ERROR, .exit_code = 128 + SIGSEGV, .signal = SIGSEGV};
    s.err = moat_strdup("Segmentation fault\n");
    s.err_len = strlen(s.err);
    json_t *o = job_step_to_json(&s, false);
    assert_non_null(o);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS ",error");
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "runtime_error");
    assert_int_equal(json_integer_value(json_object_get(o, "exitCode")), 139);
    assert_string_equal(json_string_value(json_object_get(o, "signal")), "SIGSEGV");
    assert_string_equal(json_string_value(json_object_get(o, "stderr")), "Segmentation fault\n");
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "Runtime Error (SIGSEGV: segmentation fault)");
    json_decref(o);
    job_step_release(&s);
}

static void test_compile_cached(void **state)
{
    (void)state;
    struct job_step s = {.verdict = JOB_VERDICT_OK, .cached = true};
    json_t *o = job_step_to_json(&s, true);
    assert_non_null(o);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS ",cached,error");
    assert_true(json_is_true(json_object_get(o, "cached")));
    json_decref(o);

    /* A failed compile: cached false, its stderr repaired, not a run step. */
    struct job_step c = {.verdict = JOB_VERDICT_COMPILE_ERROR, .exit_code = 1};
    c.err = moat_strdup("main.c:1: error: \xFF\n");
    c.err_len = strlen(c.err);
    o = job_step_to_json(&c, true);
    assert_non_null(o);
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS ",cached,error");
    assert_true(json_is_false(json_object_get(o, "cached")));
    assert_string_equal(json_string_value(json_object_get(o, "stderr")),
                        "main.c:1: error: \xEF\xBF\xBD\n");
    assert_string_equal(json_string_value(json_object_get(o, "error")), "Compilation Error");
    json_decref(o);
    job_step_release(&c);

    /* "cached" belongs to compile steps only. */
    o = job_step_to_json(&s, false);
    assert_null(json_object_get(o, "cached"));
    json_decref(o);
}

static void test_internal_error_message(void **state)
{
    (void)state;
    struct job_step s = {.verdict = JOB_VERDICT_INTERNAL_ERROR};
    (void)moat_strlcpy(s.message, "cgroup \xC3 vanished", sizeof(s.message));
    json_t *o = job_step_to_json(&s, false);
    assert_non_null(o);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS ",error,message");
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "internal_error");
    assert_string_equal(json_string_value(json_object_get(o, "message")),
                        "cgroup \xEF\xBF\xBD vanished");
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "Internal Error (cgroup \xEF\xBF\xBD vanished)");
    json_decref(o);

    /* Only internal_error carries the message, whatever the field holds. */
    s.verdict = JOB_VERDICT_TIME_LIMIT;
    s.exit_code = 124;
    o = job_step_to_json(&s, false);
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS ",error");
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "Time Limit Exceeded (program ran too long)");
    json_decref(o);
}

static void test_numbers_clamped_and_output_with_nul(void **state)
{
    (void)state;
    struct job_step s = {.verdict = JOB_VERDICT_MEMORY_LIMIT,
                         .time_ms = UINT64_MAX,
                         .wall_time_ms = (uint64_t)INT64_MAX + 1,
                         .memory_kb = 131072};
    s.out = malloc(3);
    assert_non_null(s.out);
    memcpy(s.out, "a\0b", 3);
    s.out_len = 3;
    json_t *o = job_step_to_json(&s, false);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "timeMs")), INT64_MAX);
    assert_int_equal(json_integer_value(json_object_get(o, "wallTimeMs")), INT64_MAX);
    assert_int_equal(json_integer_value(json_object_get(o, "memoryKb")), 131072);
    assert_int_equal(json_string_length(json_object_get(o, "stdout")), 3);
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    assert_non_null(strstr(text, "\"stdout\":\"a\\u0000b\""));
    free(text);
    json_decref(o);
    job_step_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example_exact),
        cmocka_unit_test(test_ok_types),
        cmocka_unit_test(test_signal),
        cmocka_unit_test(test_compile_cached),
        cmocka_unit_test(test_internal_error_message),
        cmocka_unit_test(test_numbers_clamped_and_output_with_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
