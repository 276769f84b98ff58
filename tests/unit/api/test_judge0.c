/* The Judge0 decoder and renderers: every request field accepted and
 * refused (with Judge0's 422 body), every status id from moat's verdicts,
 * Ruby's base64 both ways, ?fields= parsing and filtering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge0-internal.h"
#include "judge0_zips.h"
#include "moat/util.h"

#define ID "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f"
#define T0 1795298400000LL /* 2026-11-21T22:00:00.000Z */

static const char test_langs[] = "[python]\nsource = main.py\nrun = /bin/sh {main}\n"
                                 "judge0_ids = 71\n"
                                 "[c]\ndisplay = C (GCC 12, C17)\nsource = main.c\n"
                                 "compile = /bin/sh {files}\nrun = ./main\njudge0_ids = 48, 50\n"
                                 "[ghost]\nsource = main.g\nrun = /nonexistent/ghost {main}\n"
                                 "judge0_ids = 99\n";

struct fx {
    struct moat_config cfg;
    struct lang_registry *langs;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    config_defaults(&f->cfg);
    struct moat_err err = {0};
    assert_int_equal(lang_registry_parse(test_langs, strlen(test_langs), &f->langs, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    lang_registry_free(f->langs);
    free(f);
    return 0;
}

static int decode(struct fx *f, const char *body, bool b64, struct j0_submit *s, json_t **errors)
{
    json_error_t jerr;
    json_t *o = json_loads(body, JSON_ALLOW_NUL, &jerr);
    assert_non_null(o);
    int r = j0_decode_submission(&f->cfg, f->langs, o, b64, s, errors);
    json_decref(o);
    return r;
}

static void ok(struct fx *f, const char *body, bool b64, struct j0_submit *s)
{
    json_t *errors = NULL;
    int r = decode(f, body, b64, s, &errors);
    if (r != 0) {
        char *t = json_dumps(errors, 0);
        print_error("refused %s: %s\n", body, t);
        free(t);
    }
    assert_int_equal(r, 0);
    assert_null(errors);
}

/* Refused with exactly the errors body want (compact JSON, sorted keys). */
static void refused(struct fx *f, const char *body, bool b64, const char *want)
{
    struct j0_submit s = {0};
    json_t *errors = NULL;
    assert_int_equal(decode(f, body, b64, &s, &errors), -EINVAL);
    assert_non_null(errors);
    char *got = json_dumps(errors, JSON_COMPACT | JSON_SORT_KEYS);
    if (!want) { /* one field's refusal, its words another module's */
        assert_int_equal(json_object_size(errors), 1);
        assert_non_null(json_object_get(errors, "callback_url"));
        free(got);
        json_decref(errors);
        return;
    }
    if (strcmp(got, want) != 0)
        print_error("%s\n got  %s\n want %s\n", body, got, want);
    assert_string_equal(got, want);
    free(got);
    json_decref(errors);
    assert_null(s.job.files);
}

static void test_decode_fields(void **state)
{
    struct fx *f = *state;
    struct j0_submit s;
    ok(f,
       "{\"source_code\":\"print(1)\",\"language_id\":71,\"stdin\":\"in\","
       "\"expected_output\":\"1\",\"cpu_time_limit\":2.5,\"cpu_extra_time\":0.5,"
       "\"wall_time_limit\":6,\"memory_limit\":131000,\"stack_limit\":8192,"
       "\"max_processes_and_or_threads\":16,\"max_file_size\":2048,"
       "\"enable_per_process_and_thread_time_limit\":false,"
       "\"enable_per_process_and_thread_memory_limit\":false,"
       "\"redirect_stderr_to_stdout\":false,\"enable_network\":false,\"number_of_runs\":1,"
       "\"compiler_options\":\"\",\"additional_files\":null,"
       "\"command_line_arguments\":\"a 'b c' \\\"d\\\\\\\"e\\\" f\\\\ g\","
       "\"callback_url\":\"https://example.com/cb\",\"something_else\":[1]}",
       false, &s);
    assert_string_equal(s.job.language, "python");
    assert_string_equal(s.job.language_given, "71");
    assert_int_equal(s.job.nfiles, 1);
    assert_null(s.job.files[0].name);
    assert_string_equal(s.job.files[0].data, "print(1)");
    assert_string_equal(s.job.stdin_data, "in");
    assert_true(s.job.judged);
    assert_string_equal(s.job.expected, "1");
    assert_int_equal(s.job.compare.mode, JOB_COMPARE_TRIM);
    assert_int_equal(s.job.limits.time_ms, 2500);
    assert_int_equal(s.job.limits.wall_time_ms, 6000);
    assert_int_equal(s.job.limits.memory_mb, 128); /* 131000 KB, rounded up to MiB */
    assert_int_equal(s.job.limits.stack_kb, 8192);
    assert_int_equal(s.job.limits.max_processes, 16);
    assert_int_equal(s.job.limits.max_file_kb, 2048);
    assert_int_equal(s.job.nargs, 4);
    assert_string_equal(s.job.args[0], "a");
    assert_string_equal(s.job.args[1], "b c");
    assert_string_equal(s.job.args[2], "d\"e");
    assert_string_equal(s.job.args[3], "f g");
    assert_string_equal(s.callback_url, "https://example.com/cb");
    json_t *m = json_loads(s.job.metadata_json, 0, NULL);
    assert_non_null(m);
    assert_true(
        json_number_value(json_object_get(json_object_get(m, "judge0"), "cpu_extra_time")) == 0.5);
    /* the webhook's, in Judge0's shape */
    assert_string_equal(s.job.callback.url, "https://example.com/cb");
    assert_int_equal(s.job.callback.shape, JOB_CALLBACK_JUDGE0);
    assert_int_equal(s.job.callback.status, JOB_CALLBACK_PENDING);
    json_decref(m);
    j0_submit_release(&s);

    /* the defaults: moat's; a CPU limit alone derives the wall limit */
    ok(f, "{\"source_code\":\"x\",\"language_id\":50,\"cpu_time_limit\":1}", false, &s);
    assert_string_equal(s.job.language, "c");
    assert_int_equal(s.job.limits.time_ms, 1000);
    assert_int_equal(s.job.limits.wall_time_ms, 0);
    assert_int_equal(s.job.limits.memory_mb, f->cfg.limits.memory_mb);
    assert_false(s.job.judged);
    assert_null(s.job.metadata_json);
    assert_null(s.callback_url);
    j0_submit_release(&s);

    /* number_of_runs: as many identical tests, stopping at the first failure */
    ok(f,
       "{\"source_code\":\"x\",\"language_id\":71,\"number_of_runs\":3,\"stdin\":\"in\","
       "\"expected_output\":\"out\"}",
       false, &s);
    assert_int_equal(s.job.ntests, 3);
    assert_true(s.job.stop_on_failure);
    assert_false(s.job.judged);
    assert_null(s.job.stdin_data);
    assert_int_equal(s.job.compare.mode, JOB_COMPARE_TRIM);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(s.job.tests[i].stdin_data, "in");
        assert_true(s.job.tests[i].judged);
        assert_string_equal(s.job.tests[i].expected, "out");
    }
    j0_submit_release(&s);
    ok(f, "{\"source_code\":\"x\",\"language_id\":71,\"number_of_runs\":2}", false, &s);
    assert_int_equal(s.job.ntests, 2);
    assert_string_equal(s.job.tests[1].stdin_data, "");
    assert_false(s.job.tests[1].judged);
    j0_submit_release(&s);
    ok(f, "{\"source_code\":\"x\",\"language_id\":71,\"number_of_runs\":1}", false, &s);
    assert_int_equal(s.job.ntests, 0);
    j0_submit_release(&s);

    /* base64, with and without Ruby's newlines */
    ok(f,
       "{\"source_code\":\"cHJpbnQo\\nMSk=\\n\",\"language_id\":71,\"stdin\":\"aGk=\","
       "\"expected_output\":\"MQ==\\r\\n\"}",
       true, &s);
    assert_string_equal(s.job.files[0].data, "print(1)");
    assert_string_equal(s.job.stdin_data, "hi");
    assert_string_equal(s.job.expected, "1");
    j0_submit_release(&s);
}

static void test_decode_refusals(void **state)
{
    struct fx *f = *state;
    refused(f, "{}", false,
            "{\"language_id\":[\"can't be blank\"],\"source_code\":[\"can't be blank\"]}");
    refused(f, "[1]", false, "{\"base\":[\"a submission must be a JSON object\"]}");
    refused(f, "{\"source_code\":\"\",\"language_id\":71}", false,
            "{\"source_code\":[\"can't be blank\"]}");
    refused(f, "{\"source_code\":1,\"language_id\":71}", false,
            "{\"source_code\":[\"must be a string\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":\"71\"}", false,
            "{\"language_id\":[\"is not a number\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":70}", false,
            "{\"language_id\":[\"language with id 70 doesn't exist\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":99}", false, /* not on this host */
            "{\"language_id\":[\"language with id 99 doesn't exist\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":-1}", false,
            "{\"language_id\":[\"language with id -1 doesn't exist\"]}");
    refused(f, "{\"source_code\":\"@@\",\"language_id\":71}", true,
            "{\"source_code\":[\"is not valid base64\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"stdin\":\"%%\"}", true,
            "{\"source_code\":[\"is not valid base64\"],\"stdin\":[\"is not valid base64\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"cpu_time_limit\":0}", false,
            "{\"cpu_time_limit\":[\"must be greater than or equal to 0.001\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"cpu_time_limit\":\"1\"}", false,
            "{\"cpu_time_limit\":[\"is not a number\"]}");
    char body[512], want[256];
    (void)snprintf(body, sizeof(body),
                   "{\"source_code\":\"x\",\"language_id\":71,\"cpu_time_limit\":%.15g}",
                   (double)f->cfg.max_limits.time_ms / 1000.0 + 0.5);
    (void)snprintf(want, sizeof(want),
                   "{\"cpu_time_limit\":[\"must be less than or equal to %.15g\"]}",
                   (double)f->cfg.max_limits.time_ms / 1000.0);
    refused(f, body, false, want);
    (void)snprintf(body, sizeof(body),
                   "{\"source_code\":\"x\",\"language_id\":71,\"memory_limit\":%llu}",
                   (unsigned long long)f->cfg.max_limits.memory_mb * 1024 + 1);
    (void)snprintf(want, sizeof(want),
                   "{\"memory_limit\":[\"must be less than or equal to %llu\"]}",
                   (unsigned long long)f->cfg.max_limits.memory_mb * 1024);
    refused(f, body, false, want);
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"memory_limit\":1.5}", false,
            "{\"memory_limit\":[\"must be an integer\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"memory_limit\":1000}", false,
            "{\"memory_limit\":[\"must be greater than or equal to 1024\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"stack_limit\":0}", false,
            "{\"stack_limit\":[\"must be greater than or equal to 1\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"max_processes_and_or_threads\":0}",
            false, "{\"max_processes_and_or_threads\":[\"must be greater than or equal to 1\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"max_file_size\":0}", false,
            "{\"max_file_size\":[\"must be greater than or equal to 1\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"wall_time_limit\":0}", false,
            "{\"wall_time_limit\":[\"must be greater than or equal to 0.001\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"cpu_extra_time\":5.5}", false,
            "{\"cpu_extra_time\":[\"must be less than or equal to 5\"]}");
    refused(f,
            "{\"source_code\":\"x\",\"language_id\":71,"
            "\"enable_per_process_and_thread_time_limit\":true,"
            "\"enable_per_process_and_thread_memory_limit\":true,"
            "\"redirect_stderr_to_stdout\":true,\"enable_network\":true}",
            false,
            "{\"enable_network\":[\"is not allowed: programs run without a network\"],"
            "\"enable_per_process_and_thread_memory_limit\":[\"is not supported: moat limits "
            "the memory of every process and thread together\"],"
            "\"enable_per_process_and_thread_time_limit\":[\"is not supported: moat limits the "
            "CPU time of every process and thread together\"],"
            "\"redirect_stderr_to_stdout\":[\"is not supported: moat keeps stderr apart\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"enable_network\":1}", false,
            "{\"enable_network\":[\"must be true or false\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"number_of_runs\":21}", false,
            "{\"number_of_runs\":[\"must be less than or equal to 20\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"compiler_options\":\"-O3\"}", false,
            "{\"compiler_options\":[\"is not supported by this server\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"command_line_arguments\":\"'a\"}",
            false, "{\"command_line_arguments\":[\"has an unterminated quote\"]}");
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"command_line_arguments\":[]}", false,
            "{\"command_line_arguments\":[\"must be a string\"]}");
    /* moat's webhook rules: no loopback, private or metadata address */
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"callback_url\":\"http://127.0.0.1/\"}",
            false, NULL);
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"callback_url\":\"file:///etc\"}", false,
            "{\"callback_url\":[\"must be an http or https URL of at most 2048 characters\"]}");
    /* a NUL cannot cut an argument or a URL short */
    refused(f, "{\"source_code\":\"x\",\"language_id\":71,\"callback_url\":\"http://a\\u0000b\"}",
            false,
            "{\"callback_url\":[\"must be an http or https URL of at most 2048 characters\"]}");
}

