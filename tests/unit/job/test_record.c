/* The job record: status names, the code blob in both forms and its
 * inverse, a release that frees everything (LSan checks), a deep copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/job.h"
#include "moat/util.h"

#include "job_fx.h"

static void test_status_names(void **state)
{
    (void)state;
    static const char *const names[JOB_STATUS_MAX_] = {"queued", "running", "completed", "failed",
                                                       "cancelled"};
    for (int s = 0; s < JOB_STATUS_MAX_; s++) {
        assert_string_equal(job_status_name((enum job_status)s), names[s]);
        enum job_status back = JOB_STATUS_MAX_;
        assert_int_equal(job_status_parse(names[s], &back), 0);
        assert_int_equal(back, s);
    }
    assert_null(job_status_name(JOB_STATUS_MAX_));
    assert_null(job_status_name((enum job_status) - 1));
    enum job_status st = JOB_STATUS_RUNNING;
    assert_int_equal(job_status_parse("Queued", &st), -EINVAL);
    assert_int_equal(job_status_parse("", &st), -EINVAL);
    assert_int_equal(job_status_parse(NULL, &st), -EINVAL);
    assert_int_equal(st, JOB_STATUS_RUNNING);
    assert_false(job_status_final(JOB_STATUS_QUEUED));
    assert_false(job_status_final(JOB_STATUS_RUNNING));
    assert_true(job_status_final(JOB_STATUS_COMPLETED));
    assert_true(job_status_final(JOB_STATUS_FAILED));
    assert_true(job_status_final(JOB_STATUS_CANCELLED));
}

static void test_single_file_blob_is_the_source(void **state)
{
    (void)state;
    static const char src[] = "print(1)\n\0tail";
    struct job_file f = {.name = NULL, .data = (char *)src, .len = sizeof(src) - 1};
    struct job j = {.files = &f, .nfiles = 1};
    char *blob = NULL;
    size_t len = 0;
    assert_int_equal(job_code_blob(&j, &blob, &len), 0);
    assert_int_equal(len, sizeof(src) - 1);
    assert_memory_equal(blob, src, len);

    struct job back = {0};
    assert_int_equal(job_code_from_blob(&back, blob, len, true), 0);
    assert_int_equal(back.nfiles, 1);
    assert_null(back.files[0].name);
    assert_int_equal(back.files[0].len, len);
    assert_memory_equal(back.files[0].data, src, len);
    free(blob);
    job_release(&back);
    assert_null(back.files);
    assert_int_equal(back.nfiles, 0);
}

static void test_multi_file_blob_round_trip(void **state)
{
    (void)state;
    static char bin[] = {'\0', '\xff', '\x80', 'a', '\0'};
    static char n0[] = "main.c", n1[] = "util.h", n2[] = "data.bin", n3[] = "empty.txt";
    static char d0[] = "#include \"util.h\"\nint main(void){return f();}\n";
    static char d1[] = "int f(void);\n";
    struct job_file files[] = {
        {.name = n0, .data = d0},
        {.name = n1, .data = d1},
        {.name = n2, .data = bin, .len = sizeof(bin)},
        {.name = n3, .data = NULL, .len = 0},
    };
    files[0].len = strlen(files[0].data);
    files[1].len = strlen(files[1].data);
    struct job j = {.files = files, .nfiles = MOAT_ARRAY_SIZE(files)};
    char *blob = NULL;
    size_t len = 0;
    assert_int_equal(job_code_blob(&j, &blob, &len), 0);
    assert_int_equal(strlen(blob), len);
    assert_non_null(strstr(blob, "\"name\":\"util.h\""));
    assert_non_null(strstr(blob, "\"content\":\"AP+AYQA=\"")); /* bin in base64 */

    /* the same job makes the same blob (the code hash depends on it) */
    char *again = NULL;
    size_t len2 = 0;
    assert_int_equal(job_code_blob(&j, &again, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(blob, again, len);
    free(again);

    struct job back = {0};
    assert_int_equal(job_code_from_blob(&back, blob, len, false), 0);
    assert_int_equal(back.nfiles, MOAT_ARRAY_SIZE(files));
    for (size_t i = 0; i < back.nfiles; i++) {
        assert_string_equal(back.files[i].name, files[i].name);
        assert_int_equal(back.files[i].len, files[i].len);
        if (files[i].len)
            assert_memory_equal(back.files[i].data, files[i].data, files[i].len);
        assert_int_equal(back.files[i].data[back.files[i].len], '\0');
    }
    free(blob);
    job_release(&back);
}

static void test_named_single_file_uses_json(void **state)
{
    (void)state;
    static char name[] = "Main.java", data[] = "class Main{}";
    struct job_file f = {.name = name, .data = data, .len = 12};
    struct job j = {.files = &f, .nfiles = 1};
    char *blob = NULL;
    size_t len = 0;
    assert_int_equal(job_code_blob(&j, &blob, &len), 0);
    assert_string_equal(blob, "[{\"name\":\"Main.java\",\"content\":\"Y2xhc3MgTWFpbnt9\"}]");
    free(blob);
}

static void test_from_blob_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not json",
        "{}",
        "[]", /* no file */
        "[1]",
        "[{\"name\":\"a\"}]",                    /* no content */
        "[{\"content\":\"YQ==\"}]",              /* no name */
        "[{\"name\":\"a\",\"content\":\"YQ\"}]", /* bad base64 */
        "[{\"name\":\"a\",\"content\":7}]",
        "[{\"name\":5,\"content\":\"YQ==\"}]",
        "[{\"name\":\"a\",\"content\":\"YQ==\",\"x\":1}]", /* unknown key */
        "[{\"name\":\"a\\u0000b\",\"content\":\"YQ==\"}]", /* NUL in a name */
        "[{\"name\":\"a\",\"content\":\"YQ==\"},{\"name\":\"b\",\"content\":\"!!!!\"}]",
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        struct job j = {0};
        char *b = dup_bytes(bad[i], strlen(bad[i]));
        assert_int_equal(job_code_from_blob(&j, b, strlen(b), false), -EINVAL);
        assert_null(j.files);
        assert_int_equal(j.nfiles, 0);
        free(b);
    }
    /* a single-file blob is taken as it is, even when it looks like JSON */
    struct job j = {0};
    assert_int_equal(job_code_from_blob(&j, "[]", 2, true), 0);
    assert_int_equal(j.nfiles, 1);
    assert_string_equal(j.files[0].data, "[]");
    job_release(&j);

    struct job none = {0};
    char *blob = NULL;
    size_t len = 0;
    assert_int_equal(job_code_blob(&none, &blob, &len), -EINVAL);
}

