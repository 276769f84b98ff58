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
    /* the message names the database, without its password */
    assert_non_null(strstr(err.msg, "***@127.0.0.1"));
    assert_no_secret(f->url, err.msg);
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

/* ---- answers lost: a proxy that cuts a connection on command ---- */

/* Relays connections to the server; armed, it drops the next bytes going
 * one way (to the client: the answer; to the server: the request) and
 * closes that connection. */
enum { PROXY_PAIRS = 16 };

struct proxy {
    int lfd, port, target;
    int fds[PROXY_PAIRS][2]; /* client, server; -1 when free */
    int armed;               /* 0, 1 = cut the answer, 2 = cut the request (under mu) */
    int cuts;
    bool stop;
    pthread_mutex_t mu;
    pthread_t t;
};

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void proxy_close_pair(struct proxy *p, int i)
{
    close(p->fds[i][0]);
    close(p->fds[i][1]);
    p->fds[i][0] = p->fds[i][1] = -1;
}

/* Moves what fd has to its peer in pair i, or cuts the pair. */
static void proxy_relay(struct proxy *p, int i, int from)
{
    char buf[65536];
    ssize_t n = read(p->fds[i][from], buf, sizeof(buf));
    pthread_mutex_lock(&p->mu);
    bool cut = n > 0 && p->armed == (from == 1 ? 1 : 2);
    if (cut) {
        p->armed = 0;
        p->cuts++;
    }
    pthread_mutex_unlock(&p->mu);
    if (n <= 0 || cut || write(p->fds[i][1 - from], buf, (size_t)n) != n)
        proxy_close_pair(p, i);
}

static void *proxy_run(void *arg)
{
    struct proxy *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        struct pollfd pf[1 + 2 * PROXY_PAIRS];
        int where[1 + 2 * PROXY_PAIRS];
        nfds_t n = 0;
        pf[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        for (int i = 0; i < PROXY_PAIRS; i++) {
            for (int k = 0; k < 2 && p->fds[i][0] >= 0; k++) {
                where[n] = i * 2 + k;
                pf[n++] = (struct pollfd){.fd = p->fds[i][k], .events = POLLIN};
            }
        }
        if (poll(pf, n, 50) <= 0)
            continue;
        if (pf[0].revents & POLLIN) {
            int c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
            int sv = c >= 0 ? tcp_connect(p->target) : -1;
            int i = 0;
            while (i < PROXY_PAIRS && p->fds[i][0] >= 0)
                i++;
            if (c < 0 || sv < 0 || i == PROXY_PAIRS) {
                close(c);
                close(sv);
            } else {
                p->fds[i][0] = c;
                p->fds[i][1] = sv;
            }
            continue; /* the other entries may describe pairs that changed */
        }
        for (nfds_t k = 1; k < n; k++) {
            int i = where[k] / 2, from = where[k] % 2;
            if ((pf[k].revents & (POLLIN | POLLHUP | POLLERR)) && p->fds[i][from] == pf[k].fd) {
                proxy_relay(p, i, from);
                break; /* pairs may have changed */
            }
        }
    }
    return NULL;
}

static void proxy_start(struct proxy *p, const char *url)
{
    *p = (struct proxy){.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    memset(p->fds, -1, sizeof(p->fds));
    pthread_mutex_init(&p->mu, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(p->lfd, 16), 0);
    assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    const char *colon = strrchr(url, ':');
    p->target = (int)strtol(colon + 1, NULL, 10);
    assert_true(p->target > 0);
    assert_int_equal(pthread_create(&p->t, NULL, proxy_run, p), 0);
}

static void proxy_stop(struct proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->t, NULL);
    for (int i = 0; i < PROXY_PAIRS; i++)
        if (p->fds[i][0] >= 0)
            proxy_close_pair(p, i);
    close(p->lfd);
    pthread_mutex_destroy(&p->mu);
}

static void proxy_arm(struct proxy *p, int how)
{
    pthread_mutex_lock(&p->mu);
    p->armed = how;
    pthread_mutex_unlock(&p->mu);
}

