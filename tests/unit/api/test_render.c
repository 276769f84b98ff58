/* api_job_json and api_job_json_seed000: the key order of API.md and of
 * seed 000's examples, the result fields of every final state, and bytes
 * that are not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "moat/util.h"

#include "../json_keys.h"

#define T0 1795298400000LL /* 2026-11-21T22:00:00.000Z */
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f"

#define BASE_KEYS                                                                                  \
    "jobId,status,language,version,priority,attempts,tags,metadata,createdAt,startedAt,"           \
    "finishedAt,codeHash,outputHash,compare"
#define RESULT_KEYS                                                                                \
    ",verdict,exitCode,signal,error,timeMs,wallTimeMs,memoryKb,output,stderr,stdoutTruncated,"     \
    "stderrTruncated,stdoutOmitted,stderrOmitted,compile"

static void set_bytes(char **dst, size_t *len, const char *data, size_t n)
{
    *dst = malloc(n + 1);
    assert_non_null(*dst);
    memcpy(*dst, data, n);
    (*dst)[n] = '\0';
    *len = n;
}

/* A job as the store hands it back, in the given state. */
static void make_job(struct job *j, enum job_status status)
{
    *j = (struct job){0};
    moat_strlcpy(j->id, ID, sizeof(j->id));
    j->status = status;
    moat_strlcpy(j->language, "python", sizeof(j->language));
    moat_strlcpy(j->language_given, "py", sizeof(j->language_given));
    moat_strlcpy(j->version, "3.11.2", sizeof(j->version));
    j->priority = 5;
    j->created_ms = T0;
    moat_strlcpy(j->code_hash, HASH_A, sizeof(j->code_hash));
    if (status != JOB_STATUS_QUEUED) {
        j->attempts = 1;
        j->started_ms = T0 + 120;
    }
    if (job_status_final(status)) {
        j->finished_ms = T0 + 1500;
        moat_strlcpy(j->output_hash, HASH_B, sizeof(j->output_hash));
    }
}

static char *dump(const json_t *o)
{
    assert_non_null(o);
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS | JSON_ENCODE_ANY);
    assert_non_null(text);
    return text;
}

static void test_format_time(void **state)
{
    (void)state;
    char t[32];
    api_format_time(T0, t);
    assert_string_equal(t, "2026-11-21T22:00:00.000Z");
    api_format_time(T0 + 86399999, t);
    assert_string_equal(t, "2026-11-22T21:59:59.999Z");
    api_format_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    api_format_time(-1, t);
    assert_string_equal(t, "1969-12-31T23:59:59.999Z");
    api_format_time(INT64_MAX, t); /* no year of four digits: the epoch, not garbage */
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
}

/* The answer of an accepted submission, printed without jansson: the same
 * bytes as the object jansson dumps, for every shape that answers with it. */
static void test_accepted_text(void **state)
{
    (void)state;
    char out[128];
    static const struct {
        enum api_shape shape;
        const char *key;
    } cases[] = {{API_SHAPE_NATIVE, "jobId"},
                 {API_SHAPE_SEED002, "task_id"},
                 {API_SHAPE_SEED004, "jobId"},
                 {API_SHAPE_SEED004_PROBLEM, "jobId"}};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        json_t *o = json_pack("{s:s, s:s}", cases[i].key, ID, "status", "queued");
        char *want = dump(o);
        size_t n = api_accepted_text(cases[i].shape, ID, out, sizeof(out));
        assert_int_equal(n, strlen(want));
        assert_string_equal(out, want);
        free(want);
        json_decref(o);
    }
    /* seed 000 answers with the record; no text for a shape that has none */
    assert_int_equal(api_accepted_text(API_SHAPE_SEED000, ID, out, sizeof(out)), 0);
    /* never anything that would need escaping, nor a cut answer */
    assert_int_equal(api_accepted_text(API_SHAPE_NATIVE, "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6\"",
                                       out, sizeof(out)),
                     0);
    assert_int_equal(api_accepted_text(API_SHAPE_NATIVE, ID, out, 40), 0);
}

