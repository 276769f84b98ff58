/*
 * The PostgreSQL store against a real server (tests/servers/postgres.py
 * starts one and sets MOAT_TEST_PG_URL; MOAT_TEST_PG_CONTROL stops and
 * starts it). Each case gets a database of its own. The contract of
 * test_store.c where it applies (every field round-trips, the state
 * machine and its fencing, inserts in flight, one bad item in a batch,
 * group commit, recovery listing, reopening, migrations and identification)
 * and what only a shared database has: several handles (as several nodes)
 * racing for the same jobs, and the server going away and coming back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include "moat/job.h"
#include "moat/store.h"
#include "moat/util.h"
#include "moat_test.h"
#include "postgres-internal.h"
#include "store_fx.h"
#include "callback_fx.h"
#include "keys_cases.h"

/* ---- the server and a database per case ---- */

struct pgfx {
    char url[512];
    char db[64];
    struct moat_config cfg;
    struct store *st;
};

static const char *base_url(void)
{
    return getenv("MOAT_TEST_PG_URL");
}

static PGresult *sql_on(const char *url, const char *sql)
{
    const char *const keys[] = {"dbname", "connect_timeout", "options", NULL};
    const char *const values[] = {url, "20", "-c statement_timeout=60000", NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQfinish(c);
    return r;
}

static void exec_sql(const char *url, const char *sql)
{
    PQclear(sql_on(url, sql));
}

static long long int_sql(const char *url, const char *sql)
{
    PGresult *r = sql_on(url, sql);
    assert_int_equal(PQntuples(r), 1);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* The URL of database db on the test server. */
static void url_of(const char *db, char *out, size_t size)
{
    const char *base = base_url();
    const char *slash = strrchr(base, '/');
    assert_non_null(slash);
    (void)snprintf(out, size, "%.*s/%s", (int)(slash - base), base, db);
}

static struct pgfx *fx_new(void)
{
    struct pgfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    uint32_t rnd = 0;
    assert_int_equal(getrandom(&rnd, sizeof(rnd), 0), sizeof(rnd));
    (void)snprintf(f->db, sizeof(f->db), "moat_t_%08x", rnd);
    char sql[128];
    (void)snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->db);
    exec_sql(base_url(), sql);
    url_of(f->db, f->url, sizeof(f->url));
    config_defaults(&f->cfg);
    moat_strlcpy(f->cfg.store, f->url, sizeof(f->cfg.store));
    f->cfg.store_connections = 4;
    return f;
}

static void fx_free(struct pgfx *f)
{
    store_close(f->st);
    char sql[128];
    (void)snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->db);
    exec_sql(base_url(), sql);
    free(f);
}

static int setup(void **state)
{
    struct pgfx *f = fx_new();
    struct moat_err err = {0};
    if (store_open(&f->cfg, &f->st, &err) < 0)
        fail_msg("store_open: %s", err.msg);
    *state = f;
    return 0;
}

