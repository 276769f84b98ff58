/*
 * Helpers shared by the store's tests: a temporary directory removed
 * afterwards, jobs to store, steps to record, and direct SQL on a store's
 * file. Static, so that each test uses what it needs; include after
 * <cmocka.h>.
 */
#ifndef MOAT_STORE_FX_H
#define MOAT_STORE_FX_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/job.h"
#include "moat/store.h"
#include "moat/util.h"
#include "job_fx.h"

static inline void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        (void)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        (void)unlink(p);
    }
    closedir(d);
    (void)rmdir(dir);
}

/* A store opened on <a new temporary directory>/data (a subdirectory that
 * does not exist yet: store_open makes it), and its removal. */
struct store_fx {
    char dir[64];
    struct moat_config cfg;
    struct store *st;
};

static inline struct store_fx *store_fx_open(void)
{
    struct store_fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    moat_strlcpy(f->dir, "/tmp/moat-store-test-XXXXXX", sizeof(f->dir));
    assert_non_null(mkdtemp(f->dir));
    config_defaults(&f->cfg);
    (void)snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
    struct moat_err err = {0};
    assert_int_equal(store_open(&f->cfg, &f->st, &err), 0);
    return f;
}

static inline void store_fx_close(struct store_fx *f)
{
    store_close(f->st);
    rm_dir(f->cfg.data_dir);
    rm_dir(f->dir);
    free(f);
}

/* A single-file queued job with a fresh id, owning its members. */
static inline void simple_job(struct job *j, int64_t created_ms)
{
    *j = (struct job){.status = JOB_STATUS_QUEUED, .priority = JOB_PRIORITY_DEFAULT};
    moat_uuid7(j->id);
    moat_strlcpy(j->language, "python", sizeof(j->language));
    moat_strlcpy(j->language_given, "py", sizeof(j->language_given));
    moat_strlcpy(j->version, "3.11.2", sizeof(j->version));
    j->limits = (struct moat_limits){.time_ms = 1000,
                                     .memory_mb = 256,
                                     .max_processes = 1,
                                     .max_output_kb = 64,
                                     .max_file_kb = 1024,
                                     .max_open_files = 64,
                                     .stack_kb = 8192};
    j->files = calloc(1, sizeof(*j->files));
    assert_non_null(j->files);
    j->nfiles = 1;
    j->files[0].data = dup_bytes("print(1)\n", 9);
    j->files[0].len = 9;
    moat_sha256_hex(j->files[0].data, j->files[0].len, j->code_hash);
    j->created_ms = created_ms;
}

static inline void fill_step(struct job_step *s, enum job_verdict v, const char *out,
                             size_t out_len, const char *err, int base)
{
    s->verdict = v;
    s->exit_code = base + 1;
    s->signal = base + 2;
    s->time_ms = (uint64_t)base + 3;
    s->wall_time_ms = (uint64_t)base + 4;
    s->memory_kb = (uint64_t)base + 5;
    s->out = dup_bytes(out, out_len);
    s->out_len = out_len;
    s->err = dup_bytes(err, strlen(err));
    s->err_len = strlen(err);
    s->out_truncated = base % 2 == 0;
    s->err_truncated = base % 2 == 1;
    s->cached = base > 50;
    (void)snprintf(s->message, sizeof(s->message), "message %d", base);
}

static inline int64_t count_rows(const char *dir, const char *sql)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/moat.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static inline void exec_on(const char *dir, const char *sql)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/moat.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A job using every field: three files, binary stdin, args, metadata,
 * tags; max_file_kb as the test wants it (PostgreSQL keeps a value above
 * 2^63 bit for bit). */
