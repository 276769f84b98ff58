/*
 * The SQLite store against real files in a temporary directory: every
 * field round-trips, group commit from many threads, one bad item does not
 * fail its batch, the job state machine with every -EALREADY, recovery
 * listing, reopening and migrations, malformed ids, readers during writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "moat/job.h"
#include "moat/store.h"
#include "moat/util.h"
#include "moat_test.h"
#include "sqlite-internal.h"
#include "store_fx.h"
#include "callback_fx.h"
#include "keys_cases.h"

#define fixture store_fx

static int setup(void **state)
{
    *state = store_fx_open();
    return 0;
}

static int teardown(void **state)
{
    store_fx_close(*state);
    return 0;
}

static void assert_code_equal(const struct job *a, const struct job *b)
{
    assert_int_equal(a->nfiles, b->nfiles);
    for (size_t i = 0; i < a->nfiles; i++) {
        if (a->files[i].name)
            assert_string_equal(a->files[i].name, b->files[i].name);
        else
            assert_null(b->files[i].name);
        assert_int_equal(a->files[i].len, b->files[i].len);
        assert_memory_equal(a->files[i].data, b->files[i].data, a->files[i].len);
    }
    assert_int_equal(a->stdin_len, b->stdin_len);
    if (a->stdin_len)
        assert_memory_equal(a->stdin_data, b->stdin_data, a->stdin_len);
    else
        assert_null(b->stdin_data);
}

static void test_tests_round_trip(void **state)
{
    struct fixture *f = *state;
    store_fx_tests_round_trip(f->st);
}

static void test_callback_cycle(void **state)
{
    struct fixture *f = *state;
    store_fx_callback_cycle(f->st);
}

static void test_judged_round_trip(void **state)
{
    struct fixture *f = *state;
    store_fx_judged_round_trip(f->st);
}

static void test_list_newest_first(void **state)
{
    struct fixture *f = *state;
    store_fx_list_newest_first(f->st);
}

static void test_round_trip_every_field(void **state)
{
    struct fixture *f = *state;
    struct moat_err err = {0};
    struct job j;
    full_job(&j, 2048);
    assert_int_equal(store_insert(f->st, &j, &err), 0);

    struct job got = {0};
    assert_int_equal(store_get(f->st, j.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
    assert_asked_equal(&j, &got);
    assert_code_equal(&j, &got);
    assert_int_equal(got.status, JOB_STATUS_QUEUED);
    assert_int_equal(got.attempts, 0);
    assert_int_equal(got.started_ms, 0);
    assert_int_equal(got.finished_ms, 0);
    assert_string_equal(got.output_hash, "");
    assert_false(got.compiled);
    assert_int_equal(got.run.verdict, JOB_VERDICT_NONE);
    assert_null(got.run.out);
    job_release(&got);

    /* without STORE_GET_CODE: the row only */
    assert_int_equal(store_get(f->st, j.id, 0, &got, &err), 0);
    assert_null(got.files);
    assert_int_equal(got.nfiles, 0);
    assert_null(got.stdin_data);
    assert_int_equal(got.stdin_len, 0);
    assert_asked_equal(&j, &got);
    job_release(&got);

    /* the result */
    uint32_t attempts = 0;
    assert_int_equal(store_start(f->st, j.id, 1700000001000, false, &attempts, &err), 0);
    assert_int_equal(attempts, 1);
    j.attempts = attempts; /* the fencing token of the result */
    j.status = JOB_STATUS_COMPLETED;
    j.finished_ms = 1700000002000;
    j.compiled = true;
    static const char out[] = "4\n\0binary\xff";
    fill_step(&j.compile, JOB_VERDICT_OK, "cc out", 6, "warning: x", 60);
    fill_step(&j.run, JOB_VERDICT_RUNTIME_ERROR, out, sizeof(out) - 1, "boom\n", 11);
    /* the streams' order: kept with the run; the compile step has none */
    static const char order[] = "\x03\0\0\0\x05\0\0\x80\x08\0\0\0";
    j.run.order = moat_memdup0(order, sizeof(order) - 1);
    assert_non_null(j.run.order);
    j.run.order_len = sizeof(order) - 1;
    moat_sha256_hex(j.run.out, j.run.out_len, j.output_hash);
    assert_int_equal(store_finish(f->st, &j, &err), 0);

    assert_int_equal(store_get(f->st, j.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
    assert_asked_equal(&j, &got);
    assert_code_equal(&j, &got);
    assert_int_equal(got.status, JOB_STATUS_COMPLETED);
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.started_ms, 1700000001000);
    assert_int_equal(got.finished_ms, 1700000002000);
    assert_string_equal(got.output_hash, j.output_hash);
    assert_true(got.compiled);
    assert_step_equal(&j.compile, &got.compile);
    assert_step_equal(&j.run, &got.run);
    assert_int_equal(got.run.out_len, sizeof(out) - 1);
    assert_memory_equal(got.run.out, out, sizeof(out) - 1);
    assert_int_equal(got.run.err_len, 5);
    assert_memory_equal(got.run.err, "boom\n", 5);
    assert_int_equal(got.compile.out_len, 6);
    assert_memory_equal(got.compile.out, "cc out", 6);
    assert_int_equal(got.compile.err_len, 10);
    assert_memory_equal(got.compile.err, "warning: x", 10);
    job_release(&got);

    /* the output blob on its own */
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(store_get_output(f->st, j.id, &data, &len, &err), 0);
    assert_int_equal(len, sizeof(out) - 1);
    assert_memory_equal(data, out, len);
    free(data);
    job_release(&j);
}