static int proxy_cuts(struct proxy *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->cuts;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static long long rows_with_id(const struct pgfx *f, const char *id)
{
    char sql[160];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM moat.jobs WHERE id = '%s'", id);
    return int_sql(f->url, sql);
}

static void test_lost_answers_resolved(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct proxy px;
    proxy_start(&px, f->url);
    /* the same database through the proxy */
    char url[600];
    const char *at = strrchr(f->url, '@');
    const char *slash = strchr(at, '/');
    (void)snprintf(url, sizeof(url), "%.*s@127.0.0.1:%d%s", (int)(at - f->url), f->url, px.port,
                   slash);
    struct moat_config cfg = f->cfg;
    moat_strlcpy(cfg.store, url, sizeof(cfg.store));
    assert_int_equal(pg_open(&cfg, &fast, &f->st, &err), 0);
    struct job a, b, c;
    simple_job(&a, 1);
    simple_job(&b, 2);
    simple_job(&c, 3);

    /* the insert committed, its answer lost: reported done, once */
    proxy_arm(&px, 1);
    if (store_insert(f->st, &a, &err) != 0)
        fail_msg("insert whose answer was lost: %s", err.msg);
    assert_int_equal(proxy_cuts(&px), 1);
    assert_int_equal(rows_with_id(f, a.id), 1);

    /* the insert never reached the database: sent again, done */
    proxy_arm(&px, 2);
    assert_int_equal(store_insert(f->st, &b, &err), 0);
    assert_int_equal(proxy_cuts(&px), 2);
    assert_int_equal(rows_with_id(f, b.id), 1);

    /* a start, a requeue, a finish and a cancel whose answers were lost:
     * each reported as it happened, and none of them twice */
    uint32_t n = 0;
    proxy_arm(&px, 1);
    assert_int_equal(store_start(f->st, a.id, 10, false, &n, &err), 0);
    assert_int_equal(n, 1);
    proxy_arm(&px, 1);
    assert_int_equal(store_requeue(f->st, a.id, 1, &err), 0);
    proxy_arm(&px, 2);
    assert_int_equal(store_start(f->st, a.id, 11, false, &n, &err), 0);
    assert_int_equal(n, 2);
    a.attempts = 2;
    a.status = JOB_STATUS_COMPLETED;
    a.finished_ms = 12;
    proxy_arm(&px, 1);
    assert_int_equal(store_finish(f->st, &a, &err), 0);
    enum job_status was = JOB_STATUS_MAX_;
    proxy_arm(&px, 1);
    assert_int_equal(store_cancel(f->st, b.id, 13, &was, &err), 0);
    assert_int_equal(was, JOB_STATUS_QUEUED);
    /* refused, answer lost: refused still */
    proxy_arm(&px, 1);
    assert_int_equal(store_cancel(f->st, a.id, 14, &was, &err), -EALREADY);
    assert_int_equal(was, JOB_STATUS_COMPLETED);
    assert_int_equal(proxy_cuts(&px), 8);

    struct job got = {0};
    assert_int_equal(store_get(f->st, a.id, 0, &got, &err), 0);
    assert_int_equal(got.status, JOB_STATUS_COMPLETED);
    assert_int_equal(got.attempts, 2);
    assert_int_equal(got.finished_ms, 12);
    job_release(&got);
    assert_int_equal(store_get(f->st, b.id, 0, &got, &err), 0);
    assert_int_equal(got.status, JOB_STATUS_CANCELLED);
    job_release(&got);
    store_close(f->st);
    f->st = NULL;
    proxy_stop(&px);
    job_release(&a);
    job_release(&b);
    job_release(&c);
}

/* ---- a database that reads but does not take writes ---- */

/* Ends this database's moat connections (the store reconnects). */
static void kick_store(const struct pgfx *f)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
                   " WHERE datname = '%s' AND application_name = 'moat'",
                   f->db);
    PQclear(sql_on(base_url(), sql));
}