static void test_decode_sizes(void **state)
{
    struct fx *f = *state;
    f->cfg.max_code_kb = 1;
    f->cfg.max_stdin_kb = 1;
    char big[1200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    json_t *o = json_pack("{s:s, s:i, s:s, s:s}", "source_code", big, "language_id", 71, "stdin",
                          big, "expected_output", big);
    struct j0_submit s = {0};
    json_t *errors = NULL;
    assert_int_equal(j0_decode_submission(&f->cfg, f->langs, o, false, &s, &errors), -EINVAL);
    char *got = json_dumps(errors, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got, "{\"expected_output\":[\"is longer than 1 KB\"],"
                             "\"source_code\":[\"is longer than 1 KB\"],"
                             "\"stdin\":[\"is longer than 1 KB\"]}");
    free(got);
    json_decref(errors);
    json_decref(o);
    char args[600];
    memset(args, 'a', sizeof(args) - 1);
    args[sizeof(args) - 1] = '\0';
    o = json_pack("{s:s, s:i, s:s}", "source_code", "x", "language_id", 71,
                  "command_line_arguments", args);
    assert_int_equal(j0_decode_submission(&f->cfg, f->langs, o, false, &s, &errors), -EINVAL);
    assert_non_null(json_object_get(errors, "command_line_arguments"));
    json_decref(errors);
    json_decref(o);
}

/* ---- additional_files ---- */

/* A Python submission with additional_files zip: refused on that field
 * with msg, or (msg NULL) accepted into *s. */
static void with_zip(struct fx *f, int lang_id, const char *zip, const char *msg,
                     struct j0_submit *s)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "source_code", "print(1)", "additional_files", zip,
                          "language_id", lang_id);
    assert_non_null(o);
    json_t *errors = NULL;
    int r = j0_decode_submission(&f->cfg, f->langs, o, false, s, &errors);
    json_decref(o);
    if (!msg) {
        assert_int_equal(r, 0);
        return;
    }
    assert_int_equal(r, -EINVAL);
    const char *got =
        json_string_value(json_array_get(json_object_get(errors, "additional_files"), 0));
    if (!got || strcmp(got, msg) != 0)
        print_error("got '%s', want '%s'\n", got ? got : "(none)", msg);
    assert_string_equal(got, msg);
    assert_int_equal(json_object_size(errors), 1);
    json_decref(errors);
}