static void test_single_file_and_defaults(void **state)
{
    struct fixture *f = *state;
    struct moat_err err = {0};
    struct job j;
    simple_job(&j, 42);
    j.code_hash[0] = '\0'; /* the store hashes the code blob itself */
    assert_int_equal(store_insert(f->st, &j, &err), 0);
    struct job got = {0};
    assert_int_equal(store_get(f->st, j.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
    assert_code_equal(&j, &got);
    assert_int_equal(got.nargs, 0);
    assert_null(got.args);
    assert_null(got.metadata_json);
    assert_null(got.tags_json);
    char want[MOAT_SHA256_HEX_LEN + 1];
    moat_sha256_hex("print(1)\n", 9, want);
    assert_string_equal(got.code_hash, want);
    /* not finished: no output */
    assert_null(got.run.out);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(store_get_output(f->st, j.id, &data, &len, &err), -ENOENT);
    job_release(&got);

    /* finish with empty output and no hash: the store hashes "" */
    assert_int_equal(store_start(f->st, j.id, 50, false, &j.attempts, &err), 0);
    j.status = JOB_STATUS_FAILED;
    j.run.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(j.run.message, "box setup failed", sizeof(j.run.message));
    assert_int_equal(store_finish(f->st, &j, &err), 0);
    assert_int_equal(store_get(f->st, j.id, STORE_GET_OUTPUT, &got, &err), 0);
    assert_int_equal(got.status, JOB_STATUS_FAILED);
    assert_false(got.compiled);
    assert_string_equal(got.run.message, "box setup failed");
    moat_sha256_hex(NULL, 0, want);
    assert_string_equal(got.output_hash, want);
    assert_non_null(got.run.out);
    assert_int_equal(got.run.out_len, 0);
    assert_null(got.compile.out);
    job_release(&got);
    assert_int_equal(store_get_output(f->st, j.id, &data, &len, &err), 0);
    assert_int_equal(len, 0);
    free(data);
    job_release(&j);
}

/* ---- async inserts from many threads ---- */

struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t done, failed;
    int last_error;
};

static void count_done(void *cls, int result)
{
    struct counter *c = cls;
    pthread_mutex_lock(&c->mu);
    c->done++;
    if (result < 0) {
        c->failed++;
        c->last_error = result;
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void wait_count(struct counter *c, size_t n)
{
    pthread_mutex_lock(&c->mu);
    while (c->done < n)
        pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

enum { THREADS = 8, PER_THREAD = 400 };

struct producer {
    struct store *st;
    struct counter *c;
    struct job *jobs;
    size_t n;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (size_t i = 0; i < p->n; i++)
        if (store_insert_async(p->st, &p->jobs[i], count_done, p->c) < 0)
            count_done(p->c, -EIO);
    return NULL;
}

static void test_async_inserts_from_many_threads(void **state)
{
    struct fixture *f = *state;
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    static struct job jobs[THREADS][PER_THREAD];
    struct producer p[THREADS];
    pthread_t t[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        for (size_t k = 0; k < PER_THREAD; k++)
            simple_job(&jobs[i][k], (int64_t)(i * PER_THREAD + k));
        p[i] = (struct producer){.st = f->st, .c = &c, .jobs = jobs[i], .n = PER_THREAD};
    }
    struct store_stats before;
    store_stats(f->st, &before);
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    wait_count(&c, THREADS * PER_THREAD);
    assert_int_equal(c.failed, 0);

    struct store_stats after;
    store_stats(f->st, &after);
    assert_int_equal(after.writes - before.writes, THREADS * PER_THREAD);
    /* group commit: fewer transactions than writes */
    assert_true(after.commits - before.commits < THREADS * PER_THREAD);
    assert_int_equal(after.retries, before.retries);

    struct store_pending *pend = NULL;
    size_t n = 0;
    assert_int_equal(store_list_pending(f->st, &pend, &n, NULL), 0);
    assert_int_equal(n, THREADS * PER_THREAD);
    free(pend);
    for (size_t i = 0; i < THREADS; i++) {
        for (size_t k = 0; k < PER_THREAD; k++) {
            if (k % 97 == 0) {
                struct job got = {0};
                assert_int_equal(store_get(f->st, jobs[i][k].id, STORE_GET_CODE, &got, NULL), 0);
                assert_code_equal(&jobs[i][k], &got);
                job_release(&got);
            }
            job_release(&jobs[i][k]);
        }
    }
}

/* ---- one bad item in a batch ---- */

/* The first write's callback holds the writer until the test has queued
 * the rest, so that they all land in one batch. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool entered, open;
};

static void gate_done(void *cls, int result)
{
    struct gate *g = cls;
    assert_int_equal(result, 0);
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void hold_writer(struct fixture *f, struct gate *g, struct job *first)
{
    simple_job(first, 1);
    assert_int_equal(store_insert_async(f->st, first, gate_done, g), 0);
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void release_writer(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

struct result_slot {
    struct counter *c;
    int result;
};

static void slot_done(void *cls, int result)
{
    struct result_slot *s = cls;
    s->result = result;
    count_done(s->c, result);
}

static void test_duplicate_id_fails_alone(void **state)
{
    struct fixture *f = *state;
    enum { N = 60 };
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct job first, jobs[N];
    struct result_slot slots[N];
    hold_writer(f, &g, &first);
    struct store_stats before;
    store_stats(f->st, &before);
    for (size_t i = 0; i < N; i++) {
        simple_job(&jobs[i], (int64_t)i + 10);
        slots[i] = (struct result_slot){.c = &c, .result = 1};
    }
    /* 20 repeats 5 within the batch; 40 repeats the committed first job */
    memcpy(jobs[20].id, jobs[5].id, sizeof(jobs[5].id));
    memcpy(jobs[40].id, first.id, sizeof(first.id));
    for (size_t i = 0; i < N; i++)
        assert_int_equal(store_insert_async(f->st, &jobs[i], slot_done, &slots[i]), 0);
    release_writer(&g);
    wait_count(&c, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(slots[i].result, i == 20 || i == 40 ? -EEXIST : 0);
    struct store_stats after;
    store_stats(f->st, &after);
    /* one transaction for the batch, no rollback */
    assert_int_equal(after.commits - before.commits, 1);
    assert_int_equal(after.retries, before.retries);

    /* the duplicate did not overwrite the original */
    struct job got = {0};
    assert_int_equal(store_get(f->st, jobs[5].id, 0, &got, NULL), 0);
    assert_int_equal(got.created_ms, 15);
    job_release(&got);

    /* and synchronously */
    struct moat_err err = {0};
    assert_int_equal(store_insert(f->st, &jobs[0], &err), -EEXIST);
    assert_int_equal(err.code, -EEXIST);
    for (size_t i = 0; i < N; i++)
        job_release(&jobs[i]);
    job_release(&first);
}

static void test_failed_item_rolls_back_and_retries(void **state)
{
    struct fixture *f = *state;
    enum { N = 30, BIG = 5 };
    struct sq_store *s = (struct sq_store *)f->st;
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct job first, jobs[N];
    struct result_slot slots[N];
    hold_writer(f, &g, &first);
    /* The writer is parked in a callback, not using its connection: a
     * blob over 4000 bytes now fails with SQLITE_TOOBIG, after the job
     * row went in. */
    (void)sqlite3_limit(s->wdb, SQLITE_LIMIT_LENGTH, 4000);
    struct store_stats before;
    store_stats(f->st, &before);
    for (size_t i = 0; i < N; i++) {
        simple_job(&jobs[i], (int64_t)i + 100);
        slots[i] = (struct result_slot){.c = &c, .result = 1};
    }
    free(jobs[BIG].files[0].data);
    jobs[BIG].files[0].data = calloc(1, 8000);
    assert_non_null(jobs[BIG].files[0].data);
    jobs[BIG].files[0].len = 8000;
    for (size_t i = 0; i < N; i++)
        assert_int_equal(store_insert_async(f->st, &jobs[i], slot_done, &slots[i]), 0);
    release_writer(&g);
    wait_count(&c, N);
    struct store_stats after;
    store_stats(f->st, &after);
    (void)sqlite3_limit(s->wdb, SQLITE_LIMIT_LENGTH, 1000000000);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(slots[i].result, i == BIG ? -E2BIG : 0);
    assert_int_equal(after.retries - before.retries, 1);
    /* the failed job left nothing behind: not even its row */
    struct job got = {0};
    assert_int_equal(store_get(f->st, jobs[BIG].id, 0, &got, NULL), -ENOENT);
    assert_int_equal(store_get(f->st, jobs[BIG + 1].id, STORE_GET_CODE, &got, NULL), 0);
    job_release(&got);
    for (size_t i = 0; i < N; i++)
        job_release(&jobs[i]);
    job_release(&first);
}

/* ---- the state machine ---- */

static void finish_as(struct store *st, struct job *j, int expect)
{
    struct moat_err err = {0};
    j->status = JOB_STATUS_COMPLETED;
    j->finished_ms = 999;
    job_step_release(&j->run);
    fill_step(&j->run, JOB_VERDICT_OK, "out", 3, "", 1);
    assert_int_equal(store_finish(st, j, &err), expect);
    if (expect < 0)
        assert_int_equal(err.code, expect);
}

static void test_state_machine(void **state)
{
    struct fixture *f = *state;
    struct moat_err err = {0};
    struct job a, b, c;
    simple_job(&a, 1);
    simple_job(&b, 2);
    simple_job(&c, 3);
    assert_int_equal(store_insert(f->st, &a, NULL), 0);
    assert_int_equal(store_insert(f->st, &b, NULL), 0);
    assert_int_equal(store_insert(f->st, &c, NULL), 0);
    uint32_t attempts = 0;
    enum job_status was = JOB_STATUS_MAX_;

    /* a: queued -> running -> queued -> running -> completed */
    assert_int_equal(store_requeue(f->st, a.id, 0, &err), -EALREADY);
    finish_as(f->st, &a, -EALREADY);
    assert_int_equal(store_start(f->st, a.id, 10, false, &attempts, &err), 0);
    assert_int_equal(attempts, 1);
    assert_int_equal(store_start(f->st, a.id, 11, false, &attempts, &err), -EALREADY);
    assert_int_equal(err.code, -EALREADY);
    assert_int_equal(attempts, 1);
    assert_int_equal(store_requeue(f->st, a.id, 2, &err), -ESTALE); /* not its attempt */
    assert_int_equal(store_requeue(f->st, a.id, 1, &err), 0);
    assert_int_equal(store_start(f->st, a.id, 12, false, &attempts, &err), 0);
    assert_int_equal(attempts, 2);
    a.attempts = 1; /* the first attempt's late result: fenced off */
    finish_as(f->st, &a, -ESTALE);
    a.attempts = 2;
    finish_as(f->st, &a, 0);
    finish_as(f->st, &a, -EALREADY); /* never recorded twice */
    assert_int_equal(store_requeue(f->st, a.id, 2, &err), -EALREADY);
    assert_int_equal(store_start(f->st, a.id, 13, false, &attempts, &err), -EALREADY);
    assert_int_equal(store_start(f->st, a.id, 13, true, &attempts, &err), -EALREADY);
    assert_int_equal(store_cancel(f->st, a.id, 14, &was, &err), -EALREADY);
    assert_int_equal(was, JOB_STATUS_COMPLETED);
    struct job got = {0};
    assert_int_equal(store_get(f->st, a.id, 0, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_COMPLETED);
    assert_int_equal(got.attempts, 2);
    assert_int_equal(got.started_ms, 12);
    assert_int_equal(got.finished_ms, 999);
    job_release(&got);

    /* b: cancelled while queued; nothing moves it afterwards */
    assert_int_equal(store_cancel(f->st, b.id, 20, &was, &err), 0);
    assert_int_equal(was, JOB_STATUS_QUEUED);
    assert_int_equal(store_start(f->st, b.id, 21, false, &attempts, &err), -EALREADY);
    assert_int_equal(store_start(f->st, b.id, 21, true, &attempts, &err), -EALREADY);
    assert_int_equal(store_requeue(f->st, b.id, 0, &err), -EALREADY);
    finish_as(f->st, &b, -EALREADY);
    assert_int_equal(store_cancel(f->st, b.id, 22, &was, &err), -EALREADY);
    assert_int_equal(was, JOB_STATUS_CANCELLED);
    assert_int_equal(store_get(f->st, b.id, STORE_GET_OUTPUT, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_CANCELLED);
    assert_int_equal(got.finished_ms, 20);
    assert_int_equal(got.attempts, 0);
    job_release(&got);

    /* c: cancelled while running; its late result is dropped */
    assert_int_equal(store_start(f->st, c.id, 30, false, &attempts, &err), 0);
    c.attempts = attempts;
    assert_int_equal(store_cancel(f->st, c.id, 31, &was, &err), 0);
    assert_int_equal(was, JOB_STATUS_RUNNING);
    finish_as(f->st, &c, -EALREADY);
    assert_int_equal(store_requeue(f->st, c.id, attempts, &err), -EALREADY);
    assert_int_equal(store_get(f->st, c.id, STORE_GET_OUTPUT, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_CANCELLED);
    assert_int_equal(got.finished_ms, 31);
    assert_int_equal(got.run.verdict, JOB_VERDICT_NONE);
    assert_null(got.run.out);
    job_release(&got);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(store_get_output(f->st, c.id, &data, &len, &err), -ENOENT);

    /* an id nobody has */
    struct job ghost;
    simple_job(&ghost, 4);
    assert_int_equal(store_start(f->st, ghost.id, 1, false, &attempts, &err), -ENOENT);
    assert_int_equal(store_requeue(f->st, ghost.id, 1, &err), -ENOENT);
    assert_int_equal(store_cancel(f->st, ghost.id, 1, &was, &err), -ENOENT);
    ghost.status = JOB_STATUS_RUNNING;
    finish_as(f->st, &ghost, -ENOENT);
    /* only completed or failed may be recorded */
    a.status = JOB_STATUS_CANCELLED;
    assert_int_equal(store_finish(f->st, &a, &err), -EINVAL);
    job_release(&a);
    job_release(&b);
    job_release(&c);
    job_release(&ghost);
}

/* A job whose taker was lost is taken over: a new attempt, and the old
 * attempt's writes are refused (the fencing token). */
static void test_takeover_fences_the_old_attempt(void **state)
{
    struct fixture *f = *state;
    struct moat_err err = {0};
    struct job a;
    simple_job(&a, 11);
    assert_int_equal(store_insert(f->st, &a, NULL), 0);
    uint32_t first = 0, second = 0;
    assert_int_equal(store_start(f->st, a.id, 10, false, &first, &err), 0);
    /* without takeover a running job is not started again */
    assert_int_equal(store_start(f->st, a.id, 11, false, &second, &err), -EALREADY);
    assert_int_equal(store_start(f->st, a.id, 12, true, &second, &err), 0);
    assert_int_equal(second, first + 1);
    struct job got = {0};
    assert_int_equal(store_get(f->st, a.id, 0, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_RUNNING);
    assert_int_equal(got.attempts, second);
    assert_int_equal(got.started_ms, 12);
    job_release(&got);
    /* the old taker comes back: neither its requeue nor its result lands */
    assert_int_equal(store_requeue(f->st, a.id, first, &err), -ESTALE);
    assert_int_equal(err.code, -ESTALE);
    a.attempts = first;
    finish_as(f->st, &a, -ESTALE);
    a.attempts = second;
    finish_as(f->st, &a, 0);
    assert_int_equal(store_get(f->st, a.id, STORE_GET_OUTPUT, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_COMPLETED);
    assert_int_equal(got.attempts, second);
    job_release(&got);
    /* the old taker wakes after the new one has finished: still stale (a
     * result fenced off), not "cancelled" (-EALREADY) */
    a.attempts = first;
    finish_as(f->st, &a, -ESTALE);
    assert_int_equal(store_requeue(f->st, a.id, first, &err), -ESTALE);
    /* the new taker's own second write: already final */
    a.attempts = second;
    finish_as(f->st, &a, -EALREADY);
    job_release(&a);
}

/* An insert queued and not committed yet is read from the job being
 * inserted (an executor may take it from an in-process queue before the
 * commit); once its insert has failed, it was never there. */
static void test_reads_inserts_in_flight(void **state)
{
    struct fixture *f = *state;
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct job first, fresh;
    struct result_slot s_fresh = {.c = &c, .result = 1};
    hold_writer(f, &g, &first); /* the writer waits: what is queued now stays in flight */
    simple_job(&fresh, 31);
    assert_int_equal(store_insert_async(f->st, &fresh, slot_done, &s_fresh), 0);
    struct job got = {0};
    assert_int_equal(store_get(f->st, fresh.id, STORE_GET_CODE, &got, NULL), 0);
    assert_string_equal(got.id, fresh.id);
    assert_int_equal(got.status, JOB_STATUS_QUEUED);
    assert_int_equal(got.created_ms, fresh.created_ms);
    assert_int_equal(got.nfiles, fresh.nfiles);
    assert_int_equal(got.files[0].len, fresh.files[0].len);
    assert_memory_equal(got.files[0].data, fresh.files[0].data, fresh.files[0].len);
    job_release(&got);
    release_writer(&g);
    wait_count(&c, 1);
    assert_int_equal(s_fresh.result, 0);
    /* committed: the row, the same job */
    assert_int_equal(store_get(f->st, fresh.id, STORE_GET_CODE, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_QUEUED);
    assert_memory_equal(got.files[0].data, fresh.files[0].data, fresh.files[0].len);
    job_release(&got);

    job_release(&first);
    job_release(&fresh);
}

static void test_list_pending(void **state)
{
    struct fixture *f = *state;
    enum { N = 8 };
    struct job j[N];
    /* inserted out of creation order */
    static const int64_t created[N] = {500, 100, 700, 300, 200, 800, 600, 400};
    for (size_t i = 0; i < N; i++) {
        simple_job(&j[i], created[i]);
        j[i].priority = (int)i;
        assert_int_equal(store_insert(f->st, &j[i], NULL), 0);
    }
    uint32_t attempts;
    enum job_status was;
    assert_int_equal(store_start(f->st, j[0].id, 1, false, &attempts, NULL), 0); /* running */
    assert_int_equal(store_start(f->st, j[1].id, 1, false, &j[1].attempts, NULL), 0);
    finish_as(f->st, &j[1], 0);                                       /* completed */
    assert_int_equal(store_cancel(f->st, j[2].id, 1, &was, NULL), 0); /* cancelled */
    assert_int_equal(store_start(f->st, j[3].id, 1, false, &attempts, NULL), 0);
    assert_int_equal(store_requeue(f->st, j[3].id, 1, NULL), 0); /* queued, 1 */

    struct store_pending *p = NULL;
    size_t n = 0;
    assert_int_equal(store_list_pending(f->st, &p, &n, NULL), 0);
    /* by created_ms: 200 (4), 300 (3), 400 (7), 500 (0), 600 (6), 800 (5) */
    static const size_t order[] = {4, 3, 7, 0, 6, 5};
    assert_int_equal(n, MOAT_ARRAY_SIZE(order));
    for (size_t i = 0; i < n; i++) {
        const struct job *want = &j[order[i]];
        assert_string_equal(p[i].id, want->id);
        assert_int_equal(p[i].priority, want->priority);
        assert_int_equal(p[i].status, order[i] == 0 ? JOB_STATUS_RUNNING : JOB_STATUS_QUEUED);
        assert_int_equal(p[i].attempts, order[i] == 0 || order[i] == 3 ? 1 : 0);
    }
    free(p);
    for (size_t i = 0; i < N; i++)
        job_release(&j[i]);
}

static void test_malformed_and_unknown_ids(void **state)
{
    struct fixture *f = *state;
    struct moat_err err = {0};
    struct job j;
    simple_job(&j, 1);
    assert_int_equal(store_insert(f->st, &j, NULL), 0);
    static const char *const bad[] = {
        "",
        "abc",
        "../../etc/passwd",
        "' OR 1=1 --",
        "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6",   /* short */
        "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f%", /* long */
    };
    struct job got = {0};
    char *data = NULL;
    size_t len = 0;
    uint32_t attempts = 0;
    enum job_status was;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        assert_int_equal(store_get(f->st, bad[i], STORE_GET_CODE, &got, &err), -ENOENT);
        assert_int_equal(store_get_output(f->st, bad[i], &data, &len, &err), -ENOENT);
        assert_int_equal(store_start(f->st, bad[i], 1, false, &attempts, &err), -ENOENT);
        assert_int_equal(store_requeue(f->st, bad[i], 1, &err), -ENOENT);
        assert_int_equal(store_cancel(f->st, bad[i], 1, &was, &err), -ENOENT);
    }
    assert_int_equal(store_get(f->st, NULL, 0, &got, &err), -ENOENT);
    assert_int_equal(store_get(f->st, "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f", 0, &got, &err),
                     -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    /* the same id in upper case is the same job */
    char upper[MOAT_UUID_LEN + 1];
    for (size_t i = 0; i <= MOAT_UUID_LEN; i++)
        upper[i] = (char)(j.id[i] >= 'a' && j.id[i] <= 'f' ? j.id[i] - 32 : j.id[i]);
    assert_int_equal(store_get(f->st, upper, 0, &got, &err), 0);
    assert_string_equal(got.id, j.id);
    job_release(&got);
    /* an insert with a malformed id is refused before it is queued */
    struct job bad_job;
    simple_job(&bad_job, 1);
    moat_strlcpy(bad_job.id, "nope", sizeof(bad_job.id));
    assert_int_equal(store_insert(f->st, &bad_job, &err), -EINVAL);
    job_release(&bad_job);
    job_release(&j);
}

/* ---- persistence ---- */

static void test_reopen_keeps_everything(void **state)
{
    struct fixture *f = *state;
    struct job a, b;
    full_job(&a, 2048);
    simple_job(&b, 5);
    assert_int_equal(store_insert(f->st, &a, NULL), 0);
    assert_int_equal(store_insert(f->st, &b, NULL), 0);
    assert_int_equal(store_start(f->st, a.id, 7, false, &a.attempts, NULL), 0);
    finish_as(f->st, &a, 0);
    store_close(f->st);
    f->st = NULL;

    /* the directory is private, the schema at its latest version (3), the WAL in use */
    struct stat sb;
    assert_int_equal(stat(f->cfg.data_dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(count_rows(f->cfg.data_dir, "SELECT count(*) FROM schema_version"), 4);
    assert_int_equal(count_rows(f->cfg.data_dir, "SELECT max(version) FROM schema_version"), 4);

    for (int round = 0; round < 2; round++) {
        struct moat_err err = {0};
        assert_int_equal(store_open(&f->cfg, &f->st, &err), 0);
        struct job got = {0};
        assert_int_equal(store_get(f->st, a.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
        assert_asked_equal(&a, &got);
        assert_code_equal(&a, &got);
        assert_int_equal(got.status, JOB_STATUS_COMPLETED);
        assert_step_equal(&a.run, &got.run);
        job_release(&got);
        struct store_pending *p = NULL;
        size_t n = 0;
        assert_int_equal(store_list_pending(f->st, &p, &n, NULL), 0);
        assert_int_equal(n, 1);
        assert_string_equal(p[0].id, b.id);
        free(p);
        assert_true(store_ready(f->st));
        store_close(f->st);
        f->st = NULL;
    }
    /* each migration ran once */
    assert_int_equal(count_rows(f->cfg.data_dir, "SELECT count(*) FROM schema_version"), 4);
    struct moat_err err = {0};
    assert_int_equal(store_open(&f->cfg, &f->st, &err), 0);
    job_release(&a);
    job_release(&b);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    exec_on(f->cfg.data_dir, "INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)");
    struct moat_err err = {0};
    struct store *st = NULL;
    assert_int_equal(store_open(&f->cfg, &st, &err), -EPROTO);
    assert_null(st);
    assert_int_equal(err.code, -EPROTO);
    assert_non_null(strstr(err.msg, "99"));
    /* nothing was changed by the refusal */
    assert_int_equal(count_rows(f->cfg.data_dir, "SELECT max(version) FROM schema_version"), 99);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct moat_config cfg;
    config_defaults(&cfg);
    struct store *st = NULL;
    struct moat_err err = {0};
    cfg.data_dir[0] = '\0';
    assert_int_equal(store_open(&cfg, &st, &err), -EINVAL);
    moat_strlcpy(cfg.data_dir, "/proc/version/x", sizeof(cfg.data_dir));
    assert_true(store_open(&cfg, &st, &err) < 0);
    assert_null(st);
}

static void test_symlinks(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    /* a data directory reached through a symlink is the admin's choice */
    char link[128];
    (void)snprintf(link, sizeof(link), "%s/link", f->dir);
    assert_int_equal(symlink(f->cfg.data_dir, link), 0);
    struct moat_config cfg = f->cfg;
    moat_strlcpy(cfg.data_dir, link, sizeof(cfg.data_dir));
    struct moat_err err = {0};
    struct store *st = NULL;
    assert_int_equal(store_open(&cfg, &st, &err), 0);
    assert_true(store_ready(st));
    store_close(st);
    (void)unlink(link);

    /* a moat.db planted as a symlink is not followed */
    char other[128], db[256];
    (void)snprintf(other, sizeof(other), "%s/other", f->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    (void)snprintf(db, sizeof(db), "%s/moat.db", other);
    char target[512];
    (void)snprintf(target, sizeof(target), "%s/moat.db", f->cfg.data_dir);
    assert_int_equal(symlink(target, db), 0);
    moat_strlcpy(cfg.data_dir, other, sizeof(cfg.data_dir));
    st = NULL;
    assert_true(store_open(&cfg, &st, &err) < 0);
    assert_null(st);
    rm_dir(other);
}

static void test_close_drains_pending_writes(void **state)
{
    struct fixture *f = *state;
    enum { N = 300 };
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    static struct job jobs[N];
    for (size_t i = 0; i < N; i++) {
        simple_job(&jobs[i], (int64_t)i);
        assert_int_equal(store_insert_async(f->st, &jobs[i], count_done, &c), 0);
    }
    store_close(f->st); /* every callback has run when this returns */
    f->st = NULL;
    assert_int_equal(c.done, N);
    assert_int_equal(c.failed, 0);
    assert_int_equal(count_rows(f->cfg.data_dir, "SELECT count(*) FROM jobs"), N);
    /* the WAL was folded into the database and truncated */
    char wal[512];
    (void)snprintf(wal, sizeof(wal), "%s/moat.db-wal", f->cfg.data_dir);
    struct stat sb;
    if (stat(wal, &sb) == 0)
        assert_int_equal(sb.st_size, 0);
    for (size_t i = 0; i < N; i++)
        job_release(&jobs[i]);
    struct moat_err err = {0};
    assert_int_equal(store_open(&f->cfg, &f->st, &err), 0);
}

/* An idle writer still folds the WAL into the database and truncates it
 * after enough commits (it no longer does so between the batches of a
 * steady load, only once no request has come for a while). */
static void test_idle_writer_truncates_wal(void **state)
{
    struct fixture *f = *state;
    /* one commit each: exactly the writer's checkpoint count, so that the
     * one checkpoint comes after the last (a pause in the middle cannot
     * leave later commits in the WAL) */
    enum { N = SQ_CHECKPOINT_EVERY };
    static struct job jobs[N];
    struct moat_err err = {0};
    struct store_stats st0;
    store_stats(f->st, &st0);
    for (size_t i = 0; i < N; i++) {
        simple_job(&jobs[i], (int64_t)i);
        assert_int_equal(store_insert(f->st, &jobs[i], &err), 0);
    }
    struct store_stats st1;
    store_stats(f->st, &st1);
    assert_true(st1.commits - st0.commits >= N);
    /* idle now: the truncation comes (waited for, within the test's time) */
    char wal[512];
    (void)snprintf(wal, sizeof(wal), "%s/moat.db-wal", f->cfg.data_dir);
    struct stat sb;
    uint64_t dl = moat_test_deadline_ms(30000);
    while (st1.checkpoints == st0.checkpoints && moat_test_before(dl)) {
        (void)usleep(10000);
        store_stats(f->st, &st1);
    }
    assert_int_equal(st1.checkpoints, st0.checkpoints + 1);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_int_equal(count_rows(f->cfg.data_dir, "SELECT count(*) FROM jobs"), N);
    for (size_t i = 0; i < N; i++)
        job_release(&jobs[i]);
}

/* ---- readers during writes ---- */

struct reader_arg {
    struct store *st;
    const struct job *known;
    volatile bool *stop;
    size_t reads, errors;
};

static void *reader_loop(void *arg)
{
    struct reader_arg *r = arg;
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        struct job got = {0};
        if (store_get(r->st, r->known->id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, NULL) != 0 ||
            got.nfiles != 1 || strcmp(got.code_hash, r->known->code_hash) != 0)
            r->errors++;
        job_release(&got);
        struct store_pending *p = NULL;
        size_t n = 0;
        if (store_list_pending(r->st, &p, &n, NULL) != 0 || n == 0)
            r->errors++;
        free(p);
        if (!store_ready(r->st))
            r->errors++;
        r->reads++;
    }
    return NULL;
}

static void test_concurrent_readers_while_writing(void **state)
{
    struct fixture *f = *state;
    enum { READERS = 12, W = 2, PER = 300 };
    struct job known;
    simple_job(&known, 0);
    assert_int_equal(store_insert(f->st, &known, NULL), 0);
    volatile bool stop = false;
    struct reader_arg ra[READERS];
    pthread_t rt[READERS], wt[W];
    for (size_t i = 0; i < READERS; i++) {
        ra[i] = (struct reader_arg){.st = f->st, .known = &known, .stop = &stop};
        assert_int_equal(pthread_create(&rt[i], NULL, reader_loop, &ra[i]), 0);
    }
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    static struct job jobs[W][PER];
    struct producer p[W];
    for (size_t i = 0; i < W; i++) {
        for (size_t k = 0; k < PER; k++)
            simple_job(&jobs[i][k], (int64_t)k + 1);
        p[i] = (struct producer){.st = f->st, .c = &c, .jobs = jobs[i], .n = PER};
        assert_int_equal(pthread_create(&wt[i], NULL, produce, &p[i]), 0);
    }
    for (size_t i = 0; i < W; i++)
        pthread_join(wt[i], NULL);
    wait_count(&c, W * PER);
    /* and state changes, synchronously, while the readers read */
    for (size_t k = 0; k < PER; k += 10) {
        assert_int_equal(store_start(f->st, jobs[0][k].id, 1, false, NULL, NULL), 0);
    }
    __atomic_store_n(&stop, true, __ATOMIC_RELEASE);
    for (size_t i = 0; i < READERS; i++) {
        pthread_join(rt[i], NULL);
        assert_int_equal(ra[i].errors, 0);
        assert_true(ra[i].reads > 0);
    }
    assert_int_equal(c.failed, 0);
    for (size_t i = 0; i < W; i++)
        for (size_t k = 0; k < PER; k++)
            job_release(&jobs[i][k]);
    job_release(&known);
}

/* The split start: the write is queued at once and a finish queued after
 * it commits after it; a start of a cancelled job fails when waited for. */
static void test_start_begin_then_wait(void **state)
{
    struct fixture *f = *state;
    struct moat_err err = {0};
    struct job a, b;
    simple_job(&a, 41);
    simple_job(&b, 42);
    assert_int_equal(store_insert(f->st, &a, NULL), 0);
    assert_int_equal(store_insert(f->st, &b, NULL), 0);

    struct store_ticket *t = NULL;
    assert_int_equal(store_start_begin(f->st, a.id, 30, false, &t), 0);
    assert_non_null(t);
    a.attempts = 1;          /* what the start makes it */
    finish_as(f->st, &a, 0); /* queued behind the start: it finds a running job */
    uint32_t attempts = 0;
    assert_int_equal(store_start_wait(t, &attempts, NULL, &err), 0);
    assert_int_equal(attempts, 1);
    struct job got = {0};
    assert_int_equal(store_get(f->st, a.id, 0, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_COMPLETED);
    assert_int_equal(got.started_ms, 30);
    job_release(&got);

    enum job_status was = JOB_STATUS_MAX_;
    assert_int_equal(store_cancel(f->st, b.id, 31, &was, &err), 0);
    assert_int_equal(store_start_begin(f->st, b.id, 32, false, &t), 0);
    attempts = 77;
    assert_int_equal(store_start_wait(t, &attempts, NULL, &err), -EALREADY);
    assert_int_equal(err.code, -EALREADY);
    assert_int_equal(attempts, 77);

    t = NULL;
    assert_int_equal(store_start_begin(f->st, "not-an-id", 33, false, &t), -ENOENT);
    assert_null(t);
    job_release(&a);
    job_release(&b);
}

/* API keys and Idempotency-Key records: keys_cases.h, the same on both
 * drivers */
static void test_keys_round_trip(void **state)
{
    keys_case_round_trip(((struct store_fx *)*state)->st);
}

static void test_idempotency_records(void **state)
{
    keys_case_idempotency(((struct store_fx *)*state)->st);
}

static void test_idempotency_claim_race(void **state)
{
    keys_case_claim_race(((struct store_fx *)*state)->st);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_keys_round_trip),
        T(test_idempotency_records),
        T(test_idempotency_claim_race),
        T(test_round_trip_every_field),
        T(test_judged_round_trip),
        T(test_list_newest_first),
        T(test_tests_round_trip),
        T(test_callback_cycle),
        T(test_single_file_and_defaults),
        T(test_async_inserts_from_many_threads),
        T(test_duplicate_id_fails_alone),
        T(test_failed_item_rolls_back_and_retries),
        T(test_state_machine),
        T(test_takeover_fences_the_old_attempt),
        T(test_reads_inserts_in_flight),
        T(test_start_begin_then_wait),
        T(test_list_pending),
        T(test_malformed_and_unknown_ids),
        T(test_reopen_keeps_everything),
        T(test_newer_schema_refused),
        cmocka_unit_test(test_open_errors),
        T(test_symlinks),
        T(test_close_drains_pending_writes),
        T(test_idle_writer_truncates_wal),
        T(test_concurrent_readers_while_writing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
