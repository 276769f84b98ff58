/*
 * The job service (exec) with everything real: a SQLite store in a
 * temporary data directory, the local queue, a warm pool of real boxes, two
 * executor threads. Jobs go in as the API puts them (exec_submit, waiting
 * for their final notice) and their stored results are checked: verdicts,
 * output, attempts, output hash; a running job cancelled; a job cancelled
 * while queued skipped; an internal error retried up to retry_attempts and
 * then failed; recovery after a stop; the metrics and the stats.
 *
 * The store the service sees is a fault store (store/fault_store.h) over
 * the real one: it fails chosen writes as a full or failing disk would,
 * records when each attempt's start began, and signals each write, so the
 * tests check every durable write of a job's path being retried until it
 * is durable (and a stop leaving the job for recovery), and the backoff
 * before each attempt, and wait for events rather than sleep.
 *
 * Needs root; returns 77 (skipped) without it. The pool is started in the
 * group's setup, before the store's writer thread exists: a pool forks its
 * spawner and must be started while the process is single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>

#include "moat/config.h"
#include "moat/exec.h"
#include "moat/job.h"
#include "moat/lang.h"
#include "moat/obs.h"
#include "moat/queue.h"
#include "moat/sandbox.h"
#include "moat/store.h"
#include "moat/util.h"
#include "sandbox/sbx_test.h"
#include "store/fault_store.h"

#define MiB (1ull << 20)
#define MAX_FINISHED 64

/* languages of the test: "broken" names a run binary no box has, which
 * the sandbox reports as its own failure (internal_error), never the
 * user's. */
static const char langs_ini[] = "[python]\n"
                                "source = main.py\n"
                                "run = /usr/bin/python3 {main}\n"
                                "env = PYTHONDONTWRITEBYTECODE=1\n"
                                "\n"
                                "[bash]\n"
                                "source = main.sh\n"
                                "run = /usr/bin/bash {main}\n"
                                "\n"
                                "[c]\n"
                                "source = main.c\n"
                                "compile = /usr/bin/gcc -O0 -o main {files}\n"
                                "run = ./main\n"
                                "version = /usr/bin/gcc -dumpfullversion\n"
                                "\n"
                                "[broken]\n"
                                "source = main.txt\n"
                                "run = /usr/bin/moat-no-such-interpreter {main}\n";

/* What the final notices said, from the executor threads. */
struct heard {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char ids[MAX_FINISHED][MOAT_UUID_LEN + 1];
    size_t n;
    struct store *store; /* to check each final job told against the store's */
    size_t finals;       /* told with the final job */
    size_t mismatches;   /* ... which differed from the store's */
};

struct fx {
    struct moat_config cfg;
    struct moat_config cfg0; /* as the group set it up: restored after each test */
    struct sbx_test_fx x;
    struct sbx_pool *pool;
    struct store *store;
    struct lang_registry *langs;
    char data_dir[128];
    /* of the running test, released by its teardown */
    struct queue *queue;
    struct obs_registry *metrics;
    struct exec_cache *cache; /* NULL unless the test opens one */
    struct exec *svc;
    struct fault_store *fs; /* what the service sees as its store */
    struct heard heard;
};

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool same_step(const struct job_step *a, const struct job_step *b)
{
    return a->verdict == b->verdict && a->exit_code == b->exit_code && a->signal == b->signal &&
           a->time_ms == b->time_ms && a->wall_time_ms == b->wall_time_ms &&
           a->memory_kb == b->memory_kb && a->out_truncated == b->out_truncated &&
           a->err_truncated == b->err_truncated && a->cached == b->cached &&
           strcmp(a->message, b->message) == 0 &&
           same_bytes(a->out, a->out_len, b->out, b->out_len) &&
           same_bytes(a->err, a->err_len, b->err, b->err_len);
}

/* The final job an executor tells is what the store now holds: the API
 * answers waiters from it without reading the store. */
static bool same_as_stored(struct store *st, const struct job *f)
{
    struct job s = {0};
    struct moat_err err = {0};
    bool same = store_get(st, f->id, STORE_GET_OUTPUT, &s, &err) == 0 && s.status == f->status &&
                strcmp(s.language, f->language) == 0 && strcmp(s.version, f->version) == 0 &&
                s.priority == f->priority && s.attempts == f->attempts &&
                s.created_ms == f->created_ms && s.started_ms == f->started_ms &&
                s.finished_ms == f->finished_ms && strcmp(s.code_hash, f->code_hash) == 0 &&
                strcmp(s.output_hash, f->output_hash) == 0 && s.compiled == f->compiled &&
                (!s.compiled || same_step(&s.compile, &f->compile)) && same_step(&s.run, &f->run);
    job_release(&s);
    return same;
}