static int setup_bare(void **state)
{
    *state = fx_new();
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

static void control(const char *cmd);

/* After a case that stops the server: running again, whatever happened. */
static int teardown_faults(void **state)
{
    struct pgfx *f = *state;
    store_close(f->st);
    f->st = NULL;
    control("resume");
    control("start");
    fx_free(f);
    return 0;
}

/* Short waits, so that the fault cases take seconds. */
static const struct pg_timeouts fast = {
    .connect_ms = 1000,
    .io_ms = 2000,
    .ready_ms = 1000,
    .write_wait_ms = 1500,
    .resolve_wait_ms = 8000,
    .probe_ms = 50,
    .backoff_min_ms = 20,
    .backoff_max_ms = 200,
};

/* Tells tests/servers/postgres.py to stop, start, pause or resume the server. */
static void control(const char *cmd)
{
    const char *path = getenv("MOAT_TEST_PG_CONTROL");
    assert_non_null(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    moat_strlcpy(a.sun_path, path, sizeof(a.sun_path));
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 120};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    assert_int_equal(write(fd, line, (size_t)n), n);
    size_t got = 0;
    while (got + 1 < sizeof(line)) {
        ssize_t k = read(fd, line + got, 1);
        if (k <= 0 || line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(fd);
    if (strcmp(line, "ok") != 0)
        fail_msg("server %s: %s", cmd, line);
}

/* The password of url appears nowhere in msg. */
static void assert_no_secret(const char *url, const char *msg)
{
    const char *pw = strchr(strstr(url, "://") + 3, ':') + 1;
    char secret[64];
    (void)snprintf(secret, sizeof(secret), "%.*s", (int)strcspn(pw, "@"), pw);
    assert_true(strlen(secret) > 8);
    if (strstr(msg, secret))
        fail_msg("the password is in \"%s\"", msg);
}

/* ---- jobs ---- */

/* j, started and finished with both steps (it must be queued). */
static void run_to_completion(struct store *st, struct job *j)
{
    struct moat_err err = {0};
    assert_int_equal(store_start(st, j->id, 1700000001000, false, &j->attempts, &err), 0);
    j->status = JOB_STATUS_RUNNING;
    j->started_ms = 1700000001000;
    j->status = JOB_STATUS_COMPLETED;
    j->finished_ms = 1700000002000;
    j->compiled = true;
    static const char out[] = "4\n\0binary\xff";
    fill_step(&j->compile, JOB_VERDICT_OK, "cc out", 6, "warning: x", 60);
    fill_step(&j->run, JOB_VERDICT_RUNTIME_ERROR, out, sizeof(out) - 1, "boom\n", 11);
    /* the streams' order: kept with the run; the compile step has none */
    static const char order[] = "\x03\0\0\0\x05\0\0\x80\x08\0\0\0";
    j->run.order = moat_memdup0(order, sizeof(order) - 1);
    assert_non_null(j->run.order);
    j->run.order_len = sizeof(order) - 1;
    moat_sha256_hex(j->run.out, j->run.out_len, j->output_hash);
    if (store_finish(st, j, &err) < 0)
        fail_msg("finish: %s", err.msg);
}

/* ---- the contract ---- */

static void test_tests_round_trip(void **state)
{
    struct pgfx *f = *state;
    store_fx_tests_round_trip(f->st);
}

static void test_callback_cycle(void **state)
{
    struct pgfx *f = *state;
    store_fx_callback_cycle(f->st);
}

static void test_judged_round_trip(void **state)
{
    struct pgfx *f = *state;
    store_fx_judged_round_trip(f->st);
}

static void test_list_newest_first(void **state)
{
    struct pgfx *f = *state;
    store_fx_list_newest_first(f->st);
}

static void test_round_trip_every_field(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct job j, got = {0};
    full_job(&j, (1ull << 63) + 5);
    assert_int_equal(store_insert(f->st, &j, &err), 0);
    assert_int_equal(store_get(f->st, j.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
    assert_request_equal(&j, &got, true);
    assert_false(got.compiled);
    assert_int_equal(got.run.verdict, JOB_VERDICT_NONE);
    assert_null(got.run.out);
    job_release(&got);

    /* without STORE_GET_CODE: the row only */
    assert_int_equal(store_get(f->st, j.id, 0, &got, &err), 0);
    assert_null(got.files);
    assert_null(got.stdin_data);
    assert_int_equal(got.stdin_len, 0);
    job_release(&got);

    run_to_completion(f->st, &j);
    assert_int_equal(store_get(f->st, j.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
    assert_request_equal(&j, &got, true);
    assert_true(got.compiled);
    assert_step_equal(&j.compile, &got.compile);
    assert_step_equal(&j.run, &got.run);
    job_release(&got);

    char *data = NULL;
    size_t len = 0;
    assert_int_equal(store_get_output(f->st, j.id, &data, &len, &err), 0);
    assert_int_equal(len, j.run.out_len);
    assert_memory_equal(data, j.run.out, len);
    free(data);
    job_release(&j);
}

static void test_single_file_and_defaults(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct job j, got = {0};
    simple_job(&j, 42);
    j.code_hash[0] = '\0'; /* the store hashes the code blob itself */
    assert_int_equal(store_insert(f->st, &j, &err), 0);
    assert_int_equal(store_get(f->st, j.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
    assert_int_equal(got.nfiles, 1);
    assert_null(got.files[0].name);
    assert_int_equal(got.files[0].len, 9);
    assert_memory_equal(got.files[0].data, "print(1)\n", 9);
    assert_null(got.args);
    assert_null(got.metadata_json);
    assert_null(got.tags_json);
    char want[MOAT_SHA256_HEX_LEN + 1];
    moat_sha256_hex("print(1)\n", 9, want);
    assert_string_equal(got.code_hash, want);
    job_release(&got);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(store_get_output(f->st, j.id, &data, &len, &err), -ENOENT);

    /* empty output, no hash given: the store hashes "" */
    assert_int_equal(store_start(f->st, j.id, 50, false, &j.attempts, &err), 0);
    j.status = JOB_STATUS_FAILED;
    j.run.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(j.run.message, "box setup failed", sizeof(j.run.message));
    assert_int_equal(store_finish(f->st, &j, &err), 0);
    assert_int_equal(store_get(f->st, j.id, STORE_GET_OUTPUT, &got, &err), 0);
    assert_int_equal(got.status, JOB_STATUS_FAILED);
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

static void test_state_machine_and_fencing(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct job a, b;
    simple_job(&a, 1);
    simple_job(&b, 2);
    assert_int_equal(store_insert(f->st, &a, &err), 0);
    assert_int_equal(store_insert(f->st, &b, &err), 0);
    uint32_t n = 0;
    enum job_status was = JOB_STATUS_MAX_;

    assert_int_equal(store_start(f->st, a.id, 10, false, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_start(f->st, a.id, 11, false, &n, &err), -EALREADY);
    assert_non_null(strstr(err.msg, "running"));
    /* taken over: attempt 2; attempt 1 is fenced off */
    assert_int_equal(store_start(f->st, a.id, 12, true, &n, &err), 0);
    assert_int_equal(n, 2);
    a.status = JOB_STATUS_COMPLETED;
    a.attempts = 1;
    assert_int_equal(store_finish(f->st, &a, &err), -ESTALE);
    assert_int_equal(store_requeue(f->st, a.id, 1, &err), -ESTALE);
    /* requeue of the current attempt, then start again: attempt 3 */
    assert_int_equal(store_requeue(f->st, a.id, 2, &err), 0);
    assert_int_equal(store_requeue(f->st, a.id, 2, &err), -EALREADY);
    assert_int_equal(store_start(f->st, a.id, 13, false, &n, &err), 0);
    assert_int_equal(n, 3);
    a.attempts = 3;
    a.finished_ms = 14;
    assert_int_equal(store_finish(f->st, &a, &err), 0);
    /* never twice */
    assert_int_equal(store_finish(f->st, &a, &err), -EALREADY);
    assert_int_equal(store_requeue(f->st, a.id, 3, &err), -EALREADY);
    assert_int_equal(store_start(f->st, a.id, 15, true, &n, &err), -EALREADY);
    assert_int_equal(store_cancel(f->st, a.id, 16, &was, &err), -EALREADY);
    assert_int_equal(was, JOB_STATUS_COMPLETED);
    /* an older attempt waking after the job is final: stale, not cancelled */
    a.attempts = 2;
    assert_int_equal(store_finish(f->st, &a, &err), -ESTALE);
    assert_int_equal(store_requeue(f->st, a.id, 1, &err), -ESTALE);

    /* cancel: queued, then everything after it refused */
    assert_int_equal(store_cancel(f->st, b.id, 20, &was, &err), 0);
    assert_int_equal(was, JOB_STATUS_QUEUED);
    assert_int_equal(store_cancel(f->st, b.id, 21, &was, &err), -EALREADY);
    assert_int_equal(was, JOB_STATUS_CANCELLED);
    assert_int_equal(store_start(f->st, b.id, 22, true, &n, &err), -EALREADY);
    b.status = JOB_STATUS_COMPLETED;
    b.attempts = 0;
    assert_int_equal(store_finish(f->st, &b, &err), -EALREADY);
    struct job got = {0};
    assert_int_equal(store_get(f->st, b.id, 0, &got, &err), 0);
    assert_int_equal(got.status, JOB_STATUS_CANCELLED);
    assert_int_equal(got.finished_ms, 20);
    job_release(&got);
    /* a running job cancelled: its result is dropped */
    struct job c;
    simple_job(&c, 3);
    assert_int_equal(store_insert(f->st, &c, &err), 0);
    assert_int_equal(store_start(f->st, c.id, 30, false, &c.attempts, &err), 0);
    assert_int_equal(store_cancel(f->st, c.id, 31, &was, &err), 0);
    assert_int_equal(was, JOB_STATUS_RUNNING);
    c.status = JOB_STATUS_COMPLETED;
    assert_int_equal(store_finish(f->st, &c, &err), -EALREADY);

    /* unknown and malformed ids */
    char none[MOAT_UUID_LEN + 1];
    moat_uuid7(none);
    assert_int_equal(store_start(f->st, none, 1, false, &n, &err), -ENOENT);
    assert_int_equal(store_requeue(f->st, none, 1, &err), -ENOENT);
    assert_int_equal(store_cancel(f->st, none, 1, &was, &err), -ENOENT);
    assert_int_equal(store_get(f->st, none, 0, &got, &err), -ENOENT);
    assert_int_equal(store_get(f->st, "x'; DROP TABLE jobs; --", 0, &got, &err), -ENOENT);
    moat_strlcpy(c.id, none, sizeof(c.id));
    assert_int_equal(store_finish(f->st, &c, &err), -ENOENT);
    job_release(&a);
    job_release(&b);
    job_release(&c);
}

/* ---- the writer held: inserts in flight, one batch ---- */

struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t done, failed;
};

static void count_done(void *cls, int result)
{
    struct counter *c = cls;
    pthread_mutex_lock(&c->mu);
    c->done++;
    c->failed += result < 0;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void wait_count(struct counter *c, size_t n, int timeout_ms)
{
    struct timespec until = moat_test_abstime_ms(timeout_ms);
    pthread_mutex_lock(&c->mu);
    int e = 0;
    while (c->done < n && e == 0)
        e = pthread_cond_timedwait(&c->cond, &c->mu, &until);
    size_t done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (done < n)
        fail_msg("%zu of %zu writes done after %d ms", done, n, timeout_ms);
}

struct slot {
    struct counter *c;
    int result;
};

static void slot_done(void *cls, int result)
{
    struct slot *s = cls;
    s->result = result;
    count_done(s->c, result);
}

/* Holds the writer inside the first write's done callback until opened,
 * so that everything queued meanwhile lands in one batch. */
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
    struct timespec until = moat_test_abstime_ms(30000);
    while (!g->open)
        if (pthread_cond_timedwait(&g->cond, &g->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&g->mu);
}

static void hold_writer(struct store *st, struct gate *g, struct job *first)
{
    simple_job(first, 1);
    assert_int_equal(store_insert_async(st, first, gate_done, g), 0);
    struct timespec until = moat_test_abstime_ms(10000);
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        if (pthread_cond_timedwait(&g->cond, &g->mu, &until) != 0)
            break;
    bool entered = g->entered;
    pthread_mutex_unlock(&g->mu);
    assert_true(entered);
}

static void release_writer(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

static void test_inserts_in_flight_are_read(void **state)
{
    struct pgfx *f = *state;
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct job first, j, got = {0};
    hold_writer(f->st, &g, &first);
    full_job(&j, (1ull << 63) + 5);
    assert_int_equal(store_insert_async(f->st, &j, count_done, &c), 0);
    /* not in the database, but read as it is being inserted */
    char sql[160];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM moat.jobs WHERE id = '%s'", j.id);
    assert_int_equal(int_sql(f->url, sql), 0);
    assert_int_equal(store_get(f->st, j.id, 0, &got, NULL), 0);
    assert_int_equal(got.status, JOB_STATUS_QUEUED);
    assert_request_equal(&j, &got, true);
    job_release(&got);
    release_writer(&g);
    wait_count(&c, 1, 10000);
    assert_int_equal(c.failed, 0);
    assert_int_equal(int_sql(f->url, sql), 1);
    assert_int_equal(store_get(f->st, j.id, STORE_GET_CODE, &got, NULL), 0);
    assert_request_equal(&j, &got, true);
    job_release(&got);
    job_release(&j);
    job_release(&first);
}

static void test_bad_items_fail_alone(void **state)
{
    struct pgfx *f = *state;
    enum { N = 41 };
    struct moat_err err = {0};
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct job first, dup, jobs[N];
    struct slot slots[N];
    simple_job(&dup, 5);
    assert_int_equal(store_insert(f->st, &dup, &err), 0);
    hold_writer(f->st, &g, &first);
    struct store_stats before, after;
    store_stats(f->st, &before);
    for (size_t i = 0; i < N; i++) {
        simple_job(&jobs[i], (int64_t)(100 + i));
        slots[i] = (struct slot){.c = &c, .result = 1};
    }
    /* a duplicate id: no row back, the batch goes on */
    moat_strlcpy(jobs[10].id, dup.id, sizeof(jobs[10].id));
    /* text that is not UTF-8: the database refuses the statement, the
     * batch is rolled back and sent again one write at a time */
    moat_strlcpy(jobs[30].language, "py\xff", sizeof(jobs[30].language));
    for (size_t i = 0; i < N; i++)
        assert_int_equal(store_insert_async(f->st, &jobs[i], slot_done, &slots[i]), 0);
    release_writer(&g);
    wait_count(&c, N, 20000);
    store_stats(f->st, &after);
    for (size_t i = 0; i < N; i++) {
        int want = i == 10 ? -EEXIST : i == 30 ? -EINVAL : 0;
        if (slots[i].result != want)
            fail_msg("write %zu: %d, want %d", i, slots[i].result, want);
    }
    assert_int_equal(after.retries - before.retries, 1);
    assert_int_equal(after.writes - before.writes, N);
    assert_int_equal(int_sql(f->url, "SELECT count(*) FROM moat.jobs"), N - 2 + 2);
    struct job got = {0};
    assert_int_equal(store_get(f->st, dup.id, STORE_GET_CODE, &got, NULL), 0);
    assert_int_equal(got.created_ms, 5); /* the first insert's */
    job_release(&got);
    for (size_t i = 0; i < N; i++)
        job_release(&jobs[i]);
    job_release(&first);
    job_release(&dup);
}

/* ---- group commit ---- */

enum { THREADS = 8, PER_THREAD = 100 };

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

static void test_group_commit(void **state)
{
    struct pgfx *f = *state;
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    static struct job jobs[THREADS][PER_THREAD];
    struct producer p[THREADS];
    pthread_t t[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        for (size_t k = 0; k < PER_THREAD; k++)
            simple_job(&jobs[i][k], (int64_t)(i * PER_THREAD + k));
        p[i] = (struct producer){.st = f->st, .c = &c, .jobs = jobs[i], .n = PER_THREAD};
    }
    struct store_stats before, after;
    store_stats(f->st, &before);
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    wait_count(&c, THREADS * PER_THREAD, 60000);
    assert_int_equal(c.failed, 0);
    store_stats(f->st, &after);
    assert_int_equal(after.writes - before.writes, THREADS * PER_THREAD);
    /* group commit: far fewer transactions than writes */
    uint64_t commits = after.commits - before.commits;
    if (commits * 4 > THREADS * PER_THREAD)
        fail_msg("%llu commits for %d writes", (unsigned long long)commits, THREADS * PER_THREAD);
    assert_int_equal(after.retries, before.retries);
    assert_int_equal(int_sql(f->url, "SELECT count(*) FROM moat.jobs"), THREADS * PER_THREAD);
    for (size_t i = 0; i < THREADS; i++)
        for (size_t k = 0; k < PER_THREAD; k++)
            job_release(&jobs[i][k]);
}

static void test_list_pending_oldest_first(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct job j[5];
    const int64_t created[5] = {500, 100, 300, 200, 400};
    for (size_t i = 0; i < 5; i++) {
        simple_job(&j[i], created[i]);
        j[i].priority = (int)i;
        assert_int_equal(store_insert(f->st, &j[i], &err), 0);
    }
    uint32_t n = 0;
    assert_int_equal(store_start(f->st, j[2].id, 777, false, &n, &err), 0); /* 300: running */
    assert_int_equal(store_start(f->st, j[3].id, 778, false, &j[3].attempts, &err), 0);
    j[3].status = JOB_STATUS_COMPLETED;
    assert_int_equal(store_finish(f->st, &j[3], &err), 0); /* 200: gone */
    enum job_status was;
    assert_int_equal(store_cancel(f->st, j[4].id, 779, &was, &err), 0); /* 400: gone */
    struct store_pending *p = NULL;
    size_t len = 0;
    assert_int_equal(store_list_pending(f->st, &p, &len, &err), 0);
    assert_int_equal(len, 3);
    assert_string_equal(p[0].id, j[1].id);
    assert_int_equal(p[0].created_ms, 100);
    assert_int_equal(p[0].status, JOB_STATUS_QUEUED);
    assert_int_equal(p[0].priority, 1);
    assert_string_equal(p[1].id, j[2].id);
    assert_int_equal(p[1].status, JOB_STATUS_RUNNING);
    assert_int_equal(p[1].attempts, 1);
    assert_int_equal(p[1].started_ms, 777);
    assert_string_equal(p[2].id, j[0].id);
    assert_int_equal(p[2].created_ms, 500);
    assert_int_equal(p[2].started_ms, 0);
    free(p);
    for (size_t i = 0; i < 5; i++)
        job_release(&j[i]);
}

static void test_reopen_keeps_everything(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct job a, b, got = {0};
    full_job(&a, (1ull << 63) + 5);
    full_job(&b, (1ull << 63) + 5);
    assert_int_equal(store_insert(f->st, &a, &err), 0);
    assert_int_equal(store_insert(f->st, &b, &err), 0);
    run_to_completion(f->st, &a);
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(store_open(&f->cfg, &f->st, &err), 0);
    assert_int_equal(store_get(f->st, a.id, STORE_GET_CODE | STORE_GET_OUTPUT, &got, &err), 0);
    assert_request_equal(&a, &got, true);
    assert_step_equal(&a.run, &got.run);
    assert_step_equal(&a.compile, &got.compile);
    job_release(&got);
    assert_int_equal(store_get(f->st, b.id, STORE_GET_CODE, &got, &err), 0);
    assert_request_equal(&b, &got, true);
    job_release(&got);
    assert_int_equal(int_sql(f->url, "SELECT max(version) FROM moat.schema_version"), 4);
    /* the writer left no row behind in write_log */
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(int_sql(f->url, "SELECT count(*) FROM moat.write_log"), 0);
    job_release(&a);
    job_release(&b);
}

/* ---- identification and migrations ---- */

static void test_newer_schema_refused(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    assert_int_equal(store_open(&f->cfg, &f->st, &err), 0);
    store_close(f->st);
    f->st = NULL;
    exec_sql(f->url, "INSERT INTO moat.schema_version VALUES (99, 0)");
    assert_int_equal(store_open(&f->cfg, &f->st, &err), -EPROTO);
    assert_null(f->st);
    assert_non_null(strstr(err.msg, "schema version 99"));
}

static void test_foreign_database_refused_untouched(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    exec_sql(f->url, "CREATE TABLE public.users (name text); INSERT INTO users VALUES ('ana')");
    assert_int_equal(store_open(&f->cfg, &f->st, &err), -EMEDIUMTYPE);
    assert_null(f->st);
    assert_non_null(strstr(err.msg, "users"));
    assert_non_null(strstr(err.msg, "left untouched"));
    assert_no_secret(f->url, err.msg);
    assert_int_equal(int_sql(f->url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'moat'"),
                     0);
    assert_int_equal(int_sql(f->url, "SELECT count(*) FROM users"), 1);

    /* a schema named moat that is not marked as moat's, with something in it */
    exec_sql(f->url, "DROP TABLE users; CREATE SCHEMA moat; CREATE TABLE moat.jobs (x int)");
    assert_int_equal(store_open(&f->cfg, &f->st, &err), -EMEDIUMTYPE);
    assert_int_equal(int_sql(f->url, "SELECT count(*) FROM moat.jobs"), 0);
    assert_int_equal(int_sql(f->url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'moat'"),
                     1);

    /* an empty one is taken (an administrator made it for moat) */
    exec_sql(f->url, "DROP TABLE moat.jobs");
    assert_int_equal(store_open(&f->cfg, &f->st, &err), 0);
    struct job j;
    simple_job(&j, 1);
    assert_int_equal(store_insert(f->st, &j, &err), 0);
    job_release(&j);
}

static void test_wrong_password_hidden(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    char url[600];
    const char *at = strchr(f->url, '@');
    (void)snprintf(url, sizeof(url), "postgresql://moat:Sesame-0pen-Door%s", at);
    moat_strlcpy(f->cfg.store, url, sizeof(f->cfg.store));
    int r = store_open(&f->cfg, &f->st, &err);
    assert_int_equal(r, -EACCES);
    assert_null(strstr(err.msg, "Sesame"));
    assert_non_null(strstr(err.msg, "***"));
}

/* ---- several nodes ---- */

enum { NODES = 4, RACE_JOBS = 40 };

struct node {
    struct store *st;
    struct job *jobs;
    size_t index;
    int phase; /* 0 start, 1 start with takeover, 2 finish with its attempt */
    int result[RACE_JOBS];
    uint32_t attempts[RACE_JOBS];
    pthread_barrier_t *go;
};

static void *node_run(void *arg)
{
    struct node *n = arg;
    pthread_barrier_wait(n->go);
    for (size_t i = 0; i < RACE_JOBS; i++) {
        /* each node walks the jobs from another place */
        size_t k = (i + n->index * RACE_JOBS / NODES) % RACE_JOBS;
        if (n->phase < 2) {
            n->result[k] =
                store_start(n->st, n->jobs[k].id, 1000, n->phase == 1, &n->attempts[k], NULL);
            continue;
        }
        if (n->result[k] != 0)
            continue;
        struct job j = {.status = JOB_STATUS_COMPLETED, .attempts = n->attempts[k]};
        moat_strlcpy(j.id, n->jobs[k].id, sizeof(j.id));
        j.run.exit_code = (int)n->attempts[k];
        n->result[k] = store_finish(n->st, &j, NULL);
    }
    return NULL;
}

static void race(struct node *nodes, int phase)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, NODES);
    pthread_t t[NODES];
    for (size_t i = 0; i < NODES; i++) {
        nodes[i].phase = phase;
        nodes[i].go = &go;
        assert_int_equal(pthread_create(&t[i], NULL, node_run, &nodes[i]), 0);
    }
    for (size_t i = 0; i < NODES; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
}

static void test_nodes_race_for_the_same_jobs(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct job jobs[RACE_JOBS];
    struct node nodes[NODES];
    memset(nodes, 0, sizeof(nodes));
    for (size_t i = 0; i < RACE_JOBS; i++) {
        simple_job(&jobs[i], (int64_t)i);
        assert_int_equal(store_insert(f->st, &jobs[i], &err), 0);
    }
    for (size_t i = 0; i < NODES; i++) {
        assert_int_equal(store_open(&f->cfg, &nodes[i].st, &err), 0);
        nodes[i].jobs = jobs;
        nodes[i].index = i;
    }
    /* every node starts every job: exactly one start wins each */
    race(nodes, 0);
    for (size_t k = 0; k < RACE_JOBS; k++) {
        int wins = 0;
        for (size_t i = 0; i < NODES; i++) {
            if (nodes[i].result[k] == 0) {
                wins++;
                assert_int_equal(nodes[i].attempts[k], 1);
            } else {
                assert_int_equal(nodes[i].result[k], -EALREADY);
            }
        }
        assert_int_equal(wins, 1);
    }
    /* every node takes every job over: each gets an attempt of its own */
    race(nodes, 1);
    for (size_t k = 0; k < RACE_JOBS; k++) {
        unsigned seen = 0;
        for (size_t i = 0; i < NODES; i++) {
            assert_int_equal(nodes[i].result[k], 0);
            assert_in_range(nodes[i].attempts[k], 2, 1 + NODES);
            seen |= 1u << nodes[i].attempts[k];
        }
        assert_int_equal(seen, ((1u << NODES) - 1) << 2);
    }
    /* every node records its result: only the latest attempt's is kept */
    race(nodes, 2);
    for (size_t k = 0; k < RACE_JOBS; k++) {
        int wins = 0;
        for (size_t i = 0; i < NODES; i++) {
            if (nodes[i].result[k] == 0) {
                wins++;
                assert_int_equal(nodes[i].attempts[k], 1 + NODES);
            } else if (nodes[i].result[k] != -ESTALE && nodes[i].result[k] != -EALREADY) {
                fail_msg("finish: %d", nodes[i].result[k]);
            }
        }
        assert_int_equal(wins, 1);
        struct job got = {0};
        assert_int_equal(store_get(f->st, jobs[k].id, 0, &got, &err), 0);
        assert_int_equal(got.status, JOB_STATUS_COMPLETED);
        assert_int_equal(got.attempts, 1 + NODES);
        assert_int_equal(got.run.exit_code, 1 + NODES);
        job_release(&got);
    }
    for (size_t i = 0; i < NODES; i++)
        store_close(nodes[i].st);
    for (size_t i = 0; i < RACE_JOBS; i++)
        job_release(&jobs[i]);
}

/* A start made before its job's insert committed on another node (its
 * queue message was published while the insert committed): it waits in
 * the writer for the row, and takes the job once the insert is there. A
 * row that never comes ends in -ENOENT after the wait; a job not queued is
 * refused at once, as by store_start. */
static void test_start_awaiting_its_insert(void **state)
{
    struct pgfx *f = *state;
    struct moat_err err = {0};
    struct store *other = NULL;
    assert_int_equal(store_open(&f->cfg, &other, &err), 0);
    struct job a;
    simple_job(&a, 1);
    struct store_ticket *t = NULL;
    assert_int_equal(store_start_begin_awaiting(other, a.id, 10, 10000, &t), 0);
    /* its first tries find nothing; the insert comes later, elsewhere */
    struct store_stats st0 = {0};
    uint64_t dl = moat_test_deadline_ms(20000);
    do {
        (void)usleep(1000);
        store_stats(other, &st0);
    } while (st0.row_waits < 2 && moat_test_before(dl));
    assert_true(st0.row_waits >= 2);
    assert_int_equal(store_insert(f->st, &a, &err), 0);
    uint32_t n = 0;
    assert_int_equal(store_start_wait(t, &n, NULL, &err), 0);
    assert_int_equal(n, 1);
    struct job got = {0};
    assert_int_equal(store_get(f->st, a.id, 0, &got, &err), 0);
    assert_int_equal(got.status, JOB_STATUS_RUNNING);
    assert_int_equal(got.started_ms, 10);
    job_release(&got);

    /* running now: refused at once, no wait for a row that is there */
    store_stats(other, &st0);
    assert_int_equal(store_start_begin_awaiting(other, a.id, 11, 10000, &t), 0);
    assert_int_equal(store_start_wait(t, &n, NULL, &err), -EALREADY);
    struct store_stats st1 = {0};
    store_stats(other, &st1);
    assert_int_equal(st1.row_waits, st0.row_waits);

    /* never inserted: -ENOENT once the wait is over */
    struct job b;
    simple_job(&b, 2);
    assert_int_equal(store_start_begin_awaiting(other, b.id, 12, 150, &t), 0);
    assert_int_equal(store_start_wait(t, &n, NULL, &err), -ENOENT);
    store_stats(other, &st0);
    assert_true(st0.row_waits > st1.row_waits);
    assert_int_equal(store_get(f->st, b.id, 0, &got, &err), -ENOENT);
    store_close(other);
    job_release(&a);
    job_release(&b);
}

#include "test_postgres_faults.h"

/* API keys and Idempotency-Key records: keys_cases.h, the same on both
 * drivers */
static void test_keys_round_trip(void **state)
{
    keys_case_round_trip(((struct pgfx *)*state)->st);
}

static void test_idempotency_records(void **state)
{
    keys_case_idempotency(((struct pgfx *)*state)->st);
}

static void test_idempotency_claim_race(void **state)
{
    keys_case_claim_race(((struct pgfx *)*state)->st);
}

int main(void)
{
    if (!base_url())
        return moat_test_skip("MOAT_TEST_PG_URL is not set: run through tests/servers/postgres.py");
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define B(fn) cmocka_unit_test_setup_teardown(fn, setup_bare, teardown)
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
        T(test_state_machine_and_fencing),
        T(test_inserts_in_flight_are_read),
        T(test_bad_items_fail_alone),
        T(test_group_commit),
        T(test_list_pending_oldest_first),
        T(test_reopen_keeps_everything),
        B(test_newer_schema_refused),
        B(test_foreign_database_refused_untouched),
        B(test_wrong_password_hidden),
        T(test_nodes_race_for_the_same_jobs),
        T(test_start_awaiting_its_insert),
        B(test_lost_answers_resolved),
        B(test_read_only_database_not_ready),
        B(test_stuck_batch_ended_before_retry),
        cmocka_unit_test_setup_teardown(test_server_stopped_and_back, setup_bare, teardown_faults),
        cmocka_unit_test_setup_teardown(test_server_silent, setup_bare, teardown_faults),
    };
    return moat_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
