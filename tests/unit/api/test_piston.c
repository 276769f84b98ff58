/* The Piston v2 API's pure parts: api_piston_decode (every field, every
 * refusal with Piston's message), api_piston_version_matches (node-semver's
 * ranges), and the renderers (every status, the compile stage, runtimes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/util.h"
#include "piston-internal.h"

/* Languages every host can run (/bin/sh) with fixed versions, one without
 * a version, one that is not available here. */
static const char test_langs[] =
    "[python]\naliases = py, python3\nextensions = .py\nsource = main.py\nrun = /bin/sh {main}\n"
    "version = /bin/echo 3.11.2\n"
    "[cpp]\naliases = c++, cxx\nextensions = .cpp, .cc\nsource = main.cpp\n"
    "compile = /bin/sh {files}\nrun = ./main\nversion = /bin/echo 12.2.0\n"
    "[javascript]\naliases = js, node\nextensions = .js\nsource = main.js\nrun = /bin/sh {main}\n"
    "version = /bin/echo 20.20.2\n"
    "[java]\nextensions = .java\nsource = {class}.java\nclass_rule = java\n"
    "compile = /bin/sh {files}\nrun = /bin/sh {class}\nversion = /bin/echo 17.0.15\n"
    "[noversion]\nsource = main.nv\nrun = /bin/sh {main}\n"
    "[ghost]\nsource = main.g\nrun = /nonexistent/bin/ghost {main}\n";

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
    moat_strlcpy(f->cache, "/tmp/moat-piston-test-XXXXXX", sizeof(f->cache));
    assert_non_null(mkdtemp(f->cache));
    moat_strlcpy(f->cfg.cache_dir, f->cache, sizeof(f->cfg.cache_dir));
    struct moat_err err = {0};
    assert_int_equal(lang_registry_parse(test_langs, strlen(test_langs), &f->langs, &err), 0);
    lang_registry_probe(f->langs, f->cache);
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
    assert_int_equal(nftw(f->cache, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(f);
    return 0;
}

static void ok(struct fx *f, const char *body, struct api_submit *s)
{
    struct api_error e;
    int r = api_piston_decode(&f->cfg, f->langs, "application/json", body, strlen(body), s, &e);
    if (r != 0)
        print_error("refused %s: %u %s: %s\n", body, e.status, e.field, e.message);
    assert_int_equal(r, 0);
    assert_true(s->wait);
}

/* A body refused with exactly this status and Piston message, the output
 * untouched. */
static void refused_ct(struct fx *f, const char *ct, const char *body, size_t len, unsigned status,
                       const char *message)
{
    struct api_submit s, before;
    memset(&s, 0x5a, sizeof(s));
    memcpy(&before, &s, sizeof(s));
    struct api_error e;
    int r = api_piston_decode(&f->cfg, f->langs, ct, body, len, &s, &e);
    if (r != -EINVAL || e.status != status || strcmp(e.message, message) != 0)
        print_error("body %.200s: got %d %u '%s', want %u '%s'\n", body, r, e.status, e.message,
                    status, message);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(e.status, status);
    assert_string_equal(e.message, message);
    assert_memory_equal(&s, &before, sizeof(s));
    json_t *o = api_piston_error_json(&e);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 1);
    assert_string_equal(json_string_value(json_object_get(o, "message")), message);
    json_decref(o);
}

static void refused(struct fx *f, const char *body, unsigned status, const char *message)
{
    refused_ct(f, "application/json", body, strlen(body), status, message);
}

#define PY(rest)                                                                                   \
    "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"}]" rest "}"

static void test_minimal(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    ok(f, PY(""), &s);
    assert_string_equal(s.job.language, "python");
    assert_string_equal(s.job.language_given, "python");
    assert_string_equal(s.job.version, "3.11.2");
    assert_int_equal(s.job.nfiles, 1);
    assert_null(s.job.files[0].name); /* named by moat's rule: main.py */
    assert_memory_equal(s.job.files[0].data, "print(1)", 8);
    assert_null(s.job.stdin_data);
    assert_int_equal(s.job.nargs, 0);
    assert_memory_equal(&s.job.limits, &f->cfg.limits, sizeof(s.job.limits));
    assert_int_equal(s.job.priority, JOB_PRIORITY_DEFAULT);
    job_release(&s.job);
}