static void test_additional_files(void **state)
{
    struct fx *f = *state;
    struct j0_submit s = {0};
    with_zip(f, 71, ZIP_OK, NULL, &s);
    assert_int_equal(s.job.nfiles, 3);
    assert_string_equal(s.job.files[0].name, "main.py"); /* the program, named */
    assert_string_equal(s.job.files[0].data, "print(1)");
    assert_string_equal(s.job.files[1].name, "data.txt");
    assert_string_equal(s.job.files[1].data, "hello");
    assert_string_equal(s.job.files[2].name, "dir/x.txt");
    assert_int_equal(s.job.files[2].len, 1);
    j0_submit_release(&s);
    with_zip(f, 71, "", NULL, &s); /* empty: none */
    assert_int_equal(s.job.nfiles, 1);
    assert_null(s.job.files[0].name);
    j0_submit_release(&s);

    with_zip(f, 71, ZIP_ESCAPE, "has an entry whose name is not allowed: '../evil.txt'", &s);
    with_zip(f, 71, ZIP_ABSOLUTE, "has an entry whose name is not allowed: '/etc/evil'", &s);
    with_zip(f, 71, ZIP_LINK, "has a symbolic link: 'link'", &s);
    with_zip(f, 71, ZIP_MAIN, "has an entry that clashes with another file: 'main.py'", &s);
    with_zip(f, 71, ZIP_CLASH, "has an entry that clashes with another file: 'a/b'", &s);
    with_zip(f, 71, ZIP_LIE, "has an entry whose size is not the one its header declares", &s);
    with_zip(f, 71, "UEsFBg", "is not valid base64", &s);
    with_zip(f, 71, "aGVsbG8=", "is not a zip archive", &s);
    with_zip(f, 50, ZIP_OK, "is supported for interpreted languages only", &s);
    f->cfg.additional_files_max_kb = 1024; /* the bomb unpacks to 2 MiB */
    with_zip(f, 71, ZIP_BOMB, "unpacks to more than 1024 KB", &s);
    f->cfg.additional_files_max_entries = 2;
    with_zip(f, 71, ZIP_MANY, "has more than 2 entries", &s);
    f->cfg.additional_files_max_kb = 0;
    with_zip(f, 71, ZIP_OK, "is not enabled on this server", &s);
    json_t *o =
        json_pack("{s:s, s:i, s:i}", "source_code", "x", "language_id", 71, "additional_files", 7);
    json_t *errors = NULL;
    assert_int_equal(j0_decode_submission(&f->cfg, f->langs, o, false, &s, &errors), -EINVAL);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(errors, "additional_files"), 0)),
        "must be a string");
    json_decref(errors);
    json_decref(o);
}

