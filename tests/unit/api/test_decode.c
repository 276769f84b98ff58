/* api_decode_submit: every field of POST /v1/jobs, seed 000's POST /job and
 * seed 002's raw POST /api/v1/execute, accepted and refused, with the status,
 * code and field of each refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "moat/util.h"

/* Languages that every host can run (/bin/sh), one it cannot, and one with
 * a fixed version; the real languages.ini is tested at the end. */
static const char test_langs[] = "[python]\naliases = py, python3\nsource = main.py\n"
                                 "run = /bin/sh {main}\n"
                                 "[javascript]\naliases = js, node\nsource = main.js\n"
                                 "run = /bin/sh {main}\n"
                                 "[cpp]\naliases = c++, cxx\nsource = main.cpp\n"
                                 "compile = /bin/sh {files}\nrun = ./main\n"
                                 "[go]\naliases = golang\nsource = main.go\n"
                                 "compile = /bin/sh {files}\nrun = ./main\n"
                                 "[ghost]\nsource = main.g\nrun = /nonexistent/bin/ghost {main}\n"
                                 "[versioned]\nsource = main.v\nrun = /bin/sh {main}\n"
                                 "version = /bin/echo 3.11.2\n";

/* A literal body and its length. */
#define S(text) (text), strlen(text)