static void test_queued(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_QUEUED);
    json_t *o = api_job_json(&j);
    char *text = dump(o);
    assert_string_equal(text, "{\"jobId\":\"" ID "\",\"status\":\"queued\",\"language\":\"python\","
                              "\"version\":\"3.11.2\",\"priority\":5,\"attempts\":0,\"tags\":[],"
                              "\"metadata\":{},\"createdAt\":\"2026-11-21T22:00:00.000Z\","
                              "\"startedAt\":null,\"finishedAt\":null,\"codeHash\":\"" HASH_A "\","
                              "\"outputHash\":null,\"compare\":null}");
    free(text);
    json_decref(o);
    job_release(&j);
}

static void test_running_with_tags_and_metadata(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_RUNNING);
    j.tags_json = moat_strdup("[\"a\",\"b\"]");
    j.metadata_json = moat_strdup("{\"user\":\"ann\",\"n\":[1,2],\"z\":\"\\u0000\"}");
    j.version[0] = '\0';
    json_t *o = api_job_json(&j);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "running");
    assert_string_equal(json_string_value(json_object_get(o, "startedAt")),
                        "2026-11-21T22:00:00.120Z");
    assert_true(json_is_null(json_object_get(o, "version")));
    char *tags = dump(json_object_get(o, "tags"));
    assert_string_equal(tags, "[\"a\",\"b\"]");
    free(tags);
    char *meta = dump(json_object_get(o, "metadata"));
    assert_string_equal(meta, "{\"user\":\"ann\",\"n\":[1,2],\"z\":\"\\u0000\"}");
    free(meta);
    json_decref(o);
    /* stored text that is not what it should be does not break the job */
    free(j.tags_json);
    j.tags_json = moat_strdup("{\"not\":\"an array\"}");
    free(j.metadata_json);
    j.metadata_json = moat_strdup("not json");
    o = api_job_json(&j);
    assert_int_equal(json_array_size(json_object_get(o, "tags")), 0);
    assert_int_equal(json_object_size(json_object_get(o, "metadata")), 0);
    json_decref(o);
    job_release(&j);
}

/* API.md's example, exactly. */
static void test_completed_ok(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_COMPLETED);
    j.run = (struct job_step){
        .verdict = JOB_VERDICT_OK, .time_ms = 12, .wall_time_ms = 15, .memory_kb = 8123};
    set_bytes(&j.run.out, &j.run.out_len, "4\n", 2);
    json_t *o = api_job_json(&j);
    char *text = dump(o);
    assert_string_equal(
        text, "{\"jobId\":\"" ID "\",\"status\":\"completed\",\"language\":\"python\","
              "\"version\":\"3.11.2\",\"priority\":5,\"attempts\":1,\"tags\":[],\"metadata\":{},"
              "\"createdAt\":\"2026-11-21T22:00:00.000Z\","
              "\"startedAt\":\"2026-11-21T22:00:00.120Z\","
              "\"finishedAt\":\"2026-11-21T22:00:01.500Z\",\"codeHash\":\"" HASH_A "\","
              "\"outputHash\":\"" HASH_B "\",\"compare\":null,\"verdict\":\"ok\",\"exitCode\":0,\"signal\":null,"
              "\"error\":null,\"timeMs\":12,\"wallTimeMs\":15,\"memoryKb\":8123,"
              "\"output\":\"4\\n\",\"stderr\":\"\",\"stdoutTruncated\":false,"
              "\"stderrTruncated\":false,\"stdoutOmitted\":0,\"stderrOmitted\":0,"
              "\"compile\":null}");
    free(text);
    json_decref(o);
    job_release(&j);
}