static inline void full_job(struct job *j, uint64_t max_file_kb)
{
    *j = (struct job){.status = JOB_STATUS_QUEUED, .priority = 7, .created_ms = 1700000000123};
    moat_uuid7(j->id);
    moat_strlcpy(j->language, "cpp", sizeof(j->language));
    moat_strlcpy(j->language_given, "c++", sizeof(j->language_given));
    moat_strlcpy(j->version, "g++ 12.2.0", sizeof(j->version));
    j->limits = (struct moat_limits){.time_ms = 2500,
                                     .wall_time_ms = 7000,
                                     .memory_mb = 384,
                                     .max_processes = 4,
                                     .max_output_kb = 128,
                                     .max_file_kb = max_file_kb,
                                     .max_open_files = 32,
                                     .stack_kb = 16384};
    static const char *const names[] = {"main.cpp", "util.h", "data.bin"};
    static const char bin[] = {'\0', '\x01', '\xff', '\0', 'z'};
    const char *data[] = {"#include \"util.h\"\nint main(){}\n", "int f();\n", bin};
    size_t lens[] = {strlen(data[0]), strlen(data[1]), sizeof(bin)};
    j->files = calloc(3, sizeof(*j->files));
    assert_non_null(j->files);
    j->nfiles = 3;
    for (size_t i = 0; i < 3; i++) {
        j->files[i].name = dup_bytes(names[i], strlen(names[i]));
        j->files[i].data = dup_bytes(data[i], lens[i]);
        j->files[i].len = lens[i];
    }
    static const char in[] = "1 2\0\0\xfe\n";
    j->stdin_data = dup_bytes(in, sizeof(in) - 1);
    j->stdin_len = sizeof(in) - 1;
    j->args = calloc(3, sizeof(char *));
    assert_non_null(j->args);
    j->nargs = 3;
    j->args[0] = dup_bytes("--flag", 6);
    j->args[1] = dup_bytes("", 0);
    j->args[2] = dup_bytes("caf\xc3\xa9 \"q\"", 10);
    j->metadata_json = dup_bytes("{\"user\":\"ana\",\"n\":3}", 20);
    j->tags_json = dup_bytes("[\"a\",\"b\"]", 9);
    char *blob = NULL;
    size_t len = 0;
    assert_int_equal(job_code_blob(j, &blob, &len), 0);
    moat_sha256_hex(blob, len, j->code_hash);
    free(blob);
}


/* store_list: pages of ids newest first (ids sort by creation), the total,
 * a page past the end, and the limits of a page. */
