/*
 * The store when its disk fails it: every write fails through SQLite as on
 * a full disk (SQLITE_FULL) or a failing one (SQLITE_IOERR), injected by a
 * VFS shim (fault_vfs.h) under the real files. Each kind of write fails
 * with -ENOSPC / -EIO and changes nothing, and succeeds once when tried
 * again after the fault; store_ready is false from the first failed write
 * and comes back by itself (nobody writes) once the disk takes writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>

#include "fault_vfs.h"
#include "store_fx.h"

#define fixture store_fx

static int setup(void **state)
{
    fault_vfs_install();
    fault_vfs_set(0);
    *state = store_fx_open();
    return 0;
}

static int teardown(void **state)
{
    fault_vfs_set(0);
    store_fx_close(*state);
    return 0;
}

/* Waits until store_ready is `want`: the ms it took, or -1 after 5 s. */
static int64_t wait_ready(struct store *st, bool want)
{
    uint64_t t0 = moat_now_ns();
    while (store_ready(st) != want) {
        if (moat_now_ns() - t0 > 5000000000ull)
            return -1;
        /* readiness is polled, as a load balancer polls /readyz */
        (void)usleep(2000);
    }
    return (int64_t)((moat_now_ns() - t0) / 1000000);
}

static enum job_status status_of(struct store *st, const char *id)
{
    struct job j = {0};
    assert_int_equal(store_get(st, id, 0, &j, NULL), 0);
    enum job_status s = j.status;
    job_release(&j);
    return s;
}

static void finish_ok(struct job *j)
{
    j->status = JOB_STATUS_COMPLETED;
    j->finished_ms = 999;
    job_step_release(&j->run);
    fill_step(&j->run, JOB_VERDICT_OK, "out", 3, "", 1);
}

/* Every write of a job's path, under the fault rc: it fails with errno e,
 * leaves the job as it was, and succeeds (once) after the fault. */
static void every_write_fails_then_works(void **state, int rc, int e)
{
    struct fixture *f = *state;
    struct moat_err err = {0};
    struct job a, b, c;
    simple_job(&a, 1);
    simple_job(&b, 2);
    simple_job(&c, 3);
    assert_int_equal(store_insert(f->st, &a, NULL), 0);
    assert_int_equal(store_insert(f->st, &b, NULL), 0);
    assert_true(store_ready(f->st));

    fault_vfs_set(rc);
    assert_int_equal(store_insert(f->st, &c, &err), e);
    assert_false(store_ready(f->st));
    /* a failed insert leaves nothing: no row, nothing in flight */
    struct job none = {0};
    assert_int_equal(store_get(f->st, c.id, 0, &none, NULL), -ENOENT);
    assert_int_equal(store_start(f->st, a.id, 10, false, NULL, &err), e);
    assert_int_equal(err.code, e);
    struct store_ticket *t = NULL;
    assert_int_equal(store_start_begin(f->st, a.id, 10, false, &t), 0);
    assert_int_equal(store_start_wait(t, NULL, NULL, &err), e);
    assert_int_equal(status_of(f->st, a.id), JOB_STATUS_QUEUED);
    enum job_status was;
    assert_int_equal(store_cancel(f->st, b.id, 11, &was, &err), e);
    assert_int_equal(status_of(f->st, b.id), JOB_STATUS_QUEUED);

    fault_vfs_set(0);
    assert_int_equal(store_start(f->st, a.id, 12, false, &a.attempts, &err), 0);
    fault_vfs_set(rc);
    finish_ok(&a);
    assert_int_equal(store_finish(f->st, &a, &err), e);
    assert_int_equal(store_requeue(f->st, a.id, a.attempts, &err), e);
    assert_int_equal(status_of(f->st, a.id), JOB_STATUS_RUNNING);

    fault_vfs_set(0);
    assert_int_equal(store_finish(f->st, &a, &err), 0);
    assert_int_equal(store_finish(f->st, &a, &err), -EALREADY); /* recorded once */
    assert_int_equal(store_cancel(f->st, b.id, 13, &was, &err), 0);
    assert_int_equal(store_insert(f->st, &c, &err), 0);
    assert_int_equal(status_of(f->st, a.id), JOB_STATUS_COMPLETED);
    assert_int_equal(status_of(f->st, b.id), JOB_STATUS_CANCELLED);
    assert_int_equal(status_of(f->st, c.id), JOB_STATUS_QUEUED);
    assert_true(wait_ready(f->st, true) >= 0);
    job_release(&a);
    job_release(&b);
    job_release(&c);
}

