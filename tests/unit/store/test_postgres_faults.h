/*
 * The cases of test_postgres.c where the server goes away: stopped (its
 * connections closed, connections refused) and silent (SIGSTOP: nothing
 * answers, as behind a network cut). Included by test_postgres.c only.
 */
#ifndef MOAT_TEST_POSTGRES_FAULTS_H
#define MOAT_TEST_POSTGRES_FAULTS_H

/* A producer that keeps up to FLOOD_WINDOW inserts in flight until told
 * to stop, and remembers each one's result. */
enum { FLOOD_JOBS = 4000, FLOOD_WINDOW = 32 };

struct flood {
    struct store *st;
    struct job *jobs;
    int *results; /* 1 = not done yet */
    size_t issued;
    bool stop;
    struct counter c;
    size_t ok, notconn, other;
};

struct flood_slot {
    struct flood *fl;
    size_t i;
};

static struct flood_slot flood_slots[FLOOD_JOBS];

static void flood_done(void *cls, int result)
{
    struct flood_slot *sl = cls;
    struct flood *fl = sl->fl;
    pthread_mutex_lock(&fl->c.mu);
    fl->results[sl->i] = result;
    fl->ok += result == 0;
    fl->notconn += result == -ENOTCONN;
    fl->other += result != 0 && result != -ENOTCONN;
    fl->c.done++;
    pthread_cond_broadcast(&fl->c.cond);
    pthread_mutex_unlock(&fl->c.mu);
}

static void *flood_run(void *arg)
{
    struct flood *fl = arg;
    pthread_mutex_lock(&fl->c.mu);
    while (!fl->stop && fl->issued < FLOOD_JOBS) {
        if (fl->issued - fl->c.done >= FLOOD_WINDOW) {
            struct timespec until = moat_test_abstime_ms(100);
            (void)pthread_cond_timedwait(&fl->c.cond, &fl->c.mu, &until);
            continue;
        }
        size_t i = fl->issued++;
        pthread_mutex_unlock(&fl->c.mu);
        flood_slots[i] = (struct flood_slot){.fl = fl, .i = i};
        int e = store_insert_async(fl->st, &fl->jobs[i], flood_done, &flood_slots[i]);
        if (e < 0)
            flood_done(&flood_slots[i], e);
        pthread_mutex_lock(&fl->c.mu);
    }
    pthread_mutex_unlock(&fl->c.mu);
    return NULL;
}

/* Waits until cond(fl) under fl's lock, at most timeout_ms. */
static bool flood_wait(struct flood *fl, bool (*cond)(const struct flood *), int timeout_ms)
{
    struct timespec until = moat_test_abstime_ms(timeout_ms);
    pthread_mutex_lock(&fl->c.mu);
    int e = 0;
    while (!cond(fl) && e == 0)
        e = pthread_cond_timedwait(&fl->c.cond, &fl->c.mu, &until);
    bool ok = cond(fl);
    pthread_mutex_unlock(&fl->c.mu);
    return ok;
}

static bool some_ok(const struct flood *fl)
{
    return fl->ok >= 100;
}

static bool some_refused(const struct flood *fl)
{
    return fl->notconn > 0;
}

static bool all_done(const struct flood *fl)
{
    return fl->c.done == fl->issued;
}

/* Polls store_ready until it says want, at most timeout_ms. */
static bool ready_becomes(struct store *st, bool want, unsigned timeout_ms)
{
    uint64_t dl = moat_test_deadline_ms(timeout_ms);
    while (store_ready(st) != want && moat_test_before(dl))
        ;
    return store_ready(st) == want;
}

static void test_server_stopped_and_back(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    assert_int_equal(pg_open(&f->cfg, &fast, &f->st, &err), 0);
    struct job first, got = {0};
    simple_job(&first, 1);
    assert_int_equal(store_insert(f->st, &first, &err), 0);
    assert_true(store_ready(f->st));

    /* the server stops under a stream of inserts */
    static struct job jobs[FLOOD_JOBS];
    static int results[FLOOD_JOBS];
    for (size_t i = 0; i < FLOOD_JOBS; i++) {
        simple_job(&jobs[i], (int64_t)(10 + i));
        results[i] = 1;
    }
    struct flood fl = {.st = f->st, .jobs = jobs, .results = results};
    pthread_mutex_init(&fl.c.mu, NULL);
    pthread_cond_init(&fl.c.cond, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flood_run, &fl), 0);
    assert_true(flood_wait(&fl, some_ok, 30000));
    control("stop");
    /* writes fail with -ENOTCONN within their bound, reads too */
    assert_true(flood_wait(&fl, some_refused, 30000));
    assert_int_equal(store_get(f->st, first.id, 0, &got, &err), -ENOTCONN);
    assert_no_secret(f->url, err.msg);
    assert_false(store_ready(f->st));
    pthread_mutex_lock(&fl.c.mu);
    fl.stop = true;
    pthread_mutex_unlock(&fl.c.mu);
    pthread_join(t, NULL);
    /* back while some writes may still wait for it, or for their outcome */
    control("start");
    assert_true(flood_wait(&fl, all_done, 60000));
    assert_int_equal(fl.other, 0);
    /* nothing that reported success is missing */
    for (size_t i = 0; i < fl.issued; i++) {
        if (results[i] != 0)
            continue;
        if (store_get(f->st, jobs[i].id, 0, &got, &err) != 0)
            fail_msg("job %zu reported durable and missing: %s", i, err.msg);
        job_release(&got);
    }
    struct job later;
    simple_job(&later, 2);
    assert_int_equal(store_insert(f->st, &later, &err), 0);

    /* stopped while idle: a write fails, the store is not ready; back, it
     * is ready again by itself, with nobody writing */
    control("stop");
    struct job refused;
    simple_job(&refused, 3);
    assert_int_equal(store_insert(f->st, &refused, &err), -ENOTCONN);
    assert_false(store_ready(f->st));
    uint32_t n = 0;
    assert_int_equal(store_start(f->st, first.id, 5, false, &n, &err), -ENOTCONN);
    control("start");
    assert_true(ready_becomes(f->st, true, 30000));
    assert_int_equal(store_start(f->st, first.id, 5, false, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_get(f->st, later.id, STORE_GET_CODE, &got, &err), 0);
    job_release(&got);

    for (size_t i = 0; i < FLOOD_JOBS; i++)
        job_release(&jobs[i]);
    job_release(&first);
    job_release(&later);
    job_release(&refused);
    pthread_cond_destroy(&fl.c.cond);
    pthread_mutex_destroy(&fl.c.mu);
}

static void test_server_silent(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    assert_int_equal(pg_open(&f->cfg, &fast, &f->st, &err), 0);
    struct job a, b, got = {0};
    simple_job(&a, 1);
    simple_job(&b, 2);
    assert_int_equal(store_insert(f->st, &a, &err), 0);
    control("pause");
    /* nothing answers: the write fails within its bounds, not never */
    int r = store_insert(f->st, &b, &err);
    if (r != -ENOTCONN)
        fail_msg("insert into a silent database: %d %s", r, err.msg);
    assert_false(store_ready(f->st));
    assert_int_equal(store_get(f->st, a.id, 0, &got, &err), -ENOTCONN);
    control("resume");
    assert_true(ready_becomes(f->st, true, 30000));
    assert_int_equal(store_get(f->st, a.id, 0, &got, &err), 0);
    job_release(&got);
    uint32_t n = 0;
    assert_int_equal(store_start(f->st, a.id, 5, false, &n, &err), 0);
    job_release(&a);
    job_release(&b);
}

#endif