/* ---- base64 ---- */

static void test_base64(void **state)
{
    (void)state;
    size_t n = 0;
    char *b = j0_base64_encode("hello, Judge0\n", 14, &n);
    assert_string_equal(b, "aGVsbG8sIEp1ZGdlMAo=\n"); /* ANCHORS: Ruby's encode64 */
    assert_int_equal(n, strlen(b));
    free(b);
    b = j0_base64_encode("", 0, &n);
    assert_string_equal(b, "");
    free(b);
    char data[100];
    memset(data, 'z', sizeof(data));
    b = j0_base64_encode(data, sizeof(data), &n); /* 136 characters: 60, 60, 16 */
    assert_int_equal(n, 136 + 3);
    assert_int_equal(b[60], '\n');
    assert_int_equal(b[121], '\n');
    assert_int_equal(b[n - 1], '\n');
    char *back = NULL;
    size_t blen = 0;
    assert_int_equal(j0_base64_decode(b, n, &back, &blen), 0);
    assert_int_equal(blen, sizeof(data));
    assert_memory_equal(back, data, sizeof(data));
    free(back);
    free(b);
    assert_int_equal(j0_base64_decode("aGk=", 4, &back, &blen), 0);
    assert_string_equal(back, "hi");
    free(back);
    assert_int_equal(j0_base64_decode("aG\r\nk=\n", 7, &back, &blen), 0);
    assert_string_equal(back, "hi");
    free(back);
    assert_int_equal(j0_base64_decode("aGk", 3, &back, &blen), -EINVAL);
    assert_int_equal(j0_base64_decode("a Gk=", 5, &back, &blen), -EINVAL);
}