static void test_disk_full_every_write(void **state)
{
    every_write_fails_then_works(state, SQLITE_FULL, -ENOSPC);
}

static void test_io_error_every_write(void **state)
{
    every_write_fails_then_works(state, SQLITE_IOERR_WRITE, -EIO);
}

/* Many inserts in flight when the disk fills: group commit fails each of
 * them (none half-stored), and each later one works. */
struct tally {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done, failed;
};

static void tally_done(void *cls, int result)
{
    struct tally *t = cls;
    pthread_mutex_lock(&t->mu);
    t->done++;
    t->failed += result == -ENOSPC;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

static void test_batch_fails_whole(void **state)
{
    struct fixture *f = *state;
    enum { N = 40 };
    static struct job jobs[N];
    struct tally t = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    fault_vfs_set(SQLITE_FULL);
    for (size_t i = 0; i < N; i++) {
        simple_job(&jobs[i], (int64_t)i);
        assert_int_equal(store_insert_async(f->st, &jobs[i], tally_done, &t), 0);
    }
    pthread_mutex_lock(&t.mu);
    while (t.done < N)
        pthread_cond_wait(&t.cond, &t.mu);
    pthread_mutex_unlock(&t.mu);
    assert_int_equal(t.failed, N);
    struct store_pending *p = NULL;
    size_t n = 99;
    assert_int_equal(store_list_pending(f->st, &p, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(p);
    fault_vfs_set(0);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(store_insert(f->st, &jobs[i], NULL), 0);
        job_release(&jobs[i]);
    }
}

/* Not ready from the failed write on; while the disk stays full the store
 * keeps probing (failing) and stays not ready; once it takes writes the
 * store is ready again within a few probes, though nobody wrote. */
static void test_ready_comes_back_by_itself(void **state)
{
    struct fixture *f = *state;
    struct job a;
    simple_job(&a, 1);
    assert_true(store_ready(f->st));
    fault_vfs_set(SQLITE_FULL);
    assert_int_equal(store_insert(f->st, &a, NULL), -ENOSPC);
    assert_false(store_ready(f->st));
    /* the writer probes by itself: two more failed writes without us */
    unsigned long before = fault_vfs_failures();
    assert_true(fault_vfs_wait_failures(before + 2, 5000));
    assert_false(store_ready(f->st));

    fault_vfs_set(0);
    int64_t ms = wait_ready(f->st, true);
    if (ms < 0 || ms > 2000)
        fail_msg("ready again %lld ms after the disk took writes", (long long)ms);
    assert_int_equal(store_insert(f->st, &a, NULL), 0);
    job_release(&a);
}

/* A store that never failed a write probes nothing: no write happens
 * while it is idle. */
static void test_healthy_store_does_not_probe(void **state)
{
    struct fixture *f = *state;
    struct job a;
    simple_job(&a, 1);
    assert_int_equal(store_insert(f->st, &a, NULL), 0);
    fault_vfs_set(SQLITE_FULL);
    unsigned long before = fault_vfs_failures();
    assert_false(fault_vfs_wait_failures(before + 1, 700));
    assert_true(store_ready(f->st));
    fault_vfs_set(0);
    job_release(&a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_disk_full_every_write),
        T(test_io_error_every_write),
        T(test_batch_fails_whole),
        T(test_ready_comes_back_by_itself),
        T(test_healthy_store_does_not_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