struct fx {
    struct moat_config cfg;
    struct lang_registry *langs;
    char cache[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    config_defaults(&f->cfg);
    moat_strlcpy(f->cache, "/tmp/moat-api-test-XXXXXX", sizeof(f->cache));
    assert_non_null(mkdtemp(f->cache));
    moat_strlcpy(f->cfg.cache_dir, f->cache, sizeof(f->cfg.cache_dir));
    struct moat_err err = {0};
    assert_int_equal(lang_registry_parse(test_langs, strlen(test_langs), &f->langs, &err), 0);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    lang_registry_free(f->langs);
    /* the version probe cache lang_version wrote */
    assert_int_equal(nftw(f->cache, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(f);
    return 0;
}

static int decode_n(struct fx *f, enum api_shape shape, const char *ct, const char *qlang,
                    const char *body, size_t len, struct api_submit *s, struct api_error *e)
{
    return api_decode_submit(&f->cfg, f->langs, shape, ct, qlang, body, len, s, e);
}

/* Decodes a native JSON body that must be accepted. */
static void ok_native(struct fx *f, const char *body, struct api_submit *s)
{
    struct api_error e;
    int r = decode_n(f, API_SHAPE_NATIVE, "application/json", NULL, body, strlen(body), s, &e);
    if (r != 0)
        print_error("refused %s: %u %s %s: %s\n", body, e.status, e.code, e.field, e.message);
    assert_int_equal(r, 0);
}

/* Decodes a body that must be refused with exactly this status, code and
 * field, leaving the output untouched. */
static void refused(struct fx *f, enum api_shape shape, const char *ct, const char *qlang,
                    const char *body, size_t len, unsigned status, const char *code,
                    const char *field)
{
    struct api_submit s, before;
    memset(&s, 0x5a, sizeof(s));
    memcpy(&before, &s, sizeof(s));
    struct api_error e;
    int r = decode_n(f, shape, ct, qlang, body, len, &s, &e);
    if (r != -EINVAL || e.status != status || strcmp(e.code, code) != 0 ||
        strcmp(e.field, field) != 0)
        print_error("body %.200s: got %d %u %s field '%s' (%s), want %u %s field '%s'\n", body, r,
                    e.status, r ? e.code : "-", e.field, e.message, status, code, field);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(e.status, status);
    assert_string_equal(e.code, code);
    assert_string_equal(e.field, field);
    assert_true(e.message[0] != '\0');
    assert_memory_equal(&s, &before, sizeof(s));
}

static void bad_native(struct fx *f, const char *body, unsigned status, const char *code,
                       const char *field)
{
    refused(f, API_SHAPE_NATIVE, "application/json", NULL, body, strlen(body), status, code, field);
}

static void test_minimal_defaults(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    ok_native(f, "{\"language\":\"python\",\"code\":\"print(1)\"}", &s);
    assert_string_equal(s.job.language, "python");
    assert_string_equal(s.job.language_given, "python");
    assert_string_equal(s.job.version, ""); /* no version command */
    assert_int_equal(s.job.priority, JOB_PRIORITY_DEFAULT);
    assert_memory_equal(&s.job.limits, &f->cfg.limits, sizeof(s.job.limits));
    assert_int_equal(s.job.nfiles, 1);
    assert_null(s.job.files[0].name);
    assert_int_equal(s.job.files[0].len, 8);
    assert_memory_equal(s.job.files[0].data, "print(1)", 8);
    assert_null(s.job.stdin_data);
    assert_int_equal(s.job.stdin_len, 0);
    assert_int_equal(s.job.nargs, 0);
    assert_null(s.job.metadata_json);
    assert_null(s.job.tags_json);
    assert_false(s.wait);
    assert_int_equal(s.job.status, JOB_STATUS_QUEUED);
    job_release(&s.job);
}

static void test_all_fields(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    ok_native(f,
              "{\"language\":\"py\",\"code\":\"x=input()\",\"stdin\":\"42\\n\","
              "\"args\":[\"-v\",\"two words\"],\"priority\":10,\"timeoutMs\":2000,"
              "\"wallTimeoutMs\":7000,\"memoryMb\":256,\"maxProcesses\":8,\"maxOutputKb\":4,"
              "\"maxFileKb\":0,\"maxOpenFiles\":32,\"stackKb\":1024,"
              "\"metadata\":{\"user\":\"ann\",\"n\":[1,2]},\"tags\":[\"a\",\"b\"],\"wait\":true}",
              &s);
    assert_string_equal(s.job.language, "python");
    assert_string_equal(s.job.language_given, "py");
    assert_int_equal(s.job.stdin_len, 3);
    assert_memory_equal(s.job.stdin_data, "42\n", 3);
    assert_int_equal(s.job.nargs, 2);
    assert_string_equal(s.job.args[0], "-v");
    assert_string_equal(s.job.args[1], "two words");
    assert_int_equal(s.job.priority, 10);
    assert_int_equal(s.job.limits.time_ms, 2000);
    assert_int_equal(s.job.limits.wall_time_ms, 7000);
    assert_int_equal(s.job.limits.memory_mb, 256);
    assert_int_equal(s.job.limits.max_processes, 8);
    assert_int_equal(s.job.limits.max_output_kb, 4);
    assert_int_equal(s.job.limits.max_file_kb, 0);
    assert_int_equal(s.job.limits.max_open_files, 32);
    assert_int_equal(s.job.limits.stack_kb, 1024);
    assert_string_equal(s.job.metadata_json, "{\"user\":\"ann\",\"n\":[1,2]}");
    assert_string_equal(s.job.tags_json, "[\"a\",\"b\"]");
    assert_true(s.wait);
    job_release(&s.job);

    /* null is "not given" */
    ok_native(f,
              "{\"language\":\"python\",\"code\":\"1\",\"priority\":null,\"wait\":null,"
              "\"tags\":null,\"metadata\":null,\"stdin\":null,\"args\":null,\"timeoutMs\":null}",
              &s);
    assert_int_equal(s.job.priority, JOB_PRIORITY_DEFAULT);
    assert_null(s.job.tags_json);
    assert_null(s.job.metadata_json);
    assert_int_equal(s.job.limits.time_ms, f->cfg.limits.time_ms);
    job_release(&s.job);

    /* empty collections are kept as given */
    ok_native(f, "{\"language\":\"python\",\"code\":\"1\",\"metadata\":{},\"tags\":[],\"args\":[]}",
              &s);
    assert_string_equal(s.job.metadata_json, "{}");
    assert_string_equal(s.job.tags_json, "[]");
    assert_int_equal(s.job.nargs, 0);
    job_release(&s.job);
}

static void test_wall_follows_time(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    f->cfg.limits.wall_time_ms = 5000; /* an operator's explicit default */
    ok_native(f, "{\"language\":\"python\",\"code\":\"1\",\"timeoutMs\":4000}", &s);
    assert_int_equal(s.job.limits.time_ms, 4000);
    assert_int_equal(s.job.limits.wall_time_ms, 0); /* derived: 2 * 4000 + 1000 */
    job_release(&s.job);
    ok_native(f, "{\"language\":\"python\",\"code\":\"1\"}", &s);
    assert_int_equal(s.job.limits.wall_time_ms, 5000);
    job_release(&s.job);
    ok_native(f, "{\"language\":\"python\",\"code\":\"1\",\"wallTimeoutMs\":0}", &s);
    assert_int_equal(s.job.limits.wall_time_ms, 0);
    job_release(&s.job);
}

static void test_wrong_types(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *extra, *field;
    } cases[] = {
        {"\"stdin\":true", "stdin"},
        {"\"stdin\":5", "stdin"},
        {"\"args\":\"x\"", "args"},
        {"\"args\":[1]", "args"},
        {"\"args\":[[\"x\"]]", "args"},
        {"\"priority\":\"5\"", "priority"},
        {"\"priority\":5.5", "priority"},
        {"\"priority\":true", "priority"},
        {"\"timeoutMs\":\"3000\"", "timeoutMs"},
        {"\"timeoutMs\":3000.0", "timeoutMs"},
        {"\"wallTimeoutMs\":{}", "wallTimeoutMs"},
        {"\"memoryMb\":[]", "memoryMb"},
        {"\"maxProcesses\":false", "maxProcesses"},
        {"\"maxOutputKb\":\"64\"", "maxOutputKb"},
        {"\"maxFileKb\":1.5", "maxFileKb"},
        {"\"maxOpenFiles\":\"8\"", "maxOpenFiles"},
        {"\"stackKb\":[1]", "stackKb"},
        {"\"metadata\":[]", "metadata"},
        {"\"metadata\":\"x\"", "metadata"},
        {"\"tags\":\"a\"", "tags"},
        {"\"tags\":[1]", "tags"},
        {"\"tags\":{}", "tags"},
        {"\"wait\":\"true\"", "wait"},
        {"\"wait\":1", "wait"},
        {"\"version\":3", "version"},
    };
    char body[512];
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"code\":\"1\",%s}",
                       cases[i].extra);
        bad_native(f, body, 400, "invalid_field", cases[i].field);
    }
    bad_native(f, "{\"language\":5,\"code\":\"1\"}", 400, "invalid_field", "language");
    bad_native(f, "{\"language\":\"python\",\"code\":5}", 400, "invalid_field", "code");
    bad_native(f, "{\"language\":\"python\",\"code\":[\"1\"]}", 400, "invalid_field", "code");
    bad_native(f, "{\"language\":\"python\",\"files\":{}}", 400, "invalid_field", "files");
    bad_native(f, "{\"language\":\"python\",\"files\":\"main.py\"}", 400, "invalid_field", "files");
    bad_native(f, "{\"code\":\"1\"}", 400, "invalid_field", "language");
    bad_native(f, "{\"language\":null,\"code\":\"1\"}", 400, "invalid_field", "language");
}