/* The notice of a waiting submission (or a watch): a final one is heard. */
static void on_notice(void *cls, const struct exec_notice *n)
{
    struct heard *h = cls;
    if (n->kind != EXEC_FINAL) {
        if (n->kind != EXEC_STOPPING)
            print_error("job %s: notice %d (error %d) instead of its final status\n", n->id,
                        (int)n->kind, n->error);
        return;
    }
    const char *id = n->id;
    const struct job *final = n->final;
    bool same = !final || (strcmp(final->id, id) == 0 && same_as_stored(h->store, final));
    pthread_mutex_lock(&h->lock);
    h->finals += final != NULL;
    h->mismatches += !same;
    if (h->n < MAX_FINISHED)
        moat_strlcpy(h->ids[h->n++], id, sizeof(h->ids[0]));
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static size_t heard_count(struct heard *h, const char *id)
{
    size_t k = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n; i++)
        k += strcmp(h->ids[i], id) == 0;
    pthread_mutex_unlock(&h->lock);
    return k;
}

/* Waits until the finished callback named id; false after timeout_ms. */
static bool wait_finished(struct fx *f, const char *id, int timeout_ms)
{
    struct heard *h = &f->heard;
    struct timespec until = moat_test_abstime_ms(timeout_ms);
    bool found = false;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        for (size_t i = 0; i < h->n && !found; i++)
            found = strcmp(h->ids[i], id) == 0;
        if (found || pthread_cond_timedwait(&h->cond, &h->lock, &until) != 0)
            break;
    }
    for (size_t i = 0; i < h->n && !found; i++)
        found = strcmp(h->ids[i], id) == 0;
    pthread_mutex_unlock(&h->lock);
    return found;
}

/* A decoded request, as the API makes it. */
static struct job *request(struct fx *f, const char *lang, const char *code, const char *in,
                           uint64_t time_ms)
{
    struct job *jp = calloc(1, sizeof(*jp));
    assert_non_null(jp);
    struct job j = {0};
    moat_strlcpy(j.language, lang, sizeof(j.language));
    moat_strlcpy(j.language_given, lang, sizeof(j.language_given));
    moat_strlcpy(j.version, "1", sizeof(j.version));
    j.priority = JOB_PRIORITY_DEFAULT;
    j.limits = f->cfg.limits;
    if (time_ms) {
        j.limits.time_ms = time_ms;
        j.limits.wall_time_ms = 0;
    }
    j.files = calloc(1, sizeof(*j.files));
    assert_non_null(j.files);
    j.nfiles = 1;
    j.files[0].data = moat_strdup(code);
    j.files[0].len = strlen(code);
    if (in) {
        j.stdin_data = moat_strdup(in);
        j.stdin_len = strlen(in);
    }
    *jp = j;
    return jp;
}

/* The requests submitted, kept until the test's teardown (exec borrows a
 * job until its notice; a waiting one until it is final). */
#define MAX_SUBMITTED 64
static struct job *submitted[MAX_SUBMITTED];
static size_t nsubmitted;

/* Puts a job in as the API does, waiting for its final notice. */
static void submit(struct fx *f, const char *lang, const char *code, const char *in,
                   uint64_t time_ms, char id[MOAT_UUID_LEN + 1])
{
    assert_true(nsubmitted < MAX_SUBMITTED);
    struct job *j = request(f, lang, code, in, time_ms);
    submitted[nsubmitted++] = j;
    int r = exec_submit(f->svc, j, true, f, on_notice, &f->heard);
    if (r < 0)
        fail_msg("exec_submit: %s (%d)", strerror(-r), r);
    moat_strlcpy(id, j->id, MOAT_UUID_LEN + 1);
}

/* A job as a previous run left it: stored and queued, no exec running
 * (recovery pushes it when exec starts). */
static void submit_before_start(struct fx *f, const char *lang, const char *code,
                                char id[MOAT_UUID_LEN + 1])
{
    struct job *j = request(f, lang, code, NULL, 0);
    moat_uuid7(j->id);
    j->status = JOB_STATUS_QUEUED;
    j->created_ms = (int64_t)moat_realtime_ms();
    assert_int_equal(job_code_hash(j, j->code_hash), 0);
    struct moat_err err = {0};
    int r = store_insert(f->store, j, &err);
    if (r < 0)
        fail_msg("store_insert: %s (%d)", err.msg, r);
    moat_strlcpy(id, j->id, MOAT_UUID_LEN + 1);
    job_release(j);
    free(j);
}

/* Hears job id's final notice (a watch, as a GET ?wait=true makes). */
static void watch(struct fx *f, const char *id)
{
    int r = exec_watch(f->svc, id, f, on_notice, &f->heard);
    if (r < 0)
        fail_msg("exec_watch %s: %d", id, r);
}

static void load(struct fx *f, const char *id, struct job *j)
{
    struct moat_err err = {0};
    int r = store_get(f->store, id, STORE_GET_OUTPUT, j, &err);
    if (r < 0)
        fail_msg("store_get %s: %s (%d)", id, err.msg, r);
}

static void start_service(struct fx *f)
{
    struct exec_deps deps = {
        .cfg = &f->cfg,
        .langs = f->langs,
        .store = &f->fs->base,
        .queue = f->queue,
        .pool = f->pool,
        .cache = f->cache,
        .metrics = f->metrics,
    };
    f->heard.store = f->store;
    struct moat_err err = {0};
    int r = exec_start(&deps, &f->svc, &err);
    if (r == 0)
        r = exec_recover(f->svc, &err);
    if (r < 0)
        fail_msg("exec_start: %s (%d)", err.msg, r);
}