static void test_every_field(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    ok(f,
       "{\"language\":\"py\",\"version\":\"3.11\",\"files\":["
       "{\"name\":\"data.bin\",\"content\":\"AAEC\",\"encoding\":\"base64\"},"
       "{\"name\":\"prog.py\",\"content\":\"print(2)\"},"
       "{\"content\":\"6869\",\"encoding\":\"hex\"},"
       "{\"name\":\"lib.py\",\"content\":\"x=1\",\"encoding\":\"utf8\"}],"
       "\"stdin\":\"a\\nb\",\"args\":[\"1\",\"two words\"],"
       "\"compile_timeout\":5000,\"run_timeout\":2500,\"compile_cpu_time\":4000,"
       "\"run_cpu_time\":1500,\"compile_memory_limit\":100000000,"
       "\"run_memory_limit\":67108865,\"unknown\":true}",
       &s);
    assert_string_equal(s.job.language, "python");
    assert_string_equal(s.job.language_given, "py");
    assert_int_equal(s.job.nfiles, 4);
    /* the first utf8 file is the main one; it keeps a name of its language */
    assert_string_equal(s.job.files[0].name, "prog.py");
    assert_string_equal(s.job.files[1].name, "data.bin");
    assert_int_equal(s.job.files[1].len, 3);
    assert_memory_equal(s.job.files[1].data, "\x00\x01\x02", 3);
    assert_string_equal(s.job.files[2].name, "file2.code");
    assert_int_equal(s.job.files[2].len, 2);
    assert_memory_equal(s.job.files[2].data, "hi", 2);
    assert_string_equal(s.job.files[3].name, "lib.py");
    /* Piston ends stdin with a newline */
    assert_int_equal(s.job.stdin_len, 4);
    assert_memory_equal(s.job.stdin_data, "a\nb\n", 4);
    assert_int_equal(s.job.nargs, 2);
    assert_string_equal(s.job.args[1], "two words");
    assert_int_equal(s.job.limits.wall_time_ms, 2500);
    assert_int_equal(s.job.limits.time_ms, 1500);
    assert_int_equal(s.job.limits.memory_mb, 65); /* bytes, rounded up to MiB */
    job_release(&s.job);
}

static void test_main_file_names(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    /* a main file named without its language's extension: moat names it */
    ok(f,
       "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"name\":\"script\","
       "\"content\":\"print(1)\"},{\"content\":\"x\"}]}",
       &s);
    assert_null(s.job.files[0].name);
    assert_string_equal(s.job.files[1].name, "file1.code");
    job_release(&s.job);
    /* an empty or null name is no name, as Piston reads it */
    ok(f,
       "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"name\":null,"
       "\"content\":\"print(1)\"},{\"name\":\"\",\"content\":\"x\"}]}",
       &s);
    assert_null(s.job.files[0].name);
    assert_string_equal(s.job.files[1].name, "file1.code");
    job_release(&s.job);
    /* stdin already ending with a newline, and an empty one, stay as they are */
    ok(f, PY(",\"stdin\":\"x\\n\""), &s);
    assert_int_equal(s.job.stdin_len, 2);
    job_release(&s.job);
    ok(f, PY(",\"stdin\":\"\""), &s);
    assert_null(s.job.stdin_data);
    job_release(&s.job);
    /* a file named as moat names the main one */
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"},"
            "{\"name\":\"main.py\",\"content\":\"x\"}]}",
            400, "file name main.py is given twice");
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"},"
            "{\"name\":\"a.py\",\"content\":\"x\"},{\"name\":\"a.py\",\"content\":\"y\"}]}",
            400, "file name a.py is given twice");
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"name\":\"../x.py\","
            "\"content\":\"print(1)\"}]}",
            400,
            "files[0].name must be a relative path of [A-Za-z0-9._$-] components, at most 255 "
            "bytes");
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"name\":7,"
            "\"content\":\"print(1)\"}]}",
            400, "files[0].name must be a string");
    refused(f, "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"\"}]}", 400,
            "the main file must not be empty");
}