static void test_out_of_range(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *extra, *field;
    } cases[] = {
        {"\"priority\":-1", "priority"},
        {"\"priority\":11", "priority"},
        {"\"priority\":9223372036854775807", "priority"},
        {"\"timeoutMs\":0", "timeoutMs"},
        {"\"timeoutMs\":-5", "timeoutMs"},
        {"\"timeoutMs\":10001", "timeoutMs"},
        {"\"timeoutMs\":9223372036854775807", "timeoutMs"},
        {"\"wallTimeoutMs\":60001", "wallTimeoutMs"},
        {"\"memoryMb\":0", "memoryMb"},
        {"\"memoryMb\":1025", "memoryMb"},
        {"\"maxProcesses\":0", "maxProcesses"},
        {"\"maxOutputKb\":16385", "maxOutputKb"},
        {"\"maxOutputKb\":0", "maxOutputKb"},
        {"\"maxOpenFiles\":0", "maxOpenFiles"},
        {"\"stackKb\":0", "stackKb"},
        {"\"maxFileKb\":-1", "maxFileKb"},
    };
    char body[512];
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"code\":\"1\",%s}",
                       cases[i].extra);
        bad_native(f, body, 400, "out_of_range", cases[i].field);
    }
    /* a derived wall limit above the maximum is refused on wallTimeoutMs */
    f->cfg.max_limits.wall_time_ms = 15000;
    bad_native(f, "{\"language\":\"python\",\"code\":\"1\",\"timeoutMs\":8000}", 400,
               "out_of_range", "wallTimeoutMs");
    /* the edges themselves are fine */
    struct api_submit s;
    ok_native(f,
              "{\"language\":\"python\",\"code\":\"1\",\"priority\":0,\"timeoutMs\":7000,"
              "\"memoryMb\":1024,\"maxOutputKb\":16384}",
              &s);
    assert_int_equal(s.job.priority, 0);
    assert_int_equal(s.job.limits.memory_mb, 1024);
    job_release(&s.job);
}

static void test_unknown_fields(void **state)
{
    struct fx *f = *state;
    bad_native(f, "{\"language\":\"python\",\"code\":\"1\",\"bogus\":1,\"other\":2}", 400,
               "unknown_field", "bogus");
    /* the first in the body's order, before any other check */
    bad_native(f, "{\"zzz\":1,\"language\":5,\"aaa\":2}", 400, "unknown_field", "zzz");
    /* case matters: the API is camelCase */
    bad_native(f, "{\"language\":\"python\",\"code\":\"1\",\"timeoutms\":1}", 400, "unknown_field",
               "timeoutms");
    /* seed 001's jobs API has no "lang" */
    bad_native(f, "{\"lang\":\"python\",\"code\":\"1\"}", 400, "unknown_field", "lang");
    /* a key with a NUL cannot pass for "code": the parser refuses it */
    bad_native(f, "{\"language\":\"python\",\"code\\u0000x\":\"1\"}", 400, "invalid_json", "");
    /* inside a file */
    bad_native(f,
               "{\"language\":\"python\",\"files\":[{\"name\":\"a.py\",\"content\":\"1\","
               "\"mode\":\"755\"}]}",
               400, "unknown_field", "files");
    /* seed 000 takes its three fields only */
    refused(f, API_SHAPE_SEED000, "application/json", NULL,
            S("{\"code\":\"1\",\"executionEngine\":\"python\",\"language\":\"python\"}"), 400,
            "unknown_field", "language");
}

static void test_invalid_json(void **state)
{
    struct fx *f = *state;
    static const char *const bodies[] = {
        "",
        "{",
        "{\"language\":\"python\",\"code\":\"1\",}",
        "{\"language\":\"python\" \"code\":\"1\"}",
        "[]",
        "42",
        "null",
        "\"code\"",
        "{\"language\":\"python\",\"code\":\"\xff\"}", /* invalid UTF-8 */
        "{\"language\":\"python\",\"code\":\"1\"} trailing",
        /* a duplicate key is refused whatever the values */
        "{\"language\":\"python\",\"code\":\"a\",\"code\":\"b\"}",
        "{\"language\":\"python\",\"code\":\"a\",\"metadata\":{\"k\":1,\"k\":1}}",
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bodies); i++)
        bad_native(f, bodies[i], 400, "invalid_json", "");
    /* a NULL body of length 0 */
    refused(f, API_SHAPE_NATIVE, NULL, NULL, NULL, 0, 400, "invalid_json", "");
}

static void test_nesting(void **state)
{
    struct fx *f = *state;
    /* deeper than the parser's own bound: refused, not a stack overflow */
    size_t n = 100000;
    char *deep = malloc(n + 1);
    assert_non_null(deep);
    memset(deep, '[', n);
    deep[n] = '\0';
    refused(f, API_SHAPE_NATIVE, NULL, NULL, deep, n, 400, "invalid_json", "");
    free(deep);

    /* metadata: 32 levels are fine, 33 are not */
    char body[1024];
    for (int depth = 32; depth <= 33; depth++) {
        struct buf b;
        buf_init(&b, sizeof(body) - 1);
        assert_int_equal(buf_printf(&b, "{\"language\":\"python\",\"code\":\"1\",\"metadata\":"),
                         0);
        for (int i = 0; i < depth; i++)
            assert_int_equal(buf_printf(&b, "{\"a\":"), 0);
        assert_int_equal(buf_printf(&b, "1"), 0);
        for (int i = 0; i < depth + 1; i++)
            assert_int_equal(buf_printf(&b, "}"), 0);
        assert_int_equal(buf_terminate(&b), 0);
        if (depth == 32) {
            struct api_submit s;
            ok_native(f, b.data, &s);
            job_release(&s.job);
        } else {
            bad_native(f, b.data, 400, "invalid_field", "metadata");
        }
        buf_release(&b);
    }
}

static void test_nul_bytes(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    /* code, file contents and stdin are bytes: a NUL is kept, not a cut */
    ok_native(f, "{\"language\":\"python\",\"code\":\"a\\u0000b\",\"stdin\":\"\\u0000\\u0000\"}",
              &s);
    assert_int_equal(s.job.files[0].len, 3);
    assert_memory_equal(s.job.files[0].data, "a\0b", 3);
    assert_int_equal(s.job.stdin_len, 2);
    assert_memory_equal(s.job.stdin_data, "\0\0", 2);
    job_release(&s.job);
    ok_native(
        f, "{\"language\":\"python\",\"files\":[{\"name\":\"m.py\",\"content\":\"\\u0000\"}]}", &s);
    assert_int_equal(s.job.files[0].len, 1);
    job_release(&s.job);
    /* names and arguments become C strings: a NUL would cut them */
    bad_native(f, "{\"language\":\"py\\u0000thon\",\"code\":\"1\"}", 400, "unknown_language",
               "language");
    bad_native(f, "{\"language\":\"python\",\"code\":\"1\",\"args\":[\"a\\u0000b\"]}", 400,
               "invalid_field", "args");
    bad_native(f, "{\"language\":\"python\",\"code\":\"1\",\"tags\":[\"a\\u0000\"]}", 400,
               "invalid_field", "tags");
    bad_native(f,
               "{\"language\":\"python\",\"files\":[{\"name\":\"a.py\\u0000/../x\","
               "\"content\":\"1\"}]}",
               400, "invalid_field", "files");
    bad_native(f, "{\"language\":\"versioned\",\"code\":\"1\",\"version\":\"3\\u0000x\"}", 400,
               "invalid_field", "version");
}

