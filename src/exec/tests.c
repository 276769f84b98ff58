/*
 * A job's tests: compiled once, each test run in a box of its own.
 *
 * The program is built in the executor's box (the compile step, or the
 * compile cache's artifacts, which leave the box fresh), and its artifacts
 * are kept in memory (exec_build), so a test never compiles again, whether
 * the compile cache is on or not. Then up to P tests run at once, P the
 * smaller of the tests' count, the executors' count and
 * EXEC_TESTS_PARALLEL_MAX: each runner takes the next test, a box from the
 * pool (waiting for the pool's next), runs it, frees the box. A box is
 * never used for two tests: whatever a test leaves behind, no other sees.
 * The executor's own box serves the build; one the build left fresh (a
 * cache hit, an interpreted language) serves the first test, so that the
 * tests never wait for a box the pool cannot make while this one is held
 * (the pool makes at most its size of boxes, idle executors hold theirs).
 *
 * Verdicts: a test that ran well is accepted when its output matches its
 * expected output (wrong_answer when not), ok when it has none; any other
 * verdict is the sandbox's. With stopOnFirstFailure, tests not started
 * once one failed are skipped (those already running finish). The job's
 * run step is the summary: the verdict of the first failed test in test
 * order, else accepted (ok when no test is judged); the most CPU and wall
 * time and memory of one test.
 *
 * Cancel: each box in use is in the slot's boxes (exec_slot_add), as a
 * single run's is, from before its test starts until before it is freed,
 * so a cancel reaches every running test; a test not started yet sees the
 * cancel and is not started.
 */
#include "exec-internal.h"

#include "moat/sandbox.h"

struct tests_run {
    struct exec *ex;
    struct exec_run *c;
    const struct exec_request *req;
    const struct exec_built *built;
    struct sbx_box *fresh; /* the executor's box, when the build left it fresh */
    pthread_mutex_t mu;
    size_t next;     /* the next test to start */
    bool stop;       /* stopOnFirstFailure: a test failed */
    int error;       /* a runner's failure that is moat's (the first) */
    char msg[200];   /* its message */
};

/* ---- one test ---- */

static bool passed(enum job_verdict v)
{
    return v == JOB_VERDICT_OK || v == JOB_VERDICT_ACCEPTED;
}

/* The test's request: the job's, with the test's stdin, args and limits. */
static struct exec_request test_request(const struct exec_request *base, const struct job_test *t)
{
    struct exec_request r = *base;
    r.stdin_data = t->stdin_data;
    r.stdin_len = t->stdin_len;
    if (t->args) {
        r.args = (const char *const *)t->args;
        r.nargs = t->nargs;
    }
    if (t->time_ms) {
        r.limits.time_ms = t->time_ms;
        r.limits.wall_time_ms = 0; /* derived from the test's own CPU time */
    }
    if (t->memory_mb)
        r.limits.memory_mb = t->memory_mb;
    return r;
}

/* A box for the next test: the fresh one first, then the pool's. NULL
 * when the service stops, the job is cancelled or the pool fails (*err). */
static struct sbx_box *take_box(struct tests_run *tr, struct moat_err *err)
{
    pthread_mutex_lock(&tr->mu);
    struct sbx_box *box = tr->fresh;
    tr->fresh = NULL;
    pthread_mutex_unlock(&tr->mu);
    while (!box && !exec_stopping(tr->ex) && !exec_slot_cancelled(tr->c->slot)) {
        int r = sbx_pool_take(tr->ex->deps.pool, EXEC_POLL_MS, &box, err);
        if (r < 0 && r != -ETIMEDOUT)
            return NULL;
    }
    return box;
}

static void runner_failed(struct tests_run *tr, int r, const char *msg)
{
    pthread_mutex_lock(&tr->mu);
    if (!tr->error) {
        tr->error = r;
        moat_strlcpy(tr->msg, msg, sizeof(tr->msg));
    }
    tr->stop = true;
    pthread_mutex_unlock(&tr->mu);
}

/* Runs tests until none is left to start. */
static void *runner(void *arg)
{
    struct tests_run *tr = arg;
    struct job *j = &tr->c->job;
    for (;;) {
        pthread_mutex_lock(&tr->mu);
        size_t i = tr->next < j->ntests && !tr->stop ? tr->next++ : SIZE_MAX;
        pthread_mutex_unlock(&tr->mu);
        if (i == SIZE_MAX)
            return NULL;
        struct moat_err err = {0};
        struct sbx_box *box = take_box(tr, &err);
        if (!box) {
            if (!exec_slot_cancelled(tr->c->slot))
                runner_failed(tr, exec_stopping(tr->ex) ? -ESHUTDOWN : -EIO,
                              err.msg[0] ? err.msg : "no box for a test");
            return NULL;
        }
        struct job_test *t = &j->tests[i];
        size_t where = 0;
        if (exec_slot_add(tr->c->slot, box, &where)) {
            struct exec_request req = test_request(tr->req, t);
            int r = exec_run_built(box, tr->built, &req, &t->result, &err);
            exec_slot_drop(tr->c->slot, where);
            if (r < 0 && t->result.verdict != JOB_VERDICT_INTERNAL_ERROR)
                runner_failed(tr, r, err.msg);
            if (t->judged)
                job_step_judge(&t->result, t->expected, t->expected_len, &j->compare,
                               JOB_VERDICT_ACCEPTED);
            if (!passed(t->result.verdict) && j->stop_on_failure) {
                pthread_mutex_lock(&tr->mu);
                tr->stop = true;
                pthread_mutex_unlock(&tr->mu);
            }
        }
        sbx_box_free(box); /* used or not: a box serves one test */
    }
}