/* ---- statuses ---- */

static void finished(struct job *j, enum job_verdict v, int code, int sig)
{
    *j = (struct job){0};
    moat_strlcpy(j->id, ID, sizeof(j->id));
    j->status = JOB_STATUS_COMPLETED;
    j->run.verdict = v;
    j->run.exit_code = code;
    j->run.signal = sig;
}

static void test_status_table(void **state)
{
    (void)state;
    static const struct {
        enum job_status status;
        enum job_verdict verdict;
        int code, sig;
        unsigned id;
        const char *message;
    } rows[] = {
        {JOB_STATUS_QUEUED, JOB_VERDICT_NONE, 0, 0, 1, ""},
        {JOB_STATUS_RUNNING, JOB_VERDICT_NONE, 0, 0, 2, ""},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_OK, 0, 0, 3, ""},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_ACCEPTED, 0, 0, 3, ""},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_WRONG_ANSWER, 0, 0, 4, ""},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_TIME_LIMIT, 0, SIGKILL, 5, "Time limit exceeded"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_COMPILE_ERROR, 1, 0, 6, ""},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_RUNTIME_ERROR, 0, SIGSEGV, 7, "Caught fatal signal 11"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_RUNTIME_ERROR, 0, SIGXFSZ, 8, "Caught fatal signal 25"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_RUNTIME_ERROR, 0, SIGFPE, 9, "Caught fatal signal 8"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_RUNTIME_ERROR, 0, SIGABRT, 10, "Caught fatal signal 6"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_RUNTIME_ERROR, 3, 0, 11, "Exited with error status 3"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_RUNTIME_ERROR, 0, SIGUSR1, 12, "Caught fatal signal 10"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_MEMORY_LIMIT, 0, SIGKILL, 12, "Memory Limit Exceeded"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_MEMORY_LIMIT, 0, SIGSEGV, 7, "Memory Limit Exceeded"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_MEMORY_LIMIT, 1, 0, 12, "Memory Limit Exceeded"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_OUTPUT_LIMIT, 0, SIGXFSZ, 8, "Output Limit Exceeded"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_OUTPUT_LIMIT, 0, 0, 12, "Output Limit Exceeded"},
        {JOB_STATUS_COMPLETED, JOB_VERDICT_INTERNAL_ERROR, 0, 0, 13, "box broke"},
        {JOB_STATUS_FAILED, JOB_VERDICT_INTERNAL_ERROR, 0, 0, 13, "box broke"},
        {JOB_STATUS_CANCELLED, JOB_VERDICT_NONE, 0, 0, 13, "Cancelled"},
        {JOB_STATUS_CANCELLED, JOB_VERDICT_CANCELLED, 0, 0, 13, "Cancelled"},
        {JOB_STATUS_CANCELLED, JOB_VERDICT_OK, 0, 0, 3, ""}, /* it had finished its run */
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(rows); i++) {
        struct job j;
        finished(&j, rows[i].verdict, rows[i].code, rows[i].sig);
        j.status = rows[i].status;
        moat_strlcpy(j.run.message, "box broke", sizeof(j.run.message));
        char msg[320];
        unsigned id = j0_status_of(&j, msg, sizeof(msg));
        if (id != rows[i].id || strcmp(msg, rows[i].message) != 0)
            print_error("row %zu: got %u '%s'\n", i, id, msg);
        assert_int_equal(id, rows[i].id);
        assert_string_equal(msg, rows[i].message);
    }
    /* a source policy's refusal: 13, moat's sentence naming the rule */
    struct job pv;
    finished(&pv, JOB_VERDICT_POLICY_VIOLATION, 0, 0);
    moat_strlcpy(pv.run.message, "main.py:1: import os", sizeof(pv.run.message));
    char pmsg[320], buf[400];
    assert_int_equal(j0_status_of(&pv, pmsg, sizeof(pmsg)), 13);
    assert_string_equal(pmsg, job_error_sentence(&pv.run, buf, sizeof(buf)));
    assert_non_null(strstr(pmsg, "main.py:1: import os"));
    assert_string_equal(j0_status_description(1), "In Queue");
    assert_string_equal(j0_status_description(12), "Runtime Error (Other)");
    assert_string_equal(j0_status_description(14), "Exec Format Error");
    assert_null(j0_status_description(0));
    assert_null(j0_status_description(15));
    json_t *a = j0_statuses_json();
    assert_int_equal(json_array_size(a), 14);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 6), "description")),
                        "Runtime Error (SIGSEGV)");
    json_decref(a);
}