/* The value of one series in the rendered metrics (a line starting with
 * series followed by a space); -1 when absent. */
static double metric(struct fx *f, const char *series)
{
    struct buf b;
    buf_init(&b, 1u << 22);
    assert_int_equal(obs_render(f->metrics, &b), 0);
    assert_int_equal(buf_terminate(&b), 0);
    double v = -1;
    size_t n = strlen(series);
    for (const char *l = b.data; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, series, n) == 0 && l[n] == ' ') {
            v = strtod(l + n + 1, NULL);
            break;
        }
    }
    buf_release(&b);
    return v;
}

static void assert_step(const struct job *j, const struct job_step *s, enum job_verdict v,
                        int exit_code, const char *out)
{
    if (s->verdict != v || s->exit_code != exit_code)
        fail_msg("job %s (%s): verdict %s exit %d, expected %s exit %d; message \"%s\" stderr "
                 "\"%.*s\"",
                 j->id, j->language, job_verdict_name(s->verdict), s->exit_code,
                 job_verdict_name(v), exit_code, s->message, (int)s->err_len, s->err ? s->err : "");
    if (out) {
        if (s->out_len != strlen(out) || memcmp(s->out, out, s->out_len) != 0)
            fail_msg("job %s: stdout \"%.*s\", expected \"%s\"", j->id, (int)s->out_len,
                     s->out ? s->out : "", out);
    }
}

static void assert_completed(struct fx *f, const char *id, enum job_verdict v, int exit_code,
                             const char *out)
{
    struct job j = {0};
    load(f, id, &j);
    if (j.status != JOB_STATUS_COMPLETED)
        fail_msg("job %s (%s): status %s, run %s \"%s\"", id, j.language, job_status_name(j.status),
                 job_verdict_name(j.run.verdict), j.run.message);
    assert_int_equal(j.attempts, 1);
    assert_true(j.started_ms >= j.created_ms);
    assert_true(j.finished_ms >= j.started_ms);
    assert_step(&j, &j.run, v, exit_code, out);
    char hash[MOAT_SHA256_HEX_LEN + 1];
    moat_sha256_hex(j.run.out, j.run.out_len, hash);
    assert_string_equal(j.output_hash, hash);
    assert_int_equal(heard_count(&f->heard, id), 1);
    job_release(&j);
}

/* ---- tests ---- */

/* Bounded wait until no executor holds a job and the queue has nothing in flight. */
static void wait_idle(struct fx *f)
{
    for (int i = 0; i < 2000; i++) {
        struct exec_stats st;
        struct queue_stats qs;
        exec_stats(f->svc, &st);
        queue_stats(f->queue, &qs);
        if (st.busy == 0 && qs.in_flight == 0 && metric(f, "moat_workers_busy") == 0)
            return;
        (void)usleep(5000);
    }
    fail_msg("executors still busy after 10 s");
}

static void test_jobs(void **state)
{
    struct fx *f = *state;
    start_service(f);
    struct exec_stats st;
    exec_stats(f->svc, &st);
    assert_int_equal(st.workers, 2);

    char py[MOAT_UUID_LEN + 1], sh[MOAT_UUID_LEN + 1], c[MOAT_UUID_LEN + 1],
        loop[MOAT_UUID_LEN + 1], echo[MOAT_UUID_LEN + 1];
    submit(f, "python", "print('hello')\n", NULL, 0, py);
    submit(f, "bash", "echo out; exit 3\n", NULL, 0, sh);
    submit(f, "c", "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 6 * 7);return 0;}\n", NULL,
           0, c);
    submit(f, "python", "while True:\n    pass\n", NULL, 200, loop);
    submit(f, "python", "import sys\nprint(sys.stdin.read().upper(), end='')\n", "abc\n", 0, echo);
    const char *all[] = {py, sh, c, loop, echo};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(all); i++)
        if (!wait_finished(f, all[i], 60000))
            fail_msg("job %zu (%s) did not finish in 60 s", i, all[i]);

    assert_completed(f, py, JOB_VERDICT_OK, 0, "hello\n");
    assert_completed(f, sh, JOB_VERDICT_RUNTIME_ERROR, 3, "out\n");
    assert_completed(f, c, JOB_VERDICT_OK, 0, "42\n");
    assert_completed(f, loop, JOB_VERDICT_TIME_LIMIT, 124, "");
    assert_completed(f, echo, JOB_VERDICT_OK, 0, "ABC\n");

    struct job j = {0};
    load(f, c, &j);
    assert_true(j.compiled);
    assert_int_equal(j.compile.verdict, JOB_VERDICT_OK);
    assert_false(j.compile.cached);
    job_release(&j);
    load(f, py, &j);
    assert_false(j.compiled);
    job_release(&j);

    /* The executors acknowledge the queue and drop their busy count only after
     * the result is durable, which is what wait_finished saw: let them get there. */
    wait_idle(f);
    /* the queue is drained and every entry acknowledged */
    struct queue_stats qs;
    queue_stats(f->queue, &qs);
    assert_int_equal(qs.depth, 0);
    assert_int_equal(qs.in_flight, 0);

    assert_true(metric(f, "moat_jobs_total{status=\"completed\",verdict=\"ok\"}") == 3);
    assert_true(metric(f, "moat_jobs_total{status=\"completed\",verdict=\"runtime_error\"}") == 1);
    assert_true(metric(f, "moat_jobs_total{status=\"completed\",verdict=\"time_limit\"}") == 1);
    assert_true(metric(f, "moat_timeouts_total") == 1);
    assert_true(metric(f, "engine_sandbox_timeouts_total") == 1);
    assert_true(metric(f, "moat_run_seconds_count") == 5);
    assert_true(metric(f, "engine_execution_latency_seconds_count") == 5);
    assert_true(metric(f, "moat_compile_seconds_count") == 1);
    assert_true(metric(f, "moat_queue_wait_seconds_count") == 5);
    assert_true(metric(f, "moat_store_write_seconds_count{op=\"start\"}") == 5);
    assert_true(metric(f, "moat_store_write_seconds_count{op=\"finish\"}") == 5);
    assert_true(metric(f, "moat_workers") == 2);
    assert_true(metric(f, "moat_workers_busy") == 0);
    assert_true(metric(f, "moat_retries_total") == 0);
    assert_true(metric(f, "moat_store_write_seconds_count{op=\"insert\"}") == 5);
    exec_stats(f->svc, &st);
    assert_int_equal(st.busy, 0);
    /* each completed job was told with its final record, as stored */
    pthread_mutex_lock(&f->heard.lock);
    size_t finals = f->heard.finals, mismatches = f->heard.mismatches;
    pthread_mutex_unlock(&f->heard.lock);
    assert_true(finals >= MOAT_ARRAY_SIZE(all));
    assert_int_equal(mismatches, 0);
}