static void test_time_limit(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_COMPLETED);
    j.run = (struct job_step){.verdict = JOB_VERDICT_TIME_LIMIT,
                              .exit_code = 124,
                              .signal = SIGKILL,
                              .time_ms = 3001,
                              .wall_time_ms = 3010,
                              .out_truncated = true};
    set_bytes(&j.run.out, &j.run.out_len, "partial", 7);
    json_t *o = api_job_json(&j);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS RESULT_KEYS);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "time_limit");
    assert_int_equal(json_integer_value(json_object_get(o, "exitCode")), 124);
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "Time Limit Exceeded (program ran too long)");
    assert_string_equal(json_string_value(json_object_get(o, "signal")), "SIGKILL");
    assert_int_equal(json_integer_value(json_object_get(o, "timeMs")), 3001);
    assert_string_equal(json_string_value(json_object_get(o, "output")), "partial");
    assert_true(json_is_true(json_object_get(o, "stdoutTruncated")));
    json_decref(o);
    job_release(&j);
}

static void test_runtime_error(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_COMPLETED);
    j.run = (struct job_step){
        .verdict = JOB_VERDICT_RUNTIME_ERROR, .exit_code = 139, .signal = SIGSEGV};
    set_bytes(&j.run.err, &j.run.err_len, "boom\n", 5);
    json_t *o = api_job_json(&j);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "runtime_error");
    assert_string_equal(json_string_value(json_object_get(o, "signal")), "SIGSEGV");
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "Runtime Error (SIGSEGV: segmentation fault)");
    assert_string_equal(json_string_value(json_object_get(o, "stderr")), "boom\n");
    assert_string_equal(json_string_value(json_object_get(o, "output")), "");
    json_decref(o);
    job_release(&j);
}

static void test_compile_error(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_COMPLETED);
    moat_strlcpy(j.language, "cpp", sizeof(j.language));
    j.compiled = true;
    j.compile = (struct job_step){.verdict = JOB_VERDICT_COMPILE_ERROR,
                                  .exit_code = 1,
                                  .time_ms = 400,
                                  .wall_time_ms = 450,
                                  .memory_kb = 60000};
    set_bytes(&j.compile.err, &j.compile.err_len, "main.cpp:1: error\n", 18);
    j.run = (struct job_step){.verdict = JOB_VERDICT_COMPILE_ERROR, .exit_code = 1};
    j.output_hash[0] = '\0';
    json_t *o = api_job_json(&j);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS RESULT_KEYS);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "compile_error");
    assert_string_equal(json_string_value(json_object_get(o, "error")), "Compilation Error");
    assert_true(json_is_null(json_object_get(o, "outputHash")));
    json_t *c = json_object_get(o, "compile");
    assert_true(json_is_object(c));
    /* the compile step's object, as job_step_to_json makes it, with what
     * the API's clipping left out */
    json_t *want = job_step_to_json(&j.compile, true);
    json_object_set_new(want, "stdoutOmitted", json_integer(0)); /* steals */
    json_object_set_new(want, "stderrOmitted", json_integer(0)); /* steals */
    assert_true(json_equal(c, want));
    json_decref(want);
    assert_string_equal(json_string_value(json_object_get(c, "stderr")), "main.cpp:1: error\n");
    assert_true(json_is_false(json_object_get(c, "cached")));
    json_decref(o);

    /* a compiled language that ran: compile holds the (cached) step */
    job_step_release(&j.compile);
    job_step_release(&j.run);
    j.compile = (struct job_step){.verdict = JOB_VERDICT_OK, .cached = true};
    j.run = (struct job_step){.verdict = JOB_VERDICT_OK};
    o = api_job_json(&j);
    c = json_object_get(o, "compile");
    assert_string_equal(json_string_value(json_object_get(c, "verdict")), "ok");
    assert_true(json_is_true(json_object_get(c, "cached")));
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "ok");
    json_decref(o);
    job_release(&j);
}

/* api_job_clipped: each stream, run and compile, holds at most max bytes
 * in the JSON, and the rest is counted, never lost from the job itself. */