static void test_release_frees_everything(void **state)
{
    (void)state;
    struct job j = {0};
    j.files = calloc(2, sizeof(*j.files));
    j.nfiles = 2;
    j.files[0].name = dup_bytes("a.c", 3);
    j.files[0].data = dup_bytes("x", 1);
    j.files[1].data = dup_bytes("y", 1);
    j.stdin_data = dup_bytes("in", 2);
    j.args = calloc(2, sizeof(char *));
    j.nargs = 2;
    j.args[0] = dup_bytes("-v", 2);
    j.args[1] = dup_bytes("x", 1);
    j.metadata_json = dup_bytes("{}", 2);
    j.tags_json = dup_bytes("[]", 2);
    j.run.out = dup_bytes("o", 1);
    j.compile.err = dup_bytes("e", 1);
    j.priority = 3;
    job_release(&j);
    assert_null(j.files);
    assert_int_equal(j.priority, 0);
    job_release(&j); /* twice is fine */
    job_release(NULL);
}

/* A copy of the request owns its own memory, keeps every byte, and leaves
 * the result out. */
static void test_copy_request(void **state)
{
    (void)state;
    struct job j = {0};
    moat_strlcpy(j.id, "01a200c5-dcfa-72f5-ae82-ae9f3b5f082d", sizeof(j.id));
    moat_strlcpy(j.language, "c", sizeof(j.language));
    j.priority = 7;
    j.limits.time_ms = 1234;
    j.attempts = 2;
    j.created_ms = 99;
    j.files = calloc(2, sizeof(*j.files));
    j.nfiles = 2;
    j.files[0].data = dup_bytes("a\0b", 3);
    j.files[0].len = 3;
    j.files[1].name = dup_bytes("x.h", 3);
    j.files[1].data = dup_bytes("", 0);
    j.stdin_data = dup_bytes("in\0", 3);
    j.stdin_len = 3;
    j.args = calloc(1, sizeof(char *));
    j.nargs = 1;
    j.args[0] = dup_bytes("-v", 2);
    j.tags_json = dup_bytes("[\"t\"]", 5);
    j.run.out = dup_bytes("o", 1);
    j.run.out_len = 1;
    j.compiled = true;

    struct job c;
    assert_int_equal(job_copy_request(&c, &j), 0);
    job_release(&j); /* the copy stands alone (ASan would see a use after free) */
    assert_string_equal(c.id, "01a200c5-dcfa-72f5-ae82-ae9f3b5f082d");
    assert_string_equal(c.language, "c");
    assert_int_equal(c.priority, 7);
    assert_int_equal(c.limits.time_ms, 1234);
    assert_int_equal(c.attempts, 2);
    assert_int_equal(c.created_ms, 99);
    assert_int_equal(c.nfiles, 2);
    assert_null(c.files[0].name);
    assert_int_equal(c.files[0].len, 3);
    assert_memory_equal(c.files[0].data, "a\0b", 3);
    assert_string_equal(c.files[1].name, "x.h");
    assert_int_equal(c.files[1].len, 0);
    assert_int_equal(c.stdin_len, 3);
    assert_memory_equal(c.stdin_data, "in\0", 3);
    assert_int_equal(c.nargs, 1);
    assert_string_equal(c.args[0], "-v");
    assert_null(c.metadata_json);
    assert_string_equal(c.tags_json, "[\"t\"]");
    assert_false(c.compiled);
    assert_null(c.run.out);
    assert_int_equal(c.run.out_len, 0);
    job_release(&c);
}