static void wait_status(struct fx *f, const char *id, enum job_status want)
{
    if (!fault_store_wait_status(f->fs, id, want, 10000))
        fail_msg("job %s never became %s", id, job_status_name(want));
}

/* Waits until a process named name runs under one of the fixture's box
 * uids: the program has started in its box. */
static void wait_program(struct fx *f, const char *name)
{
    char want[64];
    (void)snprintf(want, sizeof(want), "Name:\t%s\n", name);
    uint32_t lo = f->x.cfg.first_uid, hi = lo + f->x.cfg.uid_count;
    uint64_t t0 = moat_now_ns();
    for (;;) {
        DIR *d = opendir("/proc");
        assert_non_null(d);
        pid_t pid;
        char st[4096];
        bool found = false;
        while (!found && sbx_test_next_proc(d, &pid, st, sizeof(st))) {
            const char *uid = strstr(st, "\nUid:\t");
            unsigned long u = uid ? strtoul(uid + 6, NULL, 10) : 0;
            found = strncmp(st, want, strlen(want)) == 0 && u >= lo && u < hi;
        }
        (void)closedir(d);
        if (found)
            return;
        if (moat_now_ns() - t0 > 10000000000ull)
            fail_msg("no %s ran in a box within 10 s", name);
        /* /proc has no event to wait on: look again shortly */
        (void)usleep(2000);
    }
}

static void test_cancel_running(void **state)
{
    struct fx *f = *state;
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "python", "while True:\n    pass\n", NULL, 10000, id);
    wait_status(f, id, JOB_STATUS_RUNNING);
    wait_program(f, "python3");

    /* as the API does: exec says cancelled in the store, then kills */
    enum job_status was;
    struct moat_err err = {0};
    uint64_t t0 = moat_now_ns();
    assert_int_equal(exec_cancel(f->svc, id, &was, &err), 0);
    assert_int_equal(was, JOB_STATUS_RUNNING);
    assert_true(wait_finished(f, id, 5000));
    struct job j = {0};
    load(f, id, &j);
    assert_int_equal(j.status, JOB_STATUS_CANCELLED);
    assert_int_equal(j.attempts, 1);
    job_release(&j);
    /* the program is gone, and its executor free, well within a second */
    wait_idle(f);
    uint64_t ms = (moat_now_ns() - t0) / 1000000;
    if (ms > 1500)
        fail_msg("the cancelled job's executor was free %llu ms after the cancel",
                 (unsigned long long)ms);
    assert_int_equal(exec_cancel(f->svc, id, &was, &err), -EALREADY);
    assert_int_equal(was, JOB_STATUS_CANCELLED);
    char other[MOAT_UUID_LEN + 1];
    moat_uuid7(other);
    assert_int_equal(exec_cancel(f->svc, other, &was, &err), -ENOENT);
    /* counted once: by the cancel that made it final, not again by the
     * executor */
    assert_true(metric(f, "moat_jobs_total{status=\"cancelled\",verdict=\"cancelled\"}") == 1);
    assert_int_equal(heard_count(&f->heard, id), 1);

    /* the executor goes on with the next job */
    submit(f, "python", "print(1 + 1)\n", NULL, 0, other);
    assert_true(wait_finished(f, other, 30000));
    assert_completed(f, other, JOB_VERDICT_OK, 0, "2\n");
}