/* ---- fields ---- */

static void test_fields(void **state)
{
    (void)state;
    uint64_t set = 0;
    char msg[256];
    assert_int_equal(j0_parse_fields(NULL, &set, msg, sizeof(msg)), 0);
    uint64_t def = set;
    assert_true(def & (UINT64_C(1) << J0F_TOKEN));
    assert_false(def & (UINT64_C(1) << J0F_SOURCE_CODE));
    assert_int_equal(j0_parse_fields("", &set, msg, sizeof(msg)), 0);
    assert_int_equal(set, def);
    assert_int_equal(j0_parse_fields("*", &set, msg, sizeof(msg)), 0);
    assert_int_equal(set, (UINT64_C(1) << J0F_COUNT_) - 1);
    assert_int_equal(j0_parse_fields("stdout,language,,status_id", &set, msg, sizeof(msg)), 0);
    assert_int_equal(set, (UINT64_C(1) << J0F_STDOUT) | (UINT64_C(1) << J0F_LANGUAGE) |
                              (UINT64_C(1) << J0F_STATUS_ID));
    assert_int_equal(j0_parse_fields("stdout,x,stdou", &set, msg, sizeof(msg)), -EINVAL);
    assert_string_equal(msg, "invalid fields: [x, stdou]");
    for (int k = 0; k < J0F_COUNT_; k++)
        assert_non_null(j0_field_name((enum j0_field)k));
    assert_null(j0_field_name(J0F_COUNT_));
}

static char *render(const struct job *j, const struct lang_registry *langs, const char *fields,
                    bool b64, bool *utf8)
{
    struct j0_query q = {.base64 = b64};
    char msg[256];
    assert_int_equal(j0_parse_fields(fields, &q.fields, msg, sizeof(msg)), 0);
    json_t *o = j0_submission_json(j, &q, langs, utf8);
    if (!o)
        return NULL;
    char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return t;
}