/* codeHash is the SHA-256 of the code blob, in both of its forms. */
static void test_code_hash_is_the_blob_hash(void **state)
{
    (void)state;
    static char src[] = "print(1)\n";
    static char name[] = "util.h";
    struct job_file one = {.data = src, .len = sizeof(src) - 1};
    struct job_file two[] = {{.data = src, .len = sizeof(src) - 1}, {.name = name, .data = src,
                                                                     .len = 3}};
    struct job j1 = {.files = &one, .nfiles = 1}, j2 = {.files = two, .nfiles = 2};
    char want[MOAT_SHA256_HEX_LEN + 1], got[MOAT_SHA256_HEX_LEN + 1];
    for (int k = 0; k < 2; k++) {
        const struct job *j = k ? &j2 : &j1;
        char *blob = NULL;
        size_t len = 0;
        assert_int_equal(job_code_blob(j, &blob, &len), 0);
        moat_sha256_hex(blob, len, want);
        free(blob);
        assert_int_equal(job_code_hash(j, got), 0);
        assert_string_equal(got, want);
    }
    /* seed 000's example: the hash of the source itself */
    moat_sha256_hex(src, sizeof(src) - 1, want);
    assert_int_equal(job_code_hash(&j1, got), 0);
    assert_string_equal(got, want);
    struct job none = {0};
    assert_int_equal(job_code_hash(&none, got), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_single_file_blob_is_the_source),
        cmocka_unit_test(test_code_hash_is_the_blob_hash),
        cmocka_unit_test(test_multi_file_blob_round_trip),
        cmocka_unit_test(test_named_single_file_uses_json),
        cmocka_unit_test(test_from_blob_errors),
        cmocka_unit_test(test_release_frees_everything),
        cmocka_unit_test(test_copy_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