/* A cancel at once, whether an executor holds the job, the program has
 * started or neither: the job is cancelled, and the boxes stay good (a box
 * that got no cancel signal is kept for the next job). */
static void test_cancel_early(void **state)
{
    struct fx *f = *state;
    start_service(f);
    for (int round = 0; round < 3; round++) {
        char id[MOAT_UUID_LEN + 1];
        submit(f, "python", "while True:\n    pass\n", NULL, 10000, id);
        enum job_status was;
        struct moat_err err = {0};
        assert_int_equal(exec_cancel(f->svc, id, &was, &err), 0);
        assert_true(wait_finished(f, id, 5000));
        struct job j = {0};
        load(f, id, &j);
        assert_int_equal(j.status, JOB_STATUS_CANCELLED);
        assert_true(j.attempts <= 1);
        job_release(&j);
    }
    char next[3][MOAT_UUID_LEN + 1];
    for (int i = 0; i < 3; i++)
        submit(f, "bash", "echo fine\n", NULL, 0, next[i]);
    for (int i = 0; i < 3; i++) {
        assert_true(wait_finished(f, next[i], 30000));
        assert_completed(f, next[i], JOB_VERDICT_OK, 0, "fine\n");
    }
    wait_idle(f);
}

static void test_cancel_queued(void **state)
{
    struct fx *f = *state;
    /* cancelled in the store while its entry waits in the queue (nobody
     * took it out): the executor that takes it drops it unrun */
    char gone[MOAT_UUID_LEN + 1], next[MOAT_UUID_LEN + 1];
    submit_before_start(f, "python", "print('never')\n", gone);
    enum job_status was;
    struct moat_err err = {0};
    assert_int_equal(store_cancel(f->store, gone, (int64_t)moat_realtime_ms(), &was, &err), 0);
    assert_int_equal(was, JOB_STATUS_QUEUED);
    assert_int_equal(queue_push(f->queue, gone, JOB_PRIORITY_MAX, false), 0);
    start_service(f); /* recovery queues nothing for it: it is final */
    submit(f, "python", "print('next')\n", NULL, 0, next);
    assert_true(wait_finished(f, next, 30000));
    assert_completed(f, next, JOB_VERDICT_OK, 0, "next\n");

    wait_idle(f);
    struct queue_stats qs;
    queue_stats(f->queue, &qs);
    assert_int_equal(qs.depth, 0);
    assert_int_equal(qs.in_flight, 0);
    struct job j = {0};
    load(f, gone, &j);
    assert_int_equal(j.status, JOB_STATUS_CANCELLED);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.run.out_len, 0);
    job_release(&j);
    assert_int_equal(heard_count(&f->heard, gone), 0);
}

static void test_retry_then_failed(void **state)
{
    struct fx *f = *state;
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    uint64_t t0 = moat_now_ns();
    submit(f, "broken", "anything\n", NULL, 0, id);
    assert_true(wait_finished(f, id, 60000));
    uint64_t ms = (moat_now_ns() - t0) / 1000000;

    struct job j = {0};
    load(f, id, &j);
    if (j.status != JOB_STATUS_FAILED)
        fail_msg("status %s, run %s", job_status_name(j.status), job_verdict_name(j.run.verdict));
    assert_int_equal(j.attempts, f->cfg.retry_attempts);
    assert_int_equal(j.run.verdict, JOB_VERDICT_INTERNAL_ERROR);
    if (!strstr(j.run.message, "moat-no-such-interpreter"))
        fail_msg("message \"%s\" does not name the missing binary", j.run.message);
    assert_true(j.finished_ms > 0);
    job_release(&j);
    assert_int_equal(heard_count(&f->heard, id), 1);
    /* backoff: base, then base * factor before the last attempt */
    uint64_t backoff = f->cfg.retry_base_ms * (1 + f->cfg.retry_factor);
    if (ms < backoff)
        fail_msg("%u attempts in %llu ms, less than the backoff of %llu ms",
                 (unsigned)f->cfg.retry_attempts, (unsigned long long)ms,
                 (unsigned long long)backoff);
    assert_true(metric(f, "moat_retries_total") == (double)(f->cfg.retry_attempts - 1));
    assert_true(metric(f, "moat_store_write_seconds_count{op=\"requeue\"}") ==
                (double)(f->cfg.retry_attempts - 1));
    assert_true(metric(f, "moat_jobs_total{status=\"failed\",verdict=\"internal_error\"}") == 1);
}

static void test_unknown_language_fails_at_once(void **state)
{
    struct fx *f = *state;
    start_service(f);
    /* accepted by an API that knew the language, gone from languages.ini
     * since: no retry can help */
    char id[MOAT_UUID_LEN + 1];
    submit(f, "cobol", "DISPLAY 'HI'.\n", NULL, 0, id);
    assert_true(wait_finished(f, id, 30000));
    struct job j = {0};
    load(f, id, &j);
    assert_int_equal(j.status, JOB_STATUS_FAILED);
    assert_int_equal(j.attempts, 1);
    assert_int_equal(j.run.verdict, JOB_VERDICT_INTERNAL_ERROR);
    assert_non_null(strstr(j.run.message, "cobol"));
    job_release(&j);
    assert_true(metric(f, "moat_retries_total") == 0);
}