static char *repeat(char c, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static void test_size_limits(void **state)
{
    struct fx *f = *state;
    f->cfg.max_code_kb = 1;
    f->cfg.max_stdin_kb = 1;
    char *k = repeat('x', 1024), *k1 = repeat('x', 1025), *big = repeat('x', 20000);
    char body[24000];
    struct api_submit s;

    (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"code\":\"%s\"}", k);
    ok_native(f, body, &s);
    assert_int_equal(s.job.files[0].len, 1024);
    job_release(&s.job);
    (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"code\":\"%s\"}", k1);
    bad_native(f, body, 413, "payload_too_large", "code");

    /* files count together, after base64 decoding: 2 x 600 > 1024 */
    char *six = repeat('y', 600);
    (void)snprintf(body, sizeof(body),
                   "{\"language\":\"python\",\"files\":[{\"name\":\"a.py\",\"content\":\"%s\"},"
                   "{\"name\":\"b.py\",\"content\":\"%s\"}]}",
                   six, six);
    bad_native(f, body, 413, "payload_too_large", "files");
    /* 1368 base64 characters are 1026 bytes: too large; 1364 are 1023 */
    char *b64 = repeat('Q', 1368);
    (void)snprintf(body, sizeof(body),
                   "{\"language\":\"python\",\"files\":[{\"name\":\"a.py\",\"content\":\"%s\","
                   "\"encoding\":\"base64\"}]}",
                   b64);
    bad_native(f, body, 413, "payload_too_large", "files");
    b64[1364] = '\0';
    (void)snprintf(body, sizeof(body),
                   "{\"language\":\"python\",\"files\":[{\"name\":\"a.py\",\"content\":\"%s\","
                   "\"encoding\":\"base64\"}]}",
                   b64);
    ok_native(f, body, &s);
    assert_int_equal(s.job.files[0].len, 1023);
    job_release(&s.job);

    (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"code\":\"1\",\"stdin\":\"%s\"}",
                   k);
    ok_native(f, body, &s);
    assert_int_equal(s.job.stdin_len, 1024);
    job_release(&s.job);
    (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"code\":\"1\",\"stdin\":\"%s\"}",
                   k1);
    bad_native(f, body, 413, "payload_too_large", "stdin");

    /* metadata: at most 16 KiB as compact JSON */
    big[16384 - 8] = '\0'; /* {"k":"..."} is 8 bytes more */
    (void)snprintf(body, sizeof(body),
                   "{\"language\":\"python\",\"code\":\"1\",\"metadata\":{\"k\":   \"%s\"}}", big);
    ok_native(f, body, &s);
    assert_int_equal(strlen(s.job.metadata_json), 16384);
    job_release(&s.job);
    big[16384 - 8] = 'x';
    big[16384 - 7] = '\0';
    (void)snprintf(body, sizeof(body),
                   "{\"language\":\"python\",\"code\":\"1\",\"metadata\":{\"k\":\"%s\"}}", big);
    bad_native(f, body, 400, "invalid_field", "metadata");

    /* the other shapes */
    (void)snprintf(body, sizeof(body), "{\"code\":\"%s\",\"executionEngine\":\"c++\"}", k1);
    refused(f, API_SHAPE_SEED000, "application/json", NULL, body, strlen(body), 413,
            "payload_too_large", "code");
    refused(f, API_SHAPE_SEED002, NULL, NULL, k1, 1025, 413, "payload_too_large", "code");
    assert_int_equal(
        decode_n(f, API_SHAPE_SEED002, NULL, NULL, k, 1024, &s, &(struct api_error){0}), 0);
    job_release(&s.job);
    free(k);
    free(k1);
    free(big);
    free(six);
    free(b64);
}

static void test_media_types(void **state)
{
    struct fx *f = *state;
    const char *body = "{\"language\":\"python\",\"code\":\"1\"}";
    const char *seed0 = "{\"code\":\"1\",\"executionEngine\":\"python\"}";
    static const char *const bad[] = {"text/plain", "application/x-www-form-urlencoded",
                                      "application/jsonx", "json", "multipart/form-data"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        refused(f, API_SHAPE_NATIVE, bad[i], NULL, body, strlen(body), 415,
                "unsupported_media_type", "");
        refused(f, API_SHAPE_SEED000, bad[i], NULL, seed0, strlen(seed0), 415,
                "unsupported_media_type", "");
    }
    static const char *const good[] = {"application/json", "application/json; charset=utf-8",
                                       "Application/JSON", " application/json ;x=y", ""};
    struct api_submit s;
    struct api_error e;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(good); i++) {
        assert_int_equal(decode_n(f, API_SHAPE_NATIVE, good[i], NULL, body, strlen(body), &s, &e),
                         0);
        job_release(&s.job);
        assert_int_equal(
            decode_n(f, API_SHAPE_SEED000, good[i], NULL, seed0, strlen(seed0), &s, &e), 0);
        job_release(&s.job);
    }
    /* absent is JSON */
    assert_int_equal(decode_n(f, API_SHAPE_NATIVE, NULL, NULL, body, strlen(body), &s, &e), 0);
    job_release(&s.job);
}