static void test_piston_messages(void **state)
{
    struct fx *f = *state;
    refused(f, "{}", 400, "language is required as a string");
    refused(f, "{\"language\":\"\"}", 400, "language is required as a string");
    refused(f, "{\"language\":3}", 400, "language is required as a string");
    refused(f, "{\"language\":\"python\"}", 400, "version is required as a string");
    refused(f, "{\"language\":\"python\",\"version\":1}", 400, "version is required as a string");
    refused(f, "{\"language\":\"python\",\"version\":\"*\"}", 400, "files is required as an array");
    refused(f, "{\"language\":\"python\",\"version\":\"*\",\"files\":{}}", 400,
            "files is required as an array");
    refused(f, "{\"language\":\"python\",\"version\":\"*\",\"files\":[{}]}", 400,
            "files[0].content is required as a string");
    refused(f, "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"x\"},5]}", 400,
            "files[1].content is required as a string");
    refused(f, "{\"language\":\"cobol\",\"version\":\"*\",\"files\":[]}", 400,
            "cobol-* runtime is unknown");
    refused(f, "{\"language\":\"python\",\"version\":\"2\",\"files\":[]}", 400,
            "python-2 runtime is unknown");
    refused(f, "{\"language\":\"ghost\",\"version\":\"*\",\"files\":[]}", 400,
            "ghost-* runtime is unknown");
    refused(f, "{\"language\":\"python\",\"version\":\"*\",\"files\":[]}", 400,
            "files must include at least one utf8 encoded file");
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"AA==\","
            "\"encoding\":\"base64\"}]}",
            400, "files must include at least one utf8 encoded file");
    refused_ct(f, "application/x-www-form-urlencoded", S(PY("")), 415,
               "requests must be of type application/json");
}

static void test_limits(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    /* -1: the server's maximum; 0 and null: the default (Piston skips falsy values) */
    ok(f,
       PY(",\"run_timeout\":-1,\"run_cpu_time\":-1,\"run_memory_limit\":-1,"
          "\"compile_timeout\":-1,\"compile_cpu_time\":-1,\"compile_memory_limit\":-1"),
       &s);
    assert_int_equal(s.job.limits.time_ms, f->cfg.max_limits.time_ms);
    assert_int_equal(s.job.limits.wall_time_ms, f->cfg.max_limits.wall_time_ms);
    assert_int_equal(s.job.limits.memory_mb, f->cfg.max_limits.memory_mb);
    job_release(&s.job);
    ok(f, PY(",\"run_timeout\":0,\"run_cpu_time\":null,\"run_memory_limit\":false"), &s);
    assert_memory_equal(&s.job.limits, &f->cfg.limits, sizeof(s.job.limits));
    job_release(&s.job);
    /* a wall limit below the default CPU limit lowers it */
    ok(f, PY(",\"run_timeout\":500"), &s);
    assert_int_equal(s.job.limits.wall_time_ms, 500);
    assert_int_equal(s.job.limits.time_ms, 500);
    job_release(&s.job);
    /* piston-client's defaults */
    ok(f,
       PY(",\"compile_timeout\":10000,\"run_timeout\":3000,\"compile_memory_limit\":-1,"
          "\"run_memory_limit\":-1"),
       &s);
    job_release(&s.job);

    refused(f, PY(",\"run_timeout\":\"5\""), 400, "If specified, run_timeout must be a number");
    refused(f, PY(",\"compile_memory_limit\":true"), 400,
            "If specified, compile_memory_limit must be a number");
    refused(f, PY(",\"run_timeout\":60001"), 400,
            "run_timeout cannot exceed the configured limit of 60000");
    refused(f, PY(",\"run_cpu_time\":10001"), 400,
            "run_cpu_time cannot exceed the configured limit of 10000");
    refused(f, PY(",\"run_memory_limit\":1073741825"), 400,
            "run_memory_limit cannot exceed the configured limit of 1073741824");
    refused(f, PY(",\"compile_cpu_time\":10001"), 400,
            "compile_cpu_time cannot exceed the configured limit of 10000");
    refused(f, PY(",\"compile_timeout\":20001"), 400,
            "compile_timeout cannot exceed the configured limit of 20000");
    refused(f, PY(",\"compile_memory_limit\":536870913"), 400,
            "compile_memory_limit cannot exceed the configured limit of 536870912");
    refused(f, PY(",\"run_timeout\":-2"), 400, "run_timeout must be non-negative");
    /* Piston's order: memory limits first, compile before run */
    refused(f, PY(",\"run_timeout\":-2,\"run_memory_limit\":-5,\"compile_memory_limit\":\"x\""),
            400, "If specified, compile_memory_limit must be a number");
}