/* The same program twice with a compile cache: compiled once, the second
 * run served from the cache, both counted. */
static void test_compile_cache(void **state)
{
    struct fx *f = *state;
    struct moat_err err = {0};
    int r = exec_cache_open(&f->cfg, &f->cache, &err);
    if (r < 0)
        fail_msg("exec_cache_open: %s (%d)", err.msg, r);
    start_service(f);
    static const char prog[] = "#include <stdio.h>\nint main(void){puts(\"cached\");return 0;}\n";
    char a[MOAT_UUID_LEN + 1], b[MOAT_UUID_LEN + 1];
    submit(f, "c", prog, NULL, 0, a);
    assert_true(wait_finished(f, a, 60000));
    submit(f, "c", prog, NULL, 0, b);
    assert_true(wait_finished(f, b, 60000));
    assert_completed(f, a, JOB_VERDICT_OK, 0, "cached\n");
    assert_completed(f, b, JOB_VERDICT_OK, 0, "cached\n");
    struct job j = {0};
    load(f, a, &j);
    assert_true(j.compiled);
    assert_false(j.compile.cached);
    job_release(&j);
    load(f, b, &j);
    assert_true(j.compiled);
    assert_true(j.compile.cached);
    job_release(&j);
    assert_true(metric(f, "moat_compile_cache_total{result=\"miss\"}") == 1);
    assert_true(metric(f, "moat_compile_cache_total{result=\"hit\"}") == 1);
    assert_true(metric(f, "moat_compile_seconds_count") == 1);
}

/* ---- the store fails durable writes ---- */

static uint64_t ms_since(uint64_t t0)
{
    return (moat_now_ns() - t0) / 1000000;
}

static void assert_in_flight(struct fx *f, uint64_t n)
{
    struct queue_stats qs;
    queue_stats(f->queue, &qs);
    assert_int_equal(qs.in_flight, n);
}

static enum job_status stored_status(struct fx *f, const char *id, uint32_t *attempts)
{
    struct job j = {0};
    load(f, id, &j);
    enum job_status s = j.status;
    if (attempts)
        *attempts = j.attempts;
    job_release(&j);
    return s;
}

/* The disk is full when the job finishes, for longer than any fixed number
 * of tries (8 here, 3.5 s): the executor holds the result, the job stays
 * running and its queue entry unacknowledged, nobody is told; once the
 * disk takes writes, it is recorded once, within a second. */
static void test_finish_retried_until_durable(void **state)
{
    struct fx *f = *state;
    fault_store_set(f->fs, FAULT_FINISH, -ENOSPC, -1);
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "python", "print('kept')\n", NULL, 0, id);
    if (!fault_store_wait_calls(f->fs, FAULT_FINISH, 8, 30000))
        fail_msg("the result was given up after %u tries", fault_store_calls(f->fs, FAULT_FINISH));
    assert_int_equal(stored_status(f, id, NULL), JOB_STATUS_RUNNING);
    assert_int_equal(heard_count(&f->heard, id), 0);
    assert_in_flight(f, 1);

    uint64_t t0 = moat_now_ns();
    fault_store_set(f->fs, FAULT_FINISH, 0, 0);
    assert_true(wait_finished(f, id, 5000));
    if (ms_since(t0) > 1500) /* the longest pause between tries is 1 s */
        fail_msg("recorded %llu ms after the disk took writes", (unsigned long long)ms_since(t0));
    assert_completed(f, id, JOB_VERDICT_OK, 0, "kept\n");
    wait_idle(f);
    assert_int_equal(fault_store_calls(f->fs, FAULT_FINISH),
                     fault_store_failed(f->fs, FAULT_FINISH) + 1);
    assert_true(metric(f, "moat_store_write_retries_total") >=
                (double)fault_store_failed(f->fs, FAULT_FINISH));
    assert_true(metric(f, "moat_jobs_total{status=\"completed\",verdict=\"ok\"}") == 1);
}

/* The start's commit fails while the program runs: the start is tried
 * again with the result in hand (the program is not run again), and the
 * job counts one attempt. */
static void test_start_retried_after_run(void **state)
{
    struct fx *f = *state;
    fault_store_set(f->fs, FAULT_START, -EIO, 3);
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "python", "print('started')\n", NULL, 0, id);
    assert_true(wait_finished(f, id, 30000));
    assert_completed(f, id, JOB_VERDICT_OK, 0, "started\n");
    assert_int_equal(fault_store_calls(f->fs, FAULT_START), 4);
    assert_int_equal(fault_store_gets(f->fs), 1); /* loaded, and run, once */
    wait_idle(f);
}

/* An internal error whose requeue the store fails 7 times (3.5 s):
 * requeued in the end, each attempt made, failed after the last. */