/* ---- the job ---- */

/* The job's run step from its tests' results. */
static void summarize(struct job *j, struct exec_outcome *o)
{
    struct job_step *sum = &o->run;
    *sum = (struct job_step){.verdict = JOB_VERDICT_OK};
    bool judged = false, failed = false;
    for (size_t i = 0; i < j->ntests; i++) {
        struct job_step *s = &j->tests[i].result;
        judged |= j->tests[i].judged;
        if (s->verdict == JOB_VERDICT_NONE)
            s->verdict = JOB_VERDICT_SKIPPED; /* not started: an earlier one failed */
        if (s->time_ms > sum->time_ms)
            sum->time_ms = s->time_ms;
        if (s->wall_time_ms > sum->wall_time_ms)
            sum->wall_time_ms = s->wall_time_ms;
        if (s->memory_kb > sum->memory_kb)
            sum->memory_kb = s->memory_kb;
        if (!failed && !passed(s->verdict) && s->verdict != JOB_VERDICT_SKIPPED) {
            failed = true;
            sum->verdict = s->verdict;
            sum->exit_code = s->exit_code;
            sum->signal = s->signal;
            moat_strlcpy(sum->message, s->message, sizeof(sum->message));
        }
    }
    if (!failed && judged)
        sum->verdict = JOB_VERDICT_ACCEPTED;
}

static size_t parallelism(const struct exec *ex, size_t ntests)
{
    size_t p = ex->nslots ? ex->nslots : 1;
    if (p > EXEC_TESTS_PARALLEL_MAX)
        p = EXEC_TESTS_PARALLEL_MAX;
    return p < ntests ? p : ntests;
}

void exec_run_tests(struct exec *ex, struct exec_run *c, struct sbx_box **boxp,
                    const struct exec_request *req, struct exec_outcome *o, int *r,
                    struct moat_err *err)
{
    struct sbx_box *box = *boxp;
    struct job *j = &c->job;
    *o = (struct exec_outcome){0};
    *r = 0;
    size_t where = 0;
    if (!exec_slot_add(c->slot, box, &where)) {
        o->run.verdict = JOB_VERDICT_CANCELLED; /* before it started */
        return;
    }
    struct exec_built built = {0};
    *r = exec_build(box, ex->deps.cfg, ex->deps.cache, req, o, &built, err);
    exec_slot_drop(c->slot, where);
    if (*r < 0 || (o->compiled && o->compile.verdict != JOB_VERDICT_OK) ||
        o->run.verdict == JOB_VERDICT_POLICY_VIOLATION) {
        if (built.used_box) {
            sbx_box_free(box);
            *boxp = NULL;
        }
        exec_built_release(&built);
        return; /* o->run says why (compile_error, policy_violation, internal_error) */
    }
    /* from here the executor's box is the tests' (or gone) */
    *boxp = NULL;
    if (built.used_box) {
        sbx_box_free(box);
        box = NULL;
    }
    struct tests_run tr = {.ex = ex, .c = c, .req = req, .built = &built, .fresh = box};
    (void)pthread_mutex_init(&tr.mu, NULL);
    size_t p = parallelism(ex, j->ntests);
    pthread_t threads[EXEC_TESTS_PARALLEL_MAX];
    size_t started = 0;
    for (size_t k = 1; k < p; k++) /* this thread is a runner too */
        if (pthread_create(&threads[started], NULL, runner, &tr) == 0)
            started++;
    (void)runner(&tr);
    for (size_t k = 0; k < started; k++)
        (void)pthread_join(threads[k], NULL);
    sbx_box_free(tr.fresh); /* no test took it (each was cancelled or skipped) */
    (void)pthread_mutex_destroy(&tr.mu);
    exec_built_release(&built);
    summarize(j, o);
    if (exec_slot_cancelled(c->slot)) {
        o->run.verdict = JOB_VERDICT_CANCELLED;
    } else if (tr.error) {
        o->run.verdict = JOB_VERDICT_INTERNAL_ERROR;
        moat_strlcpy(o->run.message, tr.msg, sizeof(o->run.message));
        *r = tr.error == -ESHUTDOWN ? -ESHUTDOWN : 0;
    }
}