static void test_files_and_inputs(void **state)
{
    struct fx *f = *state;
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"},"
            "{\"content\":\"xyz\",\"encoding\":\"hex\"}]}",
            400, "files[1].content is not valid hex");
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"},"
            "{\"content\":\"zz\",\"encoding\":\"hex\"}]}",
            400, "files[1].content is not valid hex");
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"},"
            "{\"content\":\"@@\",\"encoding\":\"base64\"}]}",
            400, "files[1].content is not valid base64");
    refused(f,
            "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"print(1)\"},"
            "{\"content\":\"x\",\"encoding\":\"utf16\"}]}",
            400, "files[1].encoding must be one of utf8, base64 or hex");
    refused(f, PY(",\"stdin\":5"), 400, "stdin must be a string");
    refused(f, PY(",\"args\":\"1 2\""), 400, "args must be an array of strings");
    refused(f, PY(",\"args\":[\"1\",2]"), 400, "args[1] must be a string");
    refused(f, PY(",\"args\":[\"a\\u0000b\"]"), 400, "args[0] must not contain NUL characters");
    refused(f, "[1]", 400, "the body must be a JSON object");
    refused(f, "{\"language\":", 400,
            "invalid JSON at line 1 column 12: unexpected token near end of file");

    /* sizes: code and stdin within the server's limits (413) */
    f->cfg.max_code_kb = 1;
    f->cfg.max_stdin_kb = 1;
    char big[2200];
    int n = snprintf(
        big, sizeof(big),
        "{\"language\":\"python\",\"version\":\"*\",\"files\":[{\"content\":\"%01025d\"}]}", 0);
    assert_true(n > 0 && (size_t)n < sizeof(big));
    refused(f, big, 413, "files are larger than 1 KiB together");
    n = snprintf(big, sizeof(big), PY(",\"stdin\":\"%01024d\""), 0);
    assert_true(n > 0 && (size_t)n < sizeof(big));
    /* 1024 bytes and the newline Piston adds */
    refused(f, big, 413, "stdin is larger than 1 KiB");
}

static void test_media_types(void **state)
{
    struct fx *f = *state;
    static const char *const ok_types[] = {NULL, "application/json",
                                           "application/json; charset=utf-8",
                                           "text/plain;charset=UTF-8", ""};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(ok_types); i++) {
        struct api_submit s;
        struct api_error e;
        assert_int_equal(api_piston_decode(&f->cfg, f->langs, ok_types[i], S(PY("")), &s, &e), 0);
        job_release(&s.job);
    }
    refused_ct(f, "multipart/form-data", S(PY("")), 415,
               "requests must be of type application/json");
}