static void test_seed002_raw(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    struct api_error e;
    /* curl -X POST -d "print('Hello from an HTTP stream entry point!')" .../api/v1/execute */
    const char *prog = "print('Hello from an HTTP stream entry point!')";
    assert_int_equal(decode_n(f, API_SHAPE_SEED002, "application/x-www-form-urlencoded", NULL, prog,
                              strlen(prog), &s, &e),
                     0);
    assert_string_equal(s.job.language, "python");
    assert_int_equal(s.job.nfiles, 1);
    assert_null(s.job.files[0].name);
    assert_int_equal(s.job.files[0].len, strlen(prog));
    assert_memory_equal(s.job.files[0].data, prog, strlen(prog));
    job_release(&s.job);
    /* verbatim: no form decoding of + or %XX, and JSON is just text */
    const char *form = "print(1+1) # 100%25 a=b&c=d";
    assert_int_equal(decode_n(f, API_SHAPE_SEED002, "application/x-www-form-urlencoded", NULL, form,
                              strlen(form), &s, &e),
                     0);
    assert_memory_equal(s.job.files[0].data, form, strlen(form));
    job_release(&s.job);
    assert_int_equal(decode_n(f, API_SHAPE_SEED002, "text/plain", "js", "{\"a\":1}", 7, &s, &e), 0);
    assert_string_equal(s.job.language, "javascript");
    assert_string_equal(s.job.language_given, "js");
    job_release(&s.job);
    refused(f, API_SHAPE_SEED002, NULL, NULL, "", 0, 400, "invalid_field", "code");
    refused(f, API_SHAPE_SEED002, NULL, "cobol", "x", 1, 400, "unknown_language", "language");
    refused(f, API_SHAPE_SEED002, NULL, "ghost", "x", 1, 400, "unknown_language", "language");
}

static void test_languages(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *given, *name;
    } cases[] = {
        {"python", "python"},  {"py", "python"},     {"PY", "python"},
        {"python3", "python"}, {"js", "javascript"}, {"node", "javascript"},
        {"c++", "cpp"},        {"golang", "go"},     {"Go", "go"},
    };
    char body[256];
    struct api_submit s;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        (void)snprintf(body, sizeof(body), "{\"language\":\"%s\",\"code\":\"1\"}", cases[i].given);
        ok_native(f, body, &s);
        assert_string_equal(s.job.language, cases[i].name);
        assert_string_equal(s.job.language_given, cases[i].given);
        job_release(&s.job);
    }
    bad_native(f, "{\"language\":\"cobol\",\"code\":\"1\"}", 400, "unknown_language", "language");
    bad_native(f, "{\"language\":\"\",\"code\":\"1\"}", 400, "unknown_language", "language");
    bad_native(f, "{\"language\":\"ghost\",\"code\":\"1\"}", 400, "unknown_language", "language");
    bad_native(f, "{\"language\":\"pythonpythonpythonpythonpythonpython\",\"code\":\"1\"}", 400,
               "unknown_language", "language");
    refused(f, API_SHAPE_SEED000, NULL, NULL, S("{\"code\":\"1\",\"executionEngine\":\"cobol\"}"),
            400, "unknown_language", "executionEngine");
    refused(f, API_SHAPE_SEED000, NULL, NULL, S("{\"code\":\"1\"}"), 400, "invalid_field",
            "executionEngine");
    refused(f, API_SHAPE_SEED000, NULL, NULL, S("{\"executionEngine\":\"c++\"}"), 400,
            "invalid_field", "code");
}

static void test_versions(void **state)
{
    struct fx *f = *state;
    static const char *const good[] = {"3.11.2", "3.11", "3"};
    static const char *const bad[] = {"3.1", "3.11.20", "3.11.2.1", "4", "", "3.11.", "latest"};
    char body[256];
    struct api_submit s;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(good); i++) {
        (void)snprintf(body, sizeof(body),
                       "{\"language\":\"versioned\",\"code\":\"1\",\"version\":\"%s\"}", good[i]);
        ok_native(f, body, &s);
        assert_string_equal(s.job.version, "3.11.2"); /* the host's, whole */
        job_release(&s.job);
    }
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        (void)snprintf(body, sizeof(body),
                       "{\"language\":\"versioned\",\"code\":\"1\",\"version\":\"%s\"}", bad[i]);
        bad_native(f, body, 400, "invalid_field", "version");
    }
    /* without version the host's is recorded */
    ok_native(f, "{\"language\":\"versioned\",\"code\":\"1\"}", &s);
    assert_string_equal(s.job.version, "3.11.2");
    job_release(&s.job);
    /* a language whose version is not known cannot promise one */
    bad_native(f, "{\"language\":\"python\",\"code\":\"1\",\"version\":\"3.11\"}", 400,
               "invalid_field", "version");
}