static void test_read_only_database_not_ready(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    assert_int_equal(pg_open(&f->cfg, &fast, &f->st, &err), 0);
    struct job a, b, got = {0};
    simple_job(&a, 1);
    simple_job(&b, 2);
    assert_int_equal(store_insert(f->st, &a, &err), 0);
    assert_true(store_ready(f->st));
    char sql[160];
    (void)snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET default_transaction_read_only = on",
                   f->db);
    exec_sql(base_url(), sql);
    kick_store(f);
    /* reads work, writes do not: not ready */
    assert_int_equal(store_insert(f->st, &b, &err), -ENOTCONN);
    assert_int_equal(store_get(f->st, a.id, 0, &got, &err), 0);
    job_release(&got);
    assert_false(store_ready(f->st));
    (void)snprintf(sql, sizeof(sql), "ALTER DATABASE %s RESET default_transaction_read_only",
                   f->db);
    exec_sql(base_url(), sql);
    /* writable again: ready by itself, nobody writing */
    assert_true(ready_becomes(f->st, true, 30000));
    assert_int_equal(store_insert(f->st, &b, &err), 0);
    job_release(&a);
    job_release(&b);
}

/* ---- a batch that outlives its connection ---- */

/* The pids of this database's moat backends waiting for a lock. */
static size_t lock_waiters(const struct pgfx *f, int *pids, size_t max)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT pid FROM pg_stat_activity WHERE datname = '%s'"
                   " AND application_name = 'moat' AND wait_event_type = 'Lock' ORDER BY pid",
                   f->db);
    PGresult *r = sql_on(base_url(), sql);
    size_t n = (size_t)PQntuples(r);
    for (size_t i = 0; i < n && i < max; i++)
        pids[i] = (int)strtol(PQgetvalue(r, (int)i, 0), NULL, 10);
    PQclear(r);
    return n;
}

static void test_stuck_batch_ended_before_retry(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    assert_int_equal(pg_open(&f->cfg, &fast, &f->st, &err), 0);
    struct job a;
    simple_job(&a, 1);
    assert_int_equal(store_insert(f->st, &a, &err), 0);
    /* the job's row locked: the start waits in the server past the
     * writer's deadline, the writer gives the connection up */
    PGconn *locker = PQconnectdb(f->url);
    assert_int_equal(PQstatus(locker), CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN"));
    char sql[160];
    (void)snprintf(sql, sizeof(sql), "SELECT 1 FROM moat.jobs WHERE id = '%s' FOR UPDATE", a.id);
    PGresult *lr = PQexec(locker, sql);
    assert_int_equal(PQresultStatus(lr), PGRES_TUPLES_OK);
    PQclear(lr);
    struct store_ticket *t = NULL;
    assert_int_equal(store_start_begin(f->st, a.id, 10, false, &t), 0);
    int pids[8], first = 0;
    uint64_t dl = moat_test_deadline_ms(30000);
    while (lock_waiters(f, pids, 8) == 0 && moat_test_before(dl))
        ;
    assert_int_equal(lock_waiters(f, pids, 8), 1);
    first = pids[0];
    /* the writer sends the start again on a new connection only once
     * the old one's backend is gone: it could still commit it */
    size_t n = 0;
    while (!((n = lock_waiters(f, pids, 8)) == 1 && pids[0] != first) && moat_test_before(dl))
        ;
    n = lock_waiters(f, pids, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (pids[i] == first)
            fail_msg("the first backend (%d) still waits beside the retry", first);
    PQclear(PQexec(locker, "COMMIT"));
    PQfinish(locker);
    uint32_t attempts = 0;
    if (store_start_wait(t, &attempts, NULL, &err) != 0)
        fail_msg("start: %s", err.msg);
    assert_int_equal(attempts, 1);
    struct job got = {0};
    assert_int_equal(store_get(f->st, a.id, 0, &got, &err), 0);
    assert_int_equal(got.attempts, 1);
    job_release(&got);
    job_release(&a);
}

#endif