static void test_runtime_lookup(void **state)
{
    struct fx *f = *state;
    struct api_submit s;
    static const struct {
        const char *lang, *version, *want;
    } cases[] = {
        {"c++", "12.2.0", "cpp"},         {"cpp", "12", "cpp"},
        {"CXX", "^12.1", "cpp"},          {"node", "20.x", "javascript"},
        {"js", ">=18 <21", "javascript"}, {"python3", "~3.11.0", "python"},
        {"noversion", "*", "noversion"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        char body[256];
        (void)snprintf(body, sizeof(body),
                       "{\"language\":\"%s\",\"version\":\"%s\",\"files\":[{\"content\":\"x\"}]}",
                       cases[i].lang, cases[i].version);
        ok(f, body, &s);
        assert_string_equal(s.job.language, cases[i].want);
        assert_string_equal(s.job.language_given, cases[i].lang);
        job_release(&s.job);
    }
    refused(f, "{\"language\":\"noversion\",\"version\":\"1\",\"files\":[]}", 400,
            "noversion-1 runtime is unknown");
    refused(f, "{\"language\":\"python\",\"version\":\"3.12\",\"files\":[]}", 400,
            "python-3.12 runtime is unknown");
    refused(f, "{\"language\":\"python\",\"version\":\"junk\",\"files\":[]}", 400,
            "python-junk runtime is unknown");
    /* Java: the main file named by its class */
    ok(f,
       "{\"language\":\"java\",\"version\":\"17\",\"files\":[{\"content\":\"public class Hi {}\"},"
       "{\"name\":\"Util.java\",\"content\":\"x\"}]}",
       &s);
    assert_null(s.job.files[0].name);
    job_release(&s.job);
    refused(
        f,
        "{\"language\":\"java\",\"version\":\"17\",\"files\":[{\"content\":\"public class Hi {}\"},"
        "{\"name\":\"Hi.java\",\"content\":\"x\"}]}",
        400, "file name Hi.java is given twice");
}

static void test_semver(void **state)
{
    (void)state;
    static const struct {
        const char *version, *range;
        bool match;
    } cases[] = {
        {"3.11.2", "*", true},
        {"3.11.2", "x", true},
        {"3.11.2", "", true},
        {"3.11.2", "3.11.2", true},
        {"3.11.2", "=3.11.2", true},
        {"3.11.2", "v3.11.2", true},
        {"3.11.2", "3.11.3", false},
        {"3.11.2", "3.11", true},
        {"3.11.2", "3", true},
        {"3.11.2", "3.x", true},
        {"3.11.2", "3.11.x", true},
        {"3.11.2", "3.11.*", true},
        {"3.11.2", "3.10", false},
        {"3.11.2", "4", false},
        {"3.11.2", ">3.11.1", true},
        {"3.11.2", ">3.11.2", false},
        {"3.11.2", ">3.10", true},
        {"3.11.2", ">3.11", false},
        {"3.11.2", ">=3.11.2", true},
        {"3.11.2", ">= 3.11.3", false},
        {"3.11.2", "<3.11.3", true},
        {"3.11.2", "<3.11", false},
        {"3.11.2", "<=3.11", true},
        {"3.11.2", "<=3.10", false},
        {"3.11.2", "^3.0.0", true},
        {"3.11.2", "^3.12", false},
        {"3.11.2", "^4", false},
        {"0.2.5", "^0.2.3", true},
        {"0.3.0", "^0.2.3", false},
        {"0.0.3", "^0.0.3", true},
        {"0.0.4", "^0.0.3", false},
        {"3.11.2", "~3.11.0", true},
        {"3.12.0", "~3.11.0", false},
        {"3.11.2", "~3", true},
        {"3.11.2", "~>3.11", true},
        {"3.11.2", "3.0.0 - 3.11.2", true},
        {"3.11.3", "3.0.0 - 3.11.2", false},
        {"3.11.9", "3.0 - 3.11", true},
        {"3.12.0", "3.0 - 3.11", false},
        {"3.11.2", ">=3 <4", true},
        {"3.11.2", ">=3 <3.11", false},
        {"3.11.2", "2.x || 3.11", true},
        {"3.11.2", "2.x || 4.x", false},
        {"3.11.2", "1 || junk", false},
        {"3.11.2", ">*", false},
        {"3.11.2", "<x", false},
        {"3.11.2", "3.11.2-beta", true},
        {"1.63.0-nightly", "1.63", true},
        {"12", "12.0.0", true},
        {"5.4", "5.4.0", true},
        {"3.11.2", "junk", false},
        {"3.11.2", "3..1", false},
        {"3.11.2", "3.", false},
        {"3.11.2", "99999999999", false},
        {"3.11.2", ">", false},
        {"3.11.2", "1 - ", false},
        {"", "*", false},
        {"junk", "*", false},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        bool got = api_piston_version_matches(cases[i].version, cases[i].range);
        if (got != cases[i].match)
            print_error("%s against '%s': got %d\n", cases[i].version, cases[i].range, got);
        assert_int_equal(got, cases[i].match);
    }
    char many[400];
    memset(many, 'x', sizeof(many) - 1);
    many[sizeof(many) - 1] = '\0';
    assert_false(api_piston_version_matches("1.2.3", many)); /* over 256 bytes */
}

/* ---- rendering ---- */

static void set_bytes(char **dst, size_t *len, const char *text)
{
    *len = strlen(text);
    *dst = moat_memdup0(text, *len);
    assert_non_null(*dst);
}

static char *stage_text(const struct job_step *s)
{
    json_t *o = api_piston_stage_json(s);
    assert_non_null(o);
    char *t = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    json_decref(o);
    assert_non_null(t);
    return t;
}

static void expect_stage(struct job_step *s, const char *want)
{
    char *t = stage_text(s);
    if (strcmp(t, want) != 0)
        print_error("got  %s\nwant %s\n", t, want);
    assert_string_equal(t, want);
    free(t);
}

#define STAGE(code, signal, message, status)                                                       \
    "{\"stdout\":\"o\",\"stderr\":\"e\",\"output\":\"oe\",\"code\":" code ",\"signal\":" signal    \
    ",\"message\":" message ",\"status\":" status                                                  \
    ",\"cpu_time\":12,\"wall_time\":15,\"memory\":2048}"

static void test_stage_statuses(void **state)
{
    (void)state;
    struct job_step s = {.time_ms = 12, .wall_time_ms = 15, .memory_kb = 2};
    set_bytes(&s.out, &s.out_len, "o");
    set_bytes(&s.err, &s.err_len, "e");
    s.verdict = JOB_VERDICT_OK;
    expect_stage(&s, STAGE("0", "null", "null", "null"));
    s.verdict = JOB_VERDICT_RUNTIME_ERROR;
    s.exit_code = 3;
    expect_stage(&s, STAGE("3", "null", "\"Exited with error status 3\"", "\"RE\""));
    s.exit_code = 0;
    s.signal = 11;
    expect_stage(&s, STAGE("null", "\"SIGSEGV\"", "\"Caught fatal signal 11\"", "\"SG\""));
    s.signal = 0;
    s.verdict = JOB_VERDICT_TIME_LIMIT;
    expect_stage(&s, STAGE("null", "\"SIGKILL\"", "\"Time limit exceeded\"", "\"TO\""));
    s.verdict = JOB_VERDICT_MEMORY_LIMIT;
    expect_stage(&s, STAGE("null", "\"SIGKILL\"", "\"Memory limit exceeded\"", "\"SG\""));
    s.verdict = JOB_VERDICT_OUTPUT_LIMIT;
    s.out_truncated = true;
    expect_stage(&s, STAGE("null", "\"SIGKILL\"", "\"stdout length exceeded\"", "\"OL\""));
    s.out_truncated = false;
    s.err_truncated = true;
    expect_stage(&s, STAGE("null", "\"SIGKILL\"", "\"stderr length exceeded\"", "\"EL\""));
    s.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(s.message, "no box", sizeof(s.message));
    expect_stage(&s, STAGE("null", "null", "\"Internal Error (no box)\"", "\"XX\""));
    s.verdict = JOB_VERDICT_CANCELLED;
    s.message[0] = '\0';
    char *t = stage_text(&s);
    assert_non_null(strstr(t, "\"status\":\"XX\""));
    free(t);
    job_step_release(&s);

    /* bytes that are not UTF-8, and NULs, are repaired, never refused */
    struct job_step b = {.verdict = JOB_VERDICT_OK};
    b.out = moat_memdup0("a\xff", 2);
    b.out_len = 2;
    b.err = moat_memdup0("\0z", 2);
    b.err_len = 2;
    expect_stage(&b, "{\"stdout\":\"a\xef\xbf\xbd\",\"stderr\":\"\\u0000z\",\"output\":"
                     "\"a\xef\xbf\xbd\\u0000z\",\"code\":0,\"signal\":null,\"message\":null,"
                     "\"status\":null,\"cpu_time\":0,\"wall_time\":0,\"memory\":0}");
    job_step_release(&b);
}

static void make_job(struct job *j, const char *language)
{
    *j = (struct job){.status = JOB_STATUS_COMPLETED};
    moat_strlcpy(j->language, language, sizeof(j->language));
    moat_strlcpy(j->version, "12.2.0", sizeof(j->version));
}

static char *job_text(const struct job *j)
{
    json_t *o = api_piston_job_json(j);
    assert_non_null(o);
    char *t = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    json_decref(o);
    assert_non_null(t);
    return t;
}

static void test_job(void **state)
{
    (void)state;
    struct job j;
    make_job(&j, "python");
    j.run.verdict = JOB_VERDICT_OK;
    set_bytes(&j.run.out, &j.run.out_len, "hi\n");
    char *t = job_text(&j);
    assert_string_equal(t, "{\"language\":\"python\",\"version\":\"12.2.0\",\"run\":{\"stdout\":"
                           "\"hi\\n\",\"stderr\":\"\",\"output\":\"hi\\n\",\"code\":0,"
                           "\"signal\":null,\"message\":null,\"status\":null,\"cpu_time\":0,"
                           "\"wall_time\":0,\"memory\":0}}");
    free(t);
    job_release(&j);

    /* compiled: both stages, Piston's name of C++ */
    make_job(&j, "cpp");
    j.compiled = true;
    j.compile.verdict = JOB_VERDICT_OK;
    j.run.verdict = JOB_VERDICT_RUNTIME_ERROR;
    j.run.exit_code = 1;
    t = job_text(&j);
    assert_non_null(strstr(t, "\"language\":\"c++\""));
    assert_non_null(strstr(t, "\"run\":{\"stdout\":\"\",\"stderr\":\"\",\"output\":\"\","
                              "\"code\":1,"));
    assert_non_null(strstr(t, "\"compile\":{\"stdout\":\"\",\"stderr\":\"\",\"output\":\"\","
                              "\"code\":0,"));
    free(t);
    job_release(&j);

    /* a failed compile: run is a copy of compile */
    make_job(&j, "cpp");
    j.compiled = true;
    j.compile.verdict = JOB_VERDICT_RUNTIME_ERROR;
    j.compile.exit_code = 1;
    set_bytes(&j.compile.err, &j.compile.err_len, "error: x");
    j.run.verdict = JOB_VERDICT_COMPILE_ERROR;
    j.run.exit_code = 1;
    json_t *o = api_piston_job_json(&j);
    assert_non_null(o);
    assert_true(json_equal(json_object_get(o, "run"), json_object_get(o, "compile")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "run"), "status")),
                        "RE");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "run"), "stderr")),
                        "error: x");
    json_decref(o);
    job_release(&j);

    /* a failed job: XX with moat's message */
    make_job(&j, "python");
    j.status = JOB_STATUS_FAILED;
    j.run.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(j.run.message, "the sandbox failed", sizeof(j.run.message));
    o = api_piston_job_json(&j);
    json_t *run = json_object_get(o, "run");
    assert_string_equal(json_string_value(json_object_get(run, "status")), "XX");
    assert_string_equal(json_string_value(json_object_get(run, "message")),
                        "Internal Error (the sandbox failed)");
    assert_null(json_object_get(o, "compile"));
    json_decref(o);
    job_release(&j);
}