static inline void store_fx_list_newest_first(struct store *st)
{
    struct moat_err err = {0};
    char ids[STORE_LIST_MAX][MOAT_UUID_LEN + 1];
    size_t n = 99;
    uint64_t total = 99;
    assert_int_equal(store_list(st, 0, 10, ids, &n, &total, &err), 0); /* empty */
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    struct job j[5];
    for (size_t i = 0; i < 5; i++) {
        simple_job(&j[i], (int64_t)i + 1);
        /* inserted out of order: the id orders them, not the insert */
        (void)snprintf(j[i].id, sizeof(j[i].id), "0193e3c2-7b1a-7c3e-9f00-00000000000%zu",
                       (i * 3) % 5);
        assert_int_equal(store_insert(st, &j[i], &err), 0);
    }
    assert_int_equal(store_list(st, 0, 2, ids, &n, &total, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(total, 5);
    assert_string_equal(ids[0], "0193e3c2-7b1a-7c3e-9f00-000000000004");
    assert_string_equal(ids[1], "0193e3c2-7b1a-7c3e-9f00-000000000003");
    assert_int_equal(store_list(st, 4, 2, ids, &n, &total, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "0193e3c2-7b1a-7c3e-9f00-000000000000");
    assert_int_equal(store_list(st, 5, 2, ids, &n, &total, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(total, 5);
    assert_int_equal(store_list(st, 0, STORE_LIST_MAX, ids, &n, &total, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(store_list(st, 0, 0, ids, &n, &total, &err), -EINVAL);
    assert_int_equal(store_list(st, 0, STORE_LIST_MAX + 1, ids, &n, &total, &err), -EINVAL);
    assert_int_equal(store_list(st, (uint64_t)INT64_MAX + 1, 1, ids, &n, &total, &err), -EINVAL);
    for (size_t i = 0; i < 5; i++)
        job_release(&j[i]);
}

/* A judged job: its expected output (bytes, a NUL inside) and comparison
 * come back as they went in, with the code (STORE_GET_CODE: what a worker
 * reads) and without the bytes otherwise (the view says how it is judged);
 * an empty expected output is judged too; an unjudged job says so. */
static inline void store_fx_judged_round_trip(struct store *st)
{
    struct moat_err err = {0};
    struct job a, b, c, got = {0};
    simple_job(&a, 1);
    a.judged = true;
    a.expected = dup_bytes("1 2\0 3\n", 7);
    a.expected_len = 7;
    a.compare = (struct job_compare_opts){.mode = JOB_COMPARE_FLOAT, .abs_tol = 0.5, .rel_tol = 1e-12};
    simple_job(&b, 2);
    b.judged = true;
    b.expected = dup_bytes("", 0);
    b.compare = (struct job_compare_opts){.mode = JOB_COMPARE_EXACT};
    simple_job(&c, 3);
    assert_int_equal(store_insert(st, &a, &err), 0);
    assert_int_equal(store_insert(st, &b, &err), 0);
    assert_int_equal(store_insert(st, &c, &err), 0);

    assert_int_equal(store_get(st, a.id, STORE_GET_CODE, &got, &err), 0);
    assert_true(got.judged);
    assert_int_equal(got.compare.mode, JOB_COMPARE_FLOAT);
    assert_true(got.compare.abs_tol == 0.5 && got.compare.rel_tol == 1e-12);
    assert_int_equal(got.expected_len, 7);
    assert_memory_equal(got.expected, "1 2\0 3\n", 7);
    job_release(&got);
    assert_int_equal(store_get(st, a.id, 0, &got, &err), 0);
    assert_true(got.judged);
    assert_int_equal(got.compare.mode, JOB_COMPARE_FLOAT);
    assert_null(got.expected);
    job_release(&got);

    assert_int_equal(store_get(st, b.id, STORE_GET_CODE, &got, &err), 0);
    assert_true(got.judged);
    assert_int_equal(got.compare.mode, JOB_COMPARE_EXACT);
    assert_non_null(got.expected);
    assert_int_equal(got.expected_len, 0);
    job_release(&got);

    assert_int_equal(store_get(st, c.id, STORE_GET_CODE, &got, &err), 0);
    assert_false(got.judged);
    assert_null(got.expected);
    job_release(&got);
    job_release(&a);
    job_release(&b);
    job_release(&c);
}

/* A job with tests: what each asks comes back with the code; once it is
 * finished, what each gave comes back in every read, the view's included;
 * stopOnFirstFailure is kept. */
static inline void store_fx_tests_round_trip(struct store *st)
{
    struct moat_err err = {0};
    struct job a, got = {0};
    simple_job(&a, 1);
    a.ntests = 2;
    a.tests = calloc(2, sizeof(*a.tests));
    assert_non_null(a.tests);
    a.stop_on_failure = true;
    a.tests[0] = (struct job_test){.stdin_data = dup_bytes("1 2\0", 4), .stdin_len = 4,
                                   .judged = true, .expected = dup_bytes("3\n", 2),
                                   .expected_len = 2, .time_ms = 700};
    a.tests[1] = (struct job_test){.stdin_data = dup_bytes("", 0), .memory_mb = 32};
    assert_int_equal(store_insert(st, &a, &err), 0);

    assert_int_equal(store_get(st, a.id, STORE_GET_CODE, &got, &err), 0);
    assert_int_equal(got.ntests, 2);
    assert_true(got.stop_on_failure);
    assert_int_equal(got.tests[0].stdin_len, 4);
    assert_memory_equal(got.tests[0].stdin_data, "1 2\0", 4);
    assert_true(got.tests[0].judged);
    assert_memory_equal(got.tests[0].expected, "3\n", 2);
    assert_int_equal(got.tests[0].time_ms, 700);
    assert_false(got.tests[1].judged);
    assert_int_equal(got.tests[1].memory_mb, 32);
    assert_int_equal(got.tests[0].result.verdict, JOB_VERDICT_NONE);
    job_release(&got);

    uint32_t n = 0;
    assert_int_equal(store_start(st, a.id, 5, false, &n, &err), 0);
    a.attempts = n;
    a.status = JOB_STATUS_COMPLETED;
    a.finished_ms = 9;
    a.run.verdict = JOB_VERDICT_WRONG_ANSWER;
    a.tests[0].result = (struct job_step){.verdict = JOB_VERDICT_WRONG_ANSWER, .time_ms = 4,
                                          .out = dup_bytes("4\n", 2), .out_len = 2};
    a.tests[1].result = (struct job_step){.verdict = JOB_VERDICT_SKIPPED};
    assert_int_equal(store_finish(st, &a, &err), 0);

    assert_int_equal(store_get(st, a.id, 0, &got, &err), 0); /* the view */
    assert_int_equal(got.ntests, 2);
    assert_int_equal(got.run.verdict, JOB_VERDICT_WRONG_ANSWER);
    assert_int_equal(got.tests[0].result.verdict, JOB_VERDICT_WRONG_ANSWER);
    assert_int_equal(got.tests[0].result.time_ms, 4);
    assert_int_equal(got.tests[0].result.out_len, 2);
    assert_memory_equal(got.tests[0].result.out, "4\n", 2);
    assert_int_equal(got.tests[1].result.verdict, JOB_VERDICT_SKIPPED);
    assert_null(got.tests[0].stdin_data); /* not asked for */
    job_release(&got);
    job_release(&a);
}

#endif