static void test_requeue_retried(void **state)
{
    struct fx *f = *state;
    fault_store_set(f->fs, FAULT_REQUEUE, -ENOSPC, 7);
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "broken", "anything\n", NULL, 0, id);
    assert_true(wait_finished(f, id, 60000));
    uint32_t attempts = 0;
    assert_int_equal(stored_status(f, id, &attempts), JOB_STATUS_FAILED);
    assert_int_equal(attempts, f->cfg.retry_attempts);
    assert_int_equal(fault_store_calls(f->fs, FAULT_REQUEUE), f->cfg.retry_attempts - 1 + 7);
    assert_true(metric(f, "moat_retries_total") == (double)(f->cfg.retry_attempts - 1));
    assert_int_equal(heard_count(&f->heard, id), 1);
    wait_idle(f);
}

/* A cancel the store fails is refused and changes nothing: the job runs
 * on; a cancel once the store writes again cancels it, counted once. */
static void test_cancel_refused_then_done(void **state)
{
    struct fx *f = *state;
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "python", "while True:\n    pass\n", NULL, 10000, id);
    wait_status(f, id, JOB_STATUS_RUNNING);
    wait_program(f, "python3");
    fault_store_set(f->fs, FAULT_CANCEL, -EIO, 1);
    enum job_status was;
    struct moat_err err = {0};
    assert_int_equal(exec_cancel(f->svc, id, &was, &err), -EIO);
    assert_int_equal(stored_status(f, id, NULL), JOB_STATUS_RUNNING);
    assert_int_equal(heard_count(&f->heard, id), 0);
    wait_program(f, "python3"); /* still running */
    assert_int_equal(exec_cancel(f->svc, id, &was, &err), 0);
    assert_true(wait_finished(f, id, 10000));
    assert_int_equal(stored_status(f, id, NULL), JOB_STATUS_CANCELLED);
    assert_true(metric(f, "moat_jobs_total{status=\"cancelled\",verdict=\"cancelled\"}") == 1);
    wait_idle(f);
}

/* A result the store refuses for good (too large): moat's own failure, so
 * the job runs again, and is recorded once. */
static void test_unstorable_result_retried(void **state)
{
    struct fx *f = *state;
    fault_store_set(f->fs, FAULT_FINISH, -E2BIG, 1);
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "python", "print('again')\n", NULL, 0, id);
    assert_true(wait_finished(f, id, 30000));
    struct job j = {0};
    load(f, id, &j);
    assert_int_equal(j.status, JOB_STATUS_COMPLETED);
    assert_int_equal(j.attempts, 2);
    assert_step(&j, &j.run, JOB_VERDICT_OK, 0, "again\n");
    job_release(&j);
    assert_int_equal(heard_count(&f->heard, id), 1);
    assert_true(metric(f, "moat_retries_total") == 1);
    wait_idle(f);
}

/* Stopped while the store still fails the result: the stop does not wait
 * for the disk, the job stays running and its entry unacknowledged, and
 * recovery (as moat serve does it at start) runs it again to its end,
 * once. */
static void test_stop_leaves_job_for_recovery(void **state)
{
    struct fx *f = *state;
    fault_store_set(f->fs, FAULT_FINISH, -ENOSPC, -1);
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "python", "print('recovered')\n", NULL, 0, id);
    assert_true(fault_store_wait_calls(f->fs, FAULT_FINISH, 3, 30000));
    uint64_t t0 = moat_now_ns();
    queue_shutdown(f->queue);
    exec_stop(f->svc);
    f->svc = NULL;
    if (ms_since(t0) > 1500)
        fail_msg("the stop took %llu ms", (unsigned long long)ms_since(t0));
    uint32_t attempts = 0;
    assert_int_equal(stored_status(f, id, &attempts), JOB_STATUS_RUNNING);
    assert_int_equal(attempts, 1);
    assert_int_equal(heard_count(&f->heard, id), 0);
    /* its entry was given back, not acknowledged (another taker would get
     * it; this queue dies here, and recovery queues the job again) */
    assert_in_flight(f, 0);
    struct queue_stats qs;
    queue_stats(f->queue, &qs);
    assert_int_equal(qs.depth, 1);

    struct store_pending *p = NULL;
    size_t n = 0;
    assert_int_equal(store_list_pending(f->store, &p, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].status, JOB_STATUS_RUNNING);
    free(p);
    queue_close(f->queue);
    struct moat_err err = {0};
    assert_int_equal(queue_open(&f->cfg, &f->queue, &err), 0);
    fault_store_set(f->fs, FAULT_FINISH, 0, 0);
    start_service(f); /* recovery puts it back to queued and queues it */
    watch(f, id);
    assert_true(wait_finished(f, id, 30000));
    struct job j = {0};
    load(f, id, &j);
    assert_int_equal(j.status, JOB_STATUS_COMPLETED);
    assert_int_equal(j.attempts, 2);
    assert_step(&j, &j.run, JOB_VERDICT_OK, 0, "recovered\n");
    job_release(&j);
    assert_int_equal(heard_count(&f->heard, id), 1);
}

/* The pause before each attempt after an internal error: base * factor^n,
 * measured from the start of one attempt to the start of the next (the
 * failed run and the requeue take a few ms of it). A linear backoff, an
 * exponent off by one or a missing pause each miss a bound. */