static void test_runtimes(void **state)
{
    struct fx *f = *state;
    json_t *a = api_piston_runtimes_json(f->langs, f->cache);
    assert_non_null(a);
    char *t = json_dumps(a, JOB_JSON_DUMP_FLAGS);
    json_decref(a);
    assert_string_equal(
        t, "[{\"language\":\"python\",\"version\":\"3.11.2\",\"aliases\":[\"py\",\"python3\","
           "\"py3\"]},"
           "{\"language\":\"c++\",\"version\":\"12.2.0\",\"aliases\":[\"cpp\",\"cxx\"]},"
           "{\"language\":\"javascript\",\"version\":\"20.20.2\",\"aliases\":[\"js\",\"node\","
           "\"node-javascript\",\"node-js\"],"
           "\"runtime\":\"node\"},"
           "{\"language\":\"java\",\"version\":\"17.0.15\",\"aliases\":[]},"
           "{\"language\":\"noversion\",\"version\":\"*\",\"aliases\":[]}]");
    free(t);
    assert_string_equal(api_piston_language_name("cpp"), "c++");
    assert_string_equal(api_piston_language_name("go"), "go");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_file_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_piston_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_and_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_lookup, setup, teardown),
        cmocka_unit_test(test_semver),
        cmocka_unit_test(test_stage_statuses),
        cmocka_unit_test(test_job),
        cmocka_unit_test_setup_teardown(test_runtimes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