static void test_clipped_streams(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_COMPLETED);
    j.compiled = true;
    j.run = (struct job_step){.verdict = JOB_VERDICT_OK};
    j.compile = (struct job_step){.verdict = JOB_VERDICT_OK};
    set_bytes(&j.run.out, &j.run.out_len, "0123456789", 10);
    set_bytes(&j.run.err, &j.run.err_len, "abc", 3);
    set_bytes(&j.compile.err, &j.compile.err_len, "warning: long", 13);
    struct job v = api_job_clipped(&j, 4);
    assert_int_equal(j.run.out_len, 10); /* the job is untouched */
    json_t *o = api_job_json(&v);
    assert_string_equal(json_string_value(json_object_get(o, "output")), "0123");
    assert_int_equal(json_integer_value(json_object_get(o, "stdoutOmitted")), 6);
    assert_string_equal(json_string_value(json_object_get(o, "stderr")), "abc");
    assert_int_equal(json_integer_value(json_object_get(o, "stderrOmitted")), 0);
    json_t *c = json_object_get(o, "compile");
    assert_string_equal(json_string_value(json_object_get(c, "stderr")), "warn");
    assert_int_equal(json_integer_value(json_object_get(c, "stderrOmitted")), 9);
    assert_int_equal(json_integer_value(json_object_get(c, "stdoutOmitted")), 0);
    json_decref(o);
    /* a cut inside a multi-byte character is repaired, not invalid JSON */
    job_step_release(&j.run);
    j.run = (struct job_step){.verdict = JOB_VERDICT_OK};
    set_bytes(&j.run.out, &j.run.out_len, "a\xc3\xa9", 3);
    v = api_job_clipped(&j, 2);
    o = api_job_json(&v);
    assert_string_equal(json_string_value(json_object_get(o, "output")), "a\xef\xbf\xbd");
    assert_int_equal(json_integer_value(json_object_get(o, "stdoutOmitted")), 1);
    json_decref(o);
    job_release(&j);
}

static void test_cancelled(void **state)
{
    (void)state;
    struct job j;
    /* cancelled while queued: nothing ran */
    make_job(&j, JOB_STATUS_CANCELLED);
    j.started_ms = 0;
    j.attempts = 0;
    j.output_hash[0] = '\0';
    json_t *o = api_job_json(&j);
    char keys[512];
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, BASE_KEYS RESULT_KEYS);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "cancelled");
    assert_true(json_is_null(json_object_get(o, "verdict")));
    assert_true(json_is_null(json_object_get(o, "exitCode")));
    assert_true(json_is_null(json_object_get(o, "signal")));
    assert_true(json_is_null(json_object_get(o, "startedAt")));
    assert_string_equal(json_string_value(json_object_get(o, "error")), "Cancelled");
    assert_string_equal(json_string_value(json_object_get(o, "output")), "");
    json_decref(o);

    /* killed while running: still no verdict of its own */
    j.run = (struct job_step){
        .verdict = JOB_VERDICT_CANCELLED, .exit_code = 137, .signal = SIGKILL, .time_ms = 50};
    o = api_job_json(&j);
    assert_true(json_is_null(json_object_get(o, "verdict")));
    assert_true(json_is_null(json_object_get(o, "signal")));
    assert_int_equal(json_integer_value(json_object_get(o, "timeMs")), 50);
    json_decref(o);

    /* cancelled after its run had finished: the run's verdict stands */
    j.run = (struct job_step){.verdict = JOB_VERDICT_OK};
    o = api_job_json(&j);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "ok");
    assert_true(json_is_null(json_object_get(o, "error")));
    json_decref(o);
    job_release(&j);
}