static void set_text(char **p, size_t *len, const char *s)
{
    *p = strdup(s);
    assert_non_null(*p);
    *len = strlen(s);
}

static void test_render(void **state)
{
    struct fx *f = *state;
    struct job j;
    finished(&j, JOB_VERDICT_OK, 0, 0);
    moat_strlcpy(j.language, "python", sizeof(j.language));
    moat_strlcpy(j.language_given, "71", sizeof(j.language_given));
    j.created_ms = T0;
    j.finished_ms = T0 + 1500;
    j.run.time_ms = 12;
    j.run.wall_time_ms = 1015;
    j.run.memory_kb = 3000;
    set_text(&j.run.out, &j.run.out_len, "hi\n");
    j.limits = f->cfg.limits;
    j.limits.time_ms = 2500;
    j.limits.wall_time_ms = 6000;
    j.files = calloc(1, sizeof(*j.files));
    assert_non_null(j.files);
    j.nfiles = 1;
    set_text(&j.files[0].data, &j.files[0].len, "print('hi')");
    j.metadata_json =
        strdup("{\"judge0\":{\"cpu_extra_time\":0.5,\"command_line_arguments\":\"a b\"}}");
    moat_strlcpy(j.callback.url, "http://x", sizeof(j.callback.url));
    bool utf8 = false;
    char *t = render(&j, f->langs, NULL, false, &utf8);
    assert_string_equal(t, "{\"compile_output\":null,\"memory\":3000,\"message\":null,"
                           "\"status\":{\"description\":\"Accepted\",\"id\":3},"
                           "\"stderr\":null,\"stdout\":\"hi\\n\",\"time\":\"0.012\","
                           "\"token\":\"" ID "\"}");
    free(t);
    t = render(&j, f->langs,
               "stdout,time,wall_time,cpu_time_limit,wall_time_limit,"
               "cpu_extra_time,callback_url,command_line_arguments,language,"
               "language_id,created_at,finished_at,exit_code,exit_signal,"
               "source_code",
               true, &utf8);
    assert_string_equal(t, "{\"callback_url\":\"http://x\",\"command_line_arguments\":\"a b\","
                           "\"cpu_extra_time\":\"0.500\",\"cpu_time_limit\":\"2.500\","
                           "\"created_at\":\"2026-11-21T22:00:00.000Z\",\"exit_code\":0,"
                           "\"exit_signal\":null,\"finished_at\":\"2026-11-21T22:00:01.500Z\","
                           "\"language\":{\"id\":71,\"name\":\"Python\"},\"language_id\":71,"
                           "\"source_code\":\"cHJpbnQoJ2hpJyk=\\n\",\"stdout\":\"aGkK\\n\","
                           "\"time\":\"0.012\",\"wall_time\":\"1.015\","
                           "\"wall_time_limit\":\"6.000\"}");
    free(t);
    t = render(&j, f->langs, "*", false, &utf8);
    json_t *all = json_loads(t, 0, NULL);
    assert_int_equal(json_object_size(all), J0F_COUNT_);
    json_decref(all);
    free(t);

    /* output that is not UTF-8: refused without base64, fine with */
    free(j.run.out);
    set_text(&j.run.out, &j.run.out_len, "\xff\xfe");
    assert_null(render(&j, f->langs, NULL, false, &utf8));
    assert_true(utf8);
    t = render(&j, f->langs, "stdout", true, &utf8);
    assert_false(utf8);
    assert_string_equal(t, "{\"stdout\":\"//4=\\n\"}");
    free(t);
    /* ... unless not asked for */
    t = render(&j, f->langs, "status_id", false, &utf8);
    assert_string_equal(t, "{\"status_id\":3}");
    free(t);

    /* a compile error: the compiler's streams in compile_output, no run */
    j.compiled = true;
    j.run.verdict = JOB_VERDICT_COMPILE_ERROR;
    set_text(&j.compile.out, &j.compile.out_len, "out;");
    set_text(&j.compile.err, &j.compile.err_len, "err");
    t = render(&j, f->langs, "compile_output,stdout,time,memory,exit_code,status_id", false, &utf8);
    assert_string_equal(t, "{\"compile_output\":\"out;err\",\"exit_code\":null,"
                           "\"memory\":null,\"status_id\":6,\"stdout\":null,\"time\":null}");
    free(t);
    j.compile.verdict = JOB_VERDICT_TIME_LIMIT;
    t = render(&j, f->langs, "compile_output", false, &utf8);
    assert_string_equal(t, "{\"compile_output\":\"out;errCompilation time limit exceeded.\"}");
    free(t);

    /* a signal: exit_signal, no exit_code; queued: nothing final */
    j.compiled = false;
    j.run.verdict = JOB_VERDICT_RUNTIME_ERROR;
    j.run.signal = SIGSEGV;
    t = render(&j, f->langs, "exit_code,exit_signal,status,message", false, &utf8);
    assert_string_equal(t, "{\"exit_code\":null,\"exit_signal\":11,\"message\":\"Caught fatal "
                           "signal 11\",\"status\":{\"description\":\"Runtime Error "
                           "(SIGSEGV)\",\"id\":7}}");
    free(t);
    j.status = JOB_STATUS_QUEUED;
    t = render(&j, f->langs, "finished_at,time,status_id,stdout", false, &utf8);
    assert_string_equal(t, "{\"finished_at\":null,\"status_id\":1,\"stdout\":null,"
                           "\"time\":null}");
    free(t);
    job_release(&j);
}