static void test_files(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    ok_native(f,
              "{\"language\":\"python\",\"files\":[{\"name\":\"main.py\",\"content\":\"import u\"},"
              "{\"name\":\"lib/u.py\",\"content\":\"eDE=\",\"encoding\":\"base64\"},"
              "{\"name\":\"data.txt\",\"content\":\"z\",\"encoding\":\"utf8\"}]}",
              &s);
    assert_int_equal(s.job.nfiles, 3);
    assert_string_equal(s.job.files[0].name, "main.py");
    assert_int_equal(s.job.files[0].len, 8);
    assert_string_equal(s.job.files[1].name, "lib/u.py");
    assert_int_equal(s.job.files[1].len, 2);
    assert_memory_equal(s.job.files[1].data, "x1", 2);
    assert_string_equal(s.job.files[2].data, "z");
    job_release(&s.job);
    /* '$' names the JVM's nested classes; it is only ever a character of a
     * name (no shell sees one) */
    ok_native(f,
              "{\"language\":\"python\",\"files\":[{\"name\":\"main.py\",\"content\":\"x\"},"
              "{\"name\":\"lib/Outer$Inner.class\",\"content\":\"y\"}]}",
              &s);
    assert_string_equal(s.job.files[1].name, "lib/Outer$Inner.class");
    job_release(&s.job);

    static const char *const bad_files[] = {
        "[{\"name\":\"$(id).py\",\"content\":\"1\"}]",
        "[{\"name\":\"a;b.py\",\"content\":\"1\"}]",
        "[{\"name\":\"`id`.py\",\"content\":\"1\"}]",
        "[]",
        "[1]",
        "[{\"content\":\"1\"}]",
        "[{\"name\":\"a.py\"}]",
        "[{\"name\":5,\"content\":\"1\"}]",
        "[{\"name\":\"a.py\",\"content\":5}]",
        "[{\"name\":\"a.py\",\"content\":\"eA=\",\"encoding\":\"base64\"}]",
        "[{\"name\":\"a.py\",\"content\":\"e A=\",\"encoding\":\"base64\"}]",
        "[{\"name\":\"a.py\",\"content\":\"!!!!\",\"encoding\":\"base64\"}]",
        "[{\"name\":\"a.py\",\"content\":\"1\",\"encoding\":\"latin1\"}]",
        "[{\"name\":\"a.py\",\"content\":\"1\",\"encoding\":7}]",
        "[{\"name\":\"../x.py\",\"content\":\"1\"}]",
        "[{\"name\":\"/etc/passwd\",\"content\":\"1\"}]",
        "[{\"name\":\"a b.py\",\"content\":\"1\"}]",
        "[{\"name\":\"\",\"content\":\"1\"}]",
        "[{\"name\":\".\",\"content\":\"1\"}]",
        "[{\"name\":\"a//b\",\"content\":\"1\"}]",
        "[{\"name\":\"dir/\",\"content\":\"1\"}]",
        "[{\"name\":\"caf\\u00e9.py\",\"content\":\"1\"}]",
        "[{\"name\":\"a.py\",\"content\":\"1\"},{\"name\":\"a.py\",\"content\":\"2\"}]",
    };
    char body[1024];
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad_files); i++) {
        (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"files\":%s}", bad_files[i]);
        bad_native(f, body, 400, "invalid_field", "files");
    }
    /* a name of 256 bytes */
    char *longname = repeat('n', 256);
    (void)snprintf(body, sizeof(body),
                   "{\"language\":\"python\",\"files\":[{\"name\":\"%s\",\"content\":\"1\"}]}",
                   longname);
    bad_native(f, body, 400, "invalid_field", "files");
    free(longname);
    /* exactly one of code and files */
    bad_native(f,
               "{\"language\":\"python\",\"code\":\"1\",\"files\":[{\"name\":\"a.py\","
               "\"content\":\"1\"}]}",
               400, "invalid_field", "code");
    bad_native(f, "{\"language\":\"python\"}", 400, "invalid_field", "code");
    bad_native(f, "{\"language\":\"python\",\"code\":\"\"}", 400, "invalid_field", "code");
}

static void test_lists(void **state)
{
    struct fx *f = *state;
    struct buf b;
    buf_init(&b, 8192);
    assert_int_equal(buf_printf(&b, "{\"language\":\"python\",\"code\":\"1\",\"args\":["), 0);
    for (int i = 0; i < 257; i++)
        assert_int_equal(buf_printf(&b, "%s\"a\"", i ? "," : ""), 0);
    assert_int_equal(buf_printf(&b, "]}"), 0);
    assert_int_equal(buf_terminate(&b), 0);
    bad_native(f, b.data, 400, "out_of_range", "args");
    buf_release(&b);

    buf_init(&b, 8192);
    assert_int_equal(buf_printf(&b, "{\"language\":\"python\",\"code\":\"1\",\"tags\":["), 0);
    for (int i = 0; i < 65; i++)
        assert_int_equal(buf_printf(&b, "%s\"t\"", i ? "," : ""), 0);
    assert_int_equal(buf_printf(&b, "]}"), 0);
    assert_int_equal(buf_terminate(&b), 0);
    bad_native(f, b.data, 400, "out_of_range", "tags");
    buf_release(&b);

    char body[1024];
    char *tag = repeat('t', 257);
    (void)snprintf(body, sizeof(body), "{\"language\":\"python\",\"code\":\"1\",\"tags\":[\"%s\"]}",
                   tag);
    bad_native(f, body, 400, "out_of_range", "tags");
    free(tag);
}

/* The bodies of the seeds' own examples, byte for byte. */
static void test_seed_bodies(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    struct api_error e;
    const char *seed0 =
        "{\n    \"code\": \"#include <bits/stdc++.h>\\nusing namespace std;\\n\\nint main() "
        "{\\n    cout << \\\"Hello World\\\";\\n    return 0;\\n}\",\n    \"executionEngine\": "
        "\"c++\"\n  }";
    assert_int_equal(
        decode_n(f, API_SHAPE_SEED000, "application/json", NULL, seed0, strlen(seed0), &s, &e), 0);
    assert_string_equal(s.job.language, "cpp");
    assert_string_equal(s.job.language_given, "c++");
    assert_null(s.job.tags_json);
    const char *src = "#include <bits/stdc++.h>\nusing namespace std;\n\nint main() {\n    cout "
                      "<< \"Hello World\";\n    return 0;\n}";
    assert_int_equal(s.job.files[0].len, strlen(src));
    assert_memory_equal(s.job.files[0].data, src, strlen(src));
    job_release(&s.job);

    const char *seed0_tags = "{\"code\":\"print(1)\",\"executionEngine\":\"py\",\"tags\":null}";
    assert_int_equal(decode_n(f, API_SHAPE_SEED000, "application/json", NULL, seed0_tags,
                              strlen(seed0_tags), &s, &e),
                     0);
    assert_null(s.job.tags_json);
    job_release(&s.job);
    const char *seed0_tags2 = "{\"code\":\"1\",\"executionEngine\":\"py\",\"tags\":[\"x\"]}";
    assert_int_equal(decode_n(f, API_SHAPE_SEED000, "application/json", NULL, seed0_tags2,
                              strlen(seed0_tags2), &s, &e),
                     0);
    assert_string_equal(s.job.tags_json, "[\"x\"]");
    job_release(&s.job);

    ok_native(f,
              "{\n  \"language\": \"python\",\n  \"code\": \"print(2 + 2)\",\n  \"priority\": 10,\n"
              "  \"timeoutMs\": 3000,\n  \"metadata\": {}\n}",
              &s);
    assert_int_equal(s.job.priority, 10);
    assert_int_equal(s.job.limits.time_ms, 3000);
    assert_string_equal(s.job.metadata_json, "{}");
    assert_memory_equal(s.job.files[0].data, "print(2 + 2)", 12);
    job_release(&s.job);
    ok_native(f, "{\"language\":\"python\",\"code\":\"print(\\\"hello\\\")\"}", &s);
    assert_memory_equal(s.job.files[0].data, "print(\"hello\")", 14);
    job_release(&s.job);
}