static void test_failed(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_FAILED);
    j.attempts = 3;
    j.output_hash[0] = '\0';
    j.run = (struct job_step){.verdict = JOB_VERDICT_INTERNAL_ERROR};
    moat_strlcpy(j.run.message, "box died", sizeof(j.run.message));
    json_t *o = api_job_json(&j);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "internal_error");
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "Internal Error (box died)");
    assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 3);
    json_decref(o);
    /* whatever the stored step says, a failed job is an internal error */
    j.run.verdict = JOB_VERDICT_NONE;
    j.run.message[0] = '\0';
    o = api_job_json(&j);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "internal_error");
    assert_string_equal(json_string_value(json_object_get(o, "error")), "Internal Error");
    json_decref(o);
    job_release(&j);
}

static void test_invalid_utf8_output(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_COMPLETED);
    j.run = (struct job_step){.verdict = JOB_VERDICT_OK};
    set_bytes(&j.run.out, &j.run.out_len,
              "a\xff"
              "b\0c\xe2\x82",
              7);
    set_bytes(&j.run.err, &j.run.err_len, "\xc0\xaf", 2);
    json_t *o = api_job_json(&j);
    char *text = dump(json_object_get(o, "output"));
    assert_string_equal(text, "\"a\xef\xbf\xbd"
                              "b\\u0000c\xef\xbf\xbd\"");
    free(text);
    text = dump(json_object_get(o, "stderr"));
    assert_string_equal(text, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    free(text);
    json_decref(o);
    /* an internal message that is not UTF-8 either */
    j.status = JOB_STATUS_FAILED;
    moat_strlcpy(j.run.message, "bad \xff", sizeof(j.run.message));
    o = api_job_json(&j);
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "Internal Error (bad \xef\xbf\xbd)");
    json_decref(o);
    job_release(&j);
}

/* Seed 000's two examples, key for key. */
static void test_seed000(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_QUEUED);
    moat_strlcpy(j.language, "cpp", sizeof(j.language));
    moat_strlcpy(j.language_given, "c++", sizeof(j.language_given));
    json_t *o = api_job_json_seed000(&j);
    char *text = dump(o);
    assert_string_equal(text, "{\"id\":\"" ID "\",\"executionEngine\":\"c++\","
                              "\"codePath\":\"jobs/" ID "/code.bin\",\"codeHash\":\"" HASH_A "\","
                              "\"status\":\"Pending\","
                              "\"creationTime\":\"2026-11-21T22:00:00.000Z\",\"retryCount\":0,"
                              "\"tags\":null}");
    free(text);
    json_decref(o);

    j.status = JOB_STATUS_RUNNING;
    j.attempts = 1;
    o = api_job_json_seed000(&j);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "Running");
    assert_null(json_object_get(o, "outputPath"));
    json_decref(o);

    job_release(&j);
    make_job(&j, JOB_STATUS_COMPLETED);
    moat_strlcpy(j.language_given, "c++", sizeof(j.language_given));
    j.run = (struct job_step){.verdict = JOB_VERDICT_OK};
    o = api_job_json_seed000(&j);
    text = dump(o);
    assert_string_equal(text, "{\"id\":\"" ID "\",\"executionEngine\":\"c++\","
                              "\"codePath\":\"jobs/" ID "/code.bin\",\"codeHash\":\"" HASH_A "\","
                              "\"status\":\"Completed\",\"outputPath\":\"jobs/" ID "/output.log\","
                              "\"creationTime\":\"2026-11-21T22:00:00.000Z\","
                              "\"endTime\":\"2026-11-21T22:00:01.500Z\",\"retryCount\":0,"
                              "\"outputHash\":\"" HASH_B "\",\"tags\":null}");
    free(text);
    json_decref(o);

    /* retries, tags, and the states seed 000 does not have */
    j.attempts = 3;
    j.tags_json = moat_strdup("[\"x\"]");
    j.status = JOB_STATUS_CANCELLED;
    o = api_job_json_seed000(&j);
    assert_int_equal(json_integer_value(json_object_get(o, "retryCount")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "Failed");
    text = dump(json_object_get(o, "tags"));
    assert_string_equal(text, "[\"x\"]");
    free(text);
    json_decref(o);
    j.status = JOB_STATUS_FAILED;
    o = api_job_json_seed000(&j);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "Failed");
    json_decref(o);
    job_release(&j);
}