static void test_retry_backoff_before_each_attempt(void **state)
{
    struct fx *f = *state;
    enum { ATTEMPTS = 4, BASE_MS = 200, FACTOR = 3, SLACK_MS = 250 };
    f->cfg.retry_attempts = ATTEMPTS;
    f->cfg.retry_base_ms = BASE_MS;
    f->cfg.retry_factor = FACTOR;
    start_service(f);
    char id[MOAT_UUID_LEN + 1];
    submit(f, "broken", "anything\n", NULL, 0, id);
    assert_true(wait_finished(f, id, 60000));
    uint64_t ns[ATTEMPTS + 1];
    assert_int_equal(fault_store_starts(f->fs, id, ns, ATTEMPTS + 1), ATTEMPTS);
    uint64_t want = BASE_MS;
    for (int i = 1; i < ATTEMPTS; i++, want *= FACTOR) {
        uint64_t gap = (ns[i] - ns[i - 1]) / 1000000;
        print_message("attempt %d started %llu ms after attempt %d (backoff %llu ms)\n", i + 1,
                      (unsigned long long)gap, i, (unsigned long long)want);
        /* the queue's clock is in whole ms: 1 ms early at most */
        if (gap + 1 < want || gap > want + SLACK_MS)
            fail_msg("attempt %d started %llu ms after the one before, not %llu ms (+%d)", i + 1,
                     (unsigned long long)gap, (unsigned long long)want, SLACK_MS);
    }
}

/* ---- fixtures ---- */

static int test_setup(void **state)
{
    struct fx *f = *state;
    struct moat_err err = {0};
    f->heard.n = 0;
    f->cfg = f->cfg0;
    f->fs = fault_store_new(f->store);
    f->metrics = obs_registry_new();
    if (!f->metrics || queue_open(&f->cfg, &f->queue, &err) < 0)
        return -1;
    return 0;
}

static int test_teardown(void **state)
{
    struct fx *f = *state;
    queue_shutdown(f->queue);
    exec_stop(f->svc);
    f->svc = NULL;
    for (size_t i = 0; i < nsubmitted; i++) {
        job_release(submitted[i]);
        free(submitted[i]);
    }
    nsubmitted = 0;
    fault_store_free(f->fs);
    f->fs = NULL;
    exec_cache_free(f->cache);
    f->cache = NULL;
    queue_close(f->queue);
    f->queue = NULL;
    obs_registry_free(f->metrics);
    f->metrics = NULL;
    return 0;
}

static int group_teardown(void **state);

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pid_t pid = getpid();
    config_defaults(&f->cfg);
    (void)snprintf(f->data_dir, sizeof f->data_dir, "/tmp/moat-ut-svc-data-%d", (int)pid);
    moat_strlcpy(f->cfg.data_dir, f->data_dir, sizeof f->cfg.data_dir);
    /* the version probes' cache (a compile cache key holds the version) */
    (void)snprintf(f->cfg.cache_dir, sizeof f->cfg.cache_dir, "%s/cache", f->data_dir);
    f->cfg.workers = 2;
    f->cfg.retry_attempts = 3;
    f->cfg.retry_base_ms = 20;
    f->cfg.retry_factor = 2;
    f->cfg.max_wait_ms = 120000; /* a watch outlives every test's wait */
    f->cfg0 = f->cfg;
    pthread_mutex_init(&f->heard.lock, NULL);
    pthread_cond_init(&f->heard.cond, NULL);
    sbx_test_fx_init(&f->x, "svc", 3960000, 16);
    f->x.cfg.tmp_tmpfs_bytes = 16 * MiB;
    f->x.cfg.netns_pool = 2;
    *state = f;
    if (sbx_test_fx_start(&f->x) < 0) {
        (void)group_teardown(state);
        return -1;
    }
    struct moat_err err = {0};
    int r = sbx_pool_start(f->x.ctx, 2, &f->pool, &err); /* before any thread */
    if (r == 0)
        r = store_open(&f->cfg, &f->store, &err);
    if (r == 0)
        r = lang_registry_parse(langs_ini, sizeof(langs_ini) - 1, &f->langs, &err);
    if (r < 0) {
        print_error("setup: %s (%d)\n", err.msg, r);
        (void)group_teardown(state);
        return -1;
    }
    return 0;
}

/* Also called by cmocka after a failed group_setup, which has torn down
 * already and left NULL. */
static int group_teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    *state = NULL;
    store_close(f->store);
    lang_registry_free(f->langs);
    sbx_pool_stop(f->pool);
    int ret = sbx_test_fx_stop(&f->x);
    sbx_test_rm_rf(f->data_dir);
    pthread_cond_destroy(&f->heard.cond);
    pthread_mutex_destroy(&f->heard.lock);
    free(f);
    return ret;
}

int main(void)
{
    if (!sbx_test_have_root("executor service"))
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jobs, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_early, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_retry_then_failed, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_language_fails_at_once, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_compile_cache, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_finish_retried_until_durable, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_start_retried_after_run, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_retried, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_refused_then_done, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_unstorable_result_retried, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_stop_leaves_job_for_recovery, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_retry_backoff_before_each_attempt, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