/* Seed 004's NATS requests: code and input base64, the language's names
 * normalised (js, py, golang, c++), the defaults' limits for compiler
 * requests, the limits a problem request asks for within the maxima. */
static void test_seed004_bodies(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    struct api_error e;
    /* "console.log(42)" and "7\n" */
    const char *js = "{\"language\":\"js\",\"code\":\"Y29uc29sZS5sb2coNDIp\",\"input\":\"Nwo=\"}";
    assert_int_equal(decode_n(f, API_SHAPE_SEED004, NULL, NULL, S(js), &s, &e), 0);
    assert_string_equal(s.job.language, "javascript");
    assert_string_equal(s.job.language_given, "js");
    assert_int_equal(s.job.files[0].len, 15);
    assert_memory_equal(s.job.files[0].data, "console.log(42)", 15);
    assert_int_equal(s.job.stdin_len, 2);
    assert_memory_equal(s.job.stdin_data, "7\n", 2);
    assert_int_equal(s.job.limits.time_ms, f->cfg.limits.time_ms);
    assert_int_equal(s.job.limits.memory_mb, f->cfg.limits.memory_mb);
    assert_false(s.wait);
    job_release(&s.job);
    static const struct {
        const char *given, *canonical;
    } names[] = {{"py", "python"},
                 {"python", "python"},
                 {"golang", "go"},
                 {"go", "go"},
                 {"c++", "cpp"},
                 {"cpp", "cpp"},
                 {"javascript", "javascript"}};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(names); i++) {
        char body[128];
        (void)snprintf(body, sizeof(body), "{\"language\":\"%s\",\"code\":\"eA==\"}",
                       names[i].given);
        assert_int_equal(decode_n(f, API_SHAPE_SEED004, NULL, NULL, S(body), &s, &e), 0);
        assert_string_equal(s.job.language, names[i].canonical);
        assert_null(s.job.stdin_data);
        job_release(&s.job);
    }
    /* a problem request asks for its limits */
    const char *pb = "{\"language\":\"py\",\"code\":\"eA==\",\"timeoutMs\":4000,"
                     "\"memoryMb\":512}";
    assert_int_equal(decode_n(f, API_SHAPE_SEED004_PROBLEM, NULL, NULL, S(pb), &s, &e), 0);
    assert_int_equal(s.job.limits.time_ms, 4000);
    assert_int_equal(s.job.limits.wall_time_ms, 0); /* derived from timeoutMs */
    assert_int_equal(s.job.limits.memory_mb, 512);
    job_release(&s.job);
    /* ... which a compiler request may not */
    refused(f, API_SHAPE_SEED004, NULL, NULL, S(pb), 400, "unknown_field", "timeoutMs");
    refused(f, API_SHAPE_SEED004_PROBLEM, NULL, NULL,
            S("{\"language\":\"py\",\"code\":\"eA==\",\"timeoutMs\":99999999}"), 400,
            "out_of_range", "timeoutMs");
    /* what each field must be */
    refused(f, API_SHAPE_SEED004, NULL, NULL, S("{\"language\":\"py\",\"code\":\"print(1)\"}"), 400,
            "invalid_field", "code");
    refused(f, API_SHAPE_SEED004, NULL, NULL,
            S("{\"language\":\"py\",\"code\":\"eA==\",\"input\":\"@@\"}"), 400, "invalid_field",
            "input");
    refused(f, API_SHAPE_SEED004, NULL, NULL, S("{\"language\":\"py\",\"code\":\"\"}"), 400,
            "invalid_field", "code");
    refused(f, API_SHAPE_SEED004, NULL, NULL, S("{\"language\":\"py\"}"), 400, "invalid_field",
            "code");
    refused(f, API_SHAPE_SEED004, NULL, NULL, S("{\"code\":\"eA==\"}"), 400, "invalid_field",
            "language");
    refused(f, API_SHAPE_SEED004, NULL, NULL, S("{\"language\":\"cobol\",\"code\":\"eA==\"}"), 400,
            "unknown_language", "language");
    refused(f, API_SHAPE_SEED004, NULL, NULL, S("[1]"), 400, "invalid_json", "");
    refused(f, API_SHAPE_SEED004, NULL, NULL, S("{\"language\":\"py\",\"code\":\"eA==\",\"x\":1}"),
            400, "unknown_field", "x");
    /* input within max_stdin_kb, decoded */
    f->cfg.max_stdin_kb = 1;
    char raw[2048];
    memset(raw, 'a', sizeof(raw));
    char *big = moat_base64_encode(raw, sizeof(raw), NULL);
    assert_non_null(big);
    char body[4096];
    (void)snprintf(body, sizeof(body), "{\"language\":\"py\",\"code\":\"eA==\",\"input\":\"%s\"}",
                   big);
    refused(f, API_SHAPE_SEED004, NULL, NULL, S(body), 413, "payload_too_large", "input");
    free(big);
    config_defaults(&f->cfg);
    moat_strlcpy(f->cfg.cache_dir, f->cache, sizeof(f->cfg.cache_dir));
}