/* Seed 004's reply: success only for a completed run with verdict ok;
 * "error" carries the compiler's complaint, moat's message or stderr. */
static void test_seed004(void **state)
{
    (void)state;
    struct job j;
    char keys[512];
    make_job(&j, JOB_STATUS_RUNNING);
    json_t *o = api_job_json_seed004(&j);
    keys_of(o, keys, sizeof(keys));
    assert_string_equal(keys, "jobId,success,status,language,error");
    assert_false(json_is_true(json_object_get(o, "success")));
    assert_string_equal(json_string_value(json_object_get(o, "status")), "running");
    json_decref(o);
    job_release(&j);

    make_job(&j, JOB_STATUS_COMPLETED);
    j.run = (struct job_step){
        .verdict = JOB_VERDICT_OK, .wall_time_ms = 31, .time_ms = 12, .memory_kb = 2048};
    set_bytes(&j.run.out, &j.run.out_len, "42\n", 3);
    set_bytes(&j.run.err, &j.run.err_len, "warn\n", 5);
    o = api_job_json_seed004(&j);
    char *text = dump(o);
    assert_string_equal(text, "{\"jobId\":\"" ID "\",\"success\":true,\"status\":\"completed\","
                              "\"language\":\"python\",\"verdict\":\"ok\",\"output\":\"42\\n\","
                              "\"error\":\"warn\\n\",\"exitCode\":0,\"executionTime\":31,"
                              "\"cpuTime\":12,\"memoryKb\":2048}");
    free(text);
    json_decref(o);
    /* a runtime error is a completed job, not a success */
    j.run.verdict = JOB_VERDICT_RUNTIME_ERROR;
    j.run.exit_code = 3;
    o = api_job_json_seed004(&j);
    assert_false(json_is_true(json_object_get(o, "success")));
    assert_int_equal(json_integer_value(json_object_get(o, "exitCode")), 3);
    json_decref(o);
    /* a compile error: the compiler's stderr */
    j.run.verdict = JOB_VERDICT_COMPILE_ERROR;
    j.compiled = true;
    set_bytes(&j.compile.err, &j.compile.err_len, "main.c:1: error", 15);
    o = api_job_json_seed004(&j);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "main.c:1: error");
    json_decref(o);
    job_release(&j);
    /* a failed job: moat's message */
    make_job(&j, JOB_STATUS_FAILED);
    j.run.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(j.run.message, "the sandbox failed", sizeof(j.run.message));
    o = api_job_json_seed004(&j);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "the sandbox failed");
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "internal_error");
    json_decref(o);
    /* the shape dispatch */
    o = api_job_json_shaped(API_SHAPE_SEED004_PROBLEM, &j);
    assert_non_null(json_object_get(o, "success"));
    json_decref(o);
    o = api_job_json_shaped(API_SHAPE_NATIVE, &j);
    assert_null(json_object_get(o, "success"));
    json_decref(o);
    job_release(&j);
}

/* A judged job with tests: how it is judged, and each test's result after
 * the job's own fields, in test order, each with its index. */