/* number_of_runs: the average time and memory of the runs that ran, the
 * outputs of the last, the status of the first that failed. */
static void test_render_runs(void **state)
{
    struct fx *f = *state;
    struct job j;
    finished(&j, JOB_VERDICT_RUNTIME_ERROR, 3, 0);
    moat_strlcpy(j.language, "python", sizeof(j.language));
    j.tests = calloc(3, sizeof(*j.tests));
    assert_non_null(j.tests);
    j.ntests = 3;
    set_text(&j.tests[0].stdin_data, &j.tests[0].stdin_len, "in");
    for (size_t i = 0; i < 2; i++) {
        j.tests[i].result =
            (struct job_step){.verdict = i ? JOB_VERDICT_RUNTIME_ERROR : JOB_VERDICT_OK,
                              .exit_code = (int)i * 3,
                              .time_ms = 10 + i * 10,
                              .wall_time_ms = 30,
                              .memory_kb = 1000 + i * 1000};
        set_text(&j.tests[i].result.out, &j.tests[i].result.out_len, i ? "second" : "first");
    }
    j.tests[2].result.verdict = JOB_VERDICT_SKIPPED;
    bool utf8 = false;
    char *t = render(&j, f->langs,
                     "number_of_runs,time,wall_time,memory,stdout,stdin,status_id,exit_code", false,
                     &utf8);
    assert_string_equal(t, "{\"exit_code\":3,\"memory\":1500,\"number_of_runs\":3,"
                           "\"status_id\":11,\"stdin\":\"in\",\"stdout\":\"second\","
                           "\"time\":\"0.015\",\"wall_time\":\"0.030\"}");
    free(t);
    job_release(&j);
}

static void test_languages(void **state)
{
    struct fx *f = *state;
    json_t *a = j0_languages_json(f->langs, false);
    char *t = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    /* ghost (99) is not on this host; C at both its ids, by id; no
     * version probed here, so none in the names */
    assert_string_equal(t, "[{\"id\":48,\"name\":\"C\"},"
                           "{\"id\":50,\"name\":\"C\"},"
                           "{\"id\":71,\"name\":\"Python\"}]");
    free(t);
    json_decref(a);
    a = j0_languages_json(f->langs, true);
    assert_int_equal(json_array_size(a), 3);
    assert_true(json_is_false(json_object_get(json_array_get(a, 0), "is_archived")));
    json_decref(a);
    json_t *o = j0_language_json(f->langs, 71);
    t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(t, "{\"compile_cmd\":null,\"id\":71,\"is_archived\":false,"
                           "\"name\":\"Python\",\"run_cmd\":\"/bin/sh {main}\","
                           "\"source_file\":\"main.py\"}");
    free(t);
    json_decref(o);
    assert_null(j0_language_json(f->langs, 99));
    assert_null(j0_language_json(f->langs, 1));
    o = j0_config_info_json(&f->cfg);
    assert_non_null(o);
    assert_true(json_is_false(json_object_get(o, "allow_enable_network")));
    assert_int_equal(json_integer_value(json_object_get(o, "max_memory_limit")),
                     (json_int_t)f->cfg.max_limits.memory_mb * 1024);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decode_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_additional_files, setup, teardown),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_fields),
        cmocka_unit_test_setup_teardown(test_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_languages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