/* The repository's languages.ini, for what this host has installed. */
static void test_real_languages(void **state)
{
    struct fx *f = *state;
    const char *data = getenv("MOAT_TEST_DATA");
    if (!data)
        fail_msg("MOAT_TEST_DATA is not set (run through ctest)");
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/../../../languages.ini", data);
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    assert_int_equal(lang_registry_load(path, &reg, &err), 0);
    static const struct {
        const char *alias, *name;
    } cases[] = {{"py", "python"}, {"js", "javascript"}, {"c++", "cpp"}, {"golang", "go"}};
    unsigned tried = 0;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        const struct lang *l = lang_find(reg, cases[i].alias);
        assert_non_null(l);
        assert_string_equal(l->name, cases[i].name);
        char body[128];
        (void)snprintf(body, sizeof(body), "{\"language\":\"%s\",\"code\":\"1\"}", cases[i].alias);
        struct api_submit s;
        struct api_error e;
        int r = api_decode_submit(&f->cfg, reg, API_SHAPE_NATIVE, NULL, NULL, body, strlen(body),
                                  &s, &e);
        if (!lang_available(l)) {
            assert_int_equal(r, -EINVAL);
            assert_string_equal(e.code, "unknown_language");
            continue;
        }
        tried++;
        assert_int_equal(r, 0);
        assert_string_equal(s.job.language, cases[i].name);
        assert_true(s.job.version[0] >= '0' && s.job.version[0] <= '9');
        /* the major.minor prefix of the host's version is accepted */
        char want[64];
        moat_strlcpy(want, s.job.version, sizeof(want));
        char *dot = strchr(want, '.');
        if (dot && strchr(dot + 1, '.'))
            *strchr(dot + 1, '.') = '\0';
        job_release(&s.job);
        (void)snprintf(body, sizeof(body),
                       "{\"language\":\"%s\",\"code\":\"1\",\"version\":\"%s\"}", cases[i].alias,
                       want);
        r = api_decode_submit(&f->cfg, reg, API_SHAPE_NATIVE, NULL, NULL, body, strlen(body), &s,
                              &e);
        assert_int_equal(r, 0);
        job_release(&s.job);
        (void)snprintf(body, sizeof(body),
                       "{\"language\":\"%s\",\"code\":\"1\",\"version\":\"999.0\"}",
                       cases[i].alias);
        r = api_decode_submit(&f->cfg, reg, API_SHAPE_NATIVE, NULL, NULL, body, strlen(body), &s,
                              &e);
        assert_int_equal(r, -EINVAL);
        assert_string_equal(e.field, "version");
    }
    lang_registry_free(reg);
    /* scripts/deps.sh installs every language: none here is a broken host,
     * not a reason to pass */
    if (tried == 0)
        fail_msg("none of python, javascript, cpp, go is installed here");
}

/* callbackUrl: a URL kept with the job (native shape, pending); a refused
 * one is 400 naming the field; null is none; seed shapes do not know it. */
static void test_callback_url(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    ok_native(f,
              "{\"language\":\"python\",\"code\":\"1\","
              "\"callbackUrl\":\"https://example.com/hook?a=1\"}",
              &s);
    assert_string_equal(s.job.callback.url, "https://example.com/hook?a=1");
    assert_int_equal(s.job.callback.shape, JOB_CALLBACK_NATIVE);
    assert_int_equal(s.job.callback.status, JOB_CALLBACK_PENDING);
    assert_int_equal(s.job.callback.attempts, 0);
    job_release(&s.job);
    ok_native(f, "{\"language\":\"python\",\"code\":\"1\",\"callbackUrl\":null}", &s);
    assert_string_equal(s.job.callback.url, "");
    assert_int_equal(s.job.callback.status, JOB_CALLBACK_NONE);
    job_release(&s.job);
    const char *bad[] = {
        "\"http://127.0.0.1/\"",
        "\"http://[::1]/\"",
        "\"http://169.254.169.254/\"",
        "\"http://10.0.0.1/\"",
        "\"ftp://example.com/\"",
        "\"example.com\"",
        "\"\"",
        "1",
        "true",
        "[]",
        "{}",
        "\"http://example.com/\\u0000x\"",
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        char body[256];
        (void)snprintf(body, sizeof(body),
                       "{\"language\":\"python\",\"code\":\"1\",\"callbackUrl\":%s}", bad[i]);
        bad_native(f, body, 400, "invalid_field", "callbackUrl");
    }
    /* allowed by the setting */
    moat_strlcpy(f->cfg.webhook_allow, "127.0.0.0/8", sizeof(f->cfg.webhook_allow));
    ok_native(f,
              "{\"language\":\"python\",\"code\":\"1\","
              "\"callbackUrl\":\"http://127.0.0.1:8080/x\"}",
              &s);
    assert_string_equal(s.job.callback.url, "http://127.0.0.1:8080/x");
    job_release(&s.job);
    refused(f, API_SHAPE_SEED000, "application/json", NULL,
            S("{\"code\":\"1\",\"executionEngine\":\"python\","
              "\"callbackUrl\":\"https://example.com/\"}"),
            400, "unknown_field", "callbackUrl");
}

static void test_error_json(void **state)
{
    (void)state;
    struct api_error e;
    api_error_set(&e, 400, "unknown_field", "bogus", "unknown field %s", "bogus");
    json_t *j = api_error_json(&e);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text, "{\"error\":{\"code\":\"unknown_field\","
                              "\"message\":\"unknown field bogus\",\"field\":\"bogus\"}}");
    free(text);
    json_decref(j);

    api_error_set(&e, 415, "unsupported_media_type", NULL, "the body must be JSON");
    j = api_error_json(&e);
    text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text, "{\"error\":{\"code\":\"unsupported_media_type\","
                              "\"message\":\"the body must be JSON\"}}");
    free(text);
    json_decref(j);

    /* a field cut inside a UTF-8 sequence still renders, repaired */
    char name[80];
    memset(name, 'a', 62);
    memcpy(name + 62, "\xc3\xa9\xc3\xa9", 4);
    name[66] = '\0';
    api_error_set(&e, 400, "unknown_field", name, "unknown field %s", name);
    assert_int_equal(strlen(e.field), 63);
    j = api_error_json(&e);
    assert_non_null(j);
    const char *field = json_string_value(json_object_get(json_object_get(j, "error"), "field"));
    assert_non_null(field);
    assert_string_equal(field + 62, "\xef\xbf\xbd"); /* U+FFFD */
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_minimal_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_follows_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed002_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_languages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed004_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_languages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_url, setup, teardown),
        cmocka_unit_test(test_error_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