static void test_tests(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, JOB_STATUS_COMPLETED);
    j.compare = (struct job_compare_opts){.mode = JOB_COMPARE_TOKENS};
    j.run = (struct job_step){.verdict = JOB_VERDICT_WRONG_ANSWER};
    j.ntests = 2;
    j.tests = calloc(2, sizeof(*j.tests));
    assert_non_null(j.tests);
    j.tests[0].result = (struct job_step){.verdict = JOB_VERDICT_WRONG_ANSWER, .time_ms = 3};
    set_bytes(&j.tests[0].result.out, &j.tests[0].result.out_len, "4\n", 2);
    j.tests[1].result = (struct job_step){.verdict = JOB_VERDICT_SKIPPED};
    json_t *o = api_job_json(&j);
    assert_string_equal(json_string_value(json_object_get(o, "compare")), "tokens");
    assert_string_equal(json_string_value(json_object_get(o, "verdict")), "wrong_answer");
    json_t *t = json_object_get(o, "tests");
    assert_int_equal(json_array_size(t), 2);
    char *t0 = dump(json_array_get(t, 0)), *t1 = dump(json_array_get(t, 1));
    assert_string_equal(t0, "{\"verdict\":\"wrong_answer\",\"exitCode\":0,\"signal\":null,"
                            "\"timeMs\":3,\"wallTimeMs\":0,\"memoryKb\":0,\"stdout\":\"4\\n\","
                            "\"stderr\":\"\",\"stdoutTruncated\":false,\"stderrTruncated\":false,"
                            "\"error\":\"Wrong Answer (the output is not the one expected)\","
                            "\"index\":0}");
    assert_non_null(strstr(t1, "\"verdict\":\"skipped\""));
    assert_non_null(strstr(t1, "\"index\":1}"));
    /* the last key of the job: its tests */
    char *text = dump(o);
    assert_non_null(strstr(text, "\"compile\":null,\"tests\":["));
    free(text);
    free(t0);
    free(t1);
    json_decref(o);
    job_release(&j);
}

/* A job with a callback shows it after compare: {url, status, attempts,
 * lastError, deliveredAt}; a job without none (its shape unchanged). */
static void test_callback(void **state)
{
    (void)state;
    struct job j = {.status = JOB_STATUS_QUEUED};
    moat_strlcpy(j.id, "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f", sizeof(j.id));
    json_t *o = api_job_json(&j);
    assert_non_null(o);
    assert_null(json_object_get(o, "callback"));
    json_decref(o);
    moat_strlcpy(j.callback.url, "https://example.com/h", sizeof(j.callback.url));
    j.callback.status = JOB_CALLBACK_PENDING;
    j.callback.attempts = 2;
    moat_strlcpy(j.callback.last_error, "the receiver answered 500", sizeof(j.callback.last_error));
    o = api_job_json(&j);
    char *text = json_dumps(json_object_get(o, "callback"), JSON_COMPACT);
    assert_string_equal(text, "{\"url\":\"https://example.com/h\",\"status\":\"pending\","
                              "\"attempts\":2,\"lastError\":\"the receiver answered 500\","
                              "\"deliveredAt\":null}");
    free(text);
    /* the key follows compare */
    const char *prev = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "callback") == 0)
            assert_string_equal(prev, "compare");
        prev = key;
    }
    json_decref(o);
    j.callback.status = JOB_CALLBACK_DELIVERED;
    j.callback.last_error[0] = '\0';
    j.callback.delivered_ms = 1700000000123;
    o = api_callback_json(&j.callback);
    text = json_dumps(o, JSON_COMPACT);
    assert_string_equal(text, "{\"url\":\"https://example.com/h\",\"status\":\"delivered\","
                              "\"attempts\":2,\"lastError\":null,"
                              "\"deliveredAt\":\"2023-11-14T22:13:20.123Z\"}");
    free(text);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callback),
        cmocka_unit_test(test_seed004),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_queued),
        cmocka_unit_test(test_accepted_text),
        cmocka_unit_test(test_running_with_tags_and_metadata),
        cmocka_unit_test(test_completed_ok),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_runtime_error),
        cmocka_unit_test(test_compile_error),
        cmocka_unit_test(test_clipped_streams),
        cmocka_unit_test(test_cancelled),
        cmocka_unit_test(test_failed),
        cmocka_unit_test(test_invalid_utf8_output),
        cmocka_unit_test(test_seed000),
        cmocka_unit_test(test_tests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
