/*
 * A store driver for tests of the store's users (the executor service):
 * it wraps a real store and passes every call through, except that a test
 * can make the writes of a job's path (start, finish, requeue, cancel)
 * fail as a full or failing disk makes them fail, without writing
 * anything, a given number of times or until it says stop. It records the
 * time each start of a job began (one per attempt: the executor starts a
 * job each time it runs it) and signals every write, so that a test waits
 * for the event it needs instead of sleeping.
 *
 * store_start_begin commits the start before it returns (the real store
 * overlaps it with the run; the service must not care), so that the
 * start is a write the test can wait for; its wait answers what the start
 * did. A failed start writes nothing, as a commit that failed leaves the
 * job queued. Include after <cmocka.h>.
 */
#ifndef MOAT_FAULT_STORE_H
#define MOAT_FAULT_STORE_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../../src/store/store-internal.h"
#include "moat/util.h"
#include "../moat_test.h"

enum fault_op { FAULT_START, FAULT_FINISH, FAULT_REQUEUE, FAULT_CANCEL, FAULT_OP_MAX_ };

#define FAULT_MAX_STARTS 64

struct fault_store {
    struct store base; /* first: a struct store * is a struct fault_store * */
    struct store_ops ops;
    struct store *real;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int err[FAULT_OP_MAX_];        /* what a failed call returns; 0 = none fails */
    int left[FAULT_OP_MAX_];       /* failures still to make; -1 = until cleared */
    unsigned calls[FAULT_OP_MAX_]; /* every call, failed or not */
    unsigned failed[FAULT_OP_MAX_];
    unsigned long done; /* writes returned (failed or not): what status waits watch */
    unsigned gets;      /* store_get calls: each time a job is loaded */
    struct {
        char id[MOAT_UUID_LEN + 1];
        uint64_t ns; /* moat_now_ns() when the start began */
    } starts[FAULT_MAX_STARTS];
    size_t nstarts;
};

struct fault_ticket {
    struct store_ticket base; /* first */
    int result;               /* of the start, made by start_begin */
    uint32_t attempts;
    uint64_t settled_ns;
    struct moat_err err;
};

/* Counts a call of op; the error to return when it is to fail, else 0. */
static inline int fault_enter(struct fault_store *fs, enum fault_op op, const char *id)
{
    pthread_mutex_lock(&fs->mu);
    fs->calls[op]++;
    int e = 0;
    if (fs->err[op] && fs->left[op] != 0) {
        e = fs->err[op];
        fs->failed[op]++;
        if (fs->left[op] > 0)
            fs->left[op]--;
    }
    if (op == FAULT_START && fs->nstarts < FAULT_MAX_STARTS) {
        moat_strlcpy(fs->starts[fs->nstarts].id, id, sizeof(fs->starts[0].id));
        fs->starts[fs->nstarts++].ns = moat_now_ns();
    }
    pthread_cond_broadcast(&fs->cond);
    pthread_mutex_unlock(&fs->mu);
    return e;
}

/* A write returned: its effect, if any, is in the store now. Returns r. */
static inline int fault_leave(struct fault_store *fs, int r)
{
    pthread_mutex_lock(&fs->mu);
    fs->done++;
    pthread_cond_broadcast(&fs->cond);
    pthread_mutex_unlock(&fs->mu);
    return r;
}

static inline struct fault_store *fault_of(struct store *st)
{
    return (struct fault_store *)st;
}

static int fault_start(struct store *st, const char *id, int64_t now_ms, bool takeover,
                       uint32_t *attempts, struct moat_err *err)
{
    struct fault_store *fs = fault_of(st);
    int e = fault_enter(fs, FAULT_START, id);
    if (e)
        return fault_leave(fs, moat_err_set(err, e, "injected: %s", strerror(-e)));
    return fault_leave(fs, store_start(fs->real, id, now_ms, takeover, attempts, err));
}

static int fault_start_wait(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                            struct moat_err *err)
{
    struct fault_ticket *t = (struct fault_ticket *)ticket;
    int r = t->result;
    if (r == 0 && attempts)
        *attempts = t->attempts;
    if (settled_ns)
        *settled_ns = t->settled_ns;
    if (r < 0 && err)
        *err = t->err;
    free(t);
    return r;
}

static int fault_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                             uint64_t row_wait_ms, struct store_ticket **ticket)
{
    (void)row_wait_ms; /* one process: every insert is seen in flight */
    struct fault_store *fs = fault_of(st);
    struct fault_ticket *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->base.ops = &fs->ops;
    t->result = fault_start(st, id, now_ms, takeover, &t->attempts, &t->err);
    t->settled_ns = moat_now_ns(); /* the start is made synchronously, here */
    *ticket = &t->base;
    return 0;
}

static int fault_finish(struct store *st, const struct job *job, struct moat_err *err)
{
    struct fault_store *fs = fault_of(st);
    int e = fault_enter(fs, FAULT_FINISH, job->id);
    return fault_leave(fs, e ? moat_err_set(err, e, "injected: %s", strerror(-e))
                             : store_finish(fs->real, job, err));
}

static int fault_requeue(struct store *st, const char *id, uint32_t attempts, struct moat_err *err)
{
    struct fault_store *fs = fault_of(st);
    int e = fault_enter(fs, FAULT_REQUEUE, id);
    return fault_leave(fs, e ? moat_err_set(err, e, "injected: %s", strerror(-e))
                             : store_requeue(fs->real, id, attempts, err));
}

static int fault_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
                        struct moat_err *err)
{
    struct fault_store *fs = fault_of(st);
    int e = fault_enter(fs, FAULT_CANCEL, id);
    return fault_leave(fs, e ? moat_err_set(err, e, "injected: %s", strerror(-e))
                             : store_cancel(fs->real, id, now_ms, was, err));
}

/* Passed through. */
static void fault_close(struct store *st)
{
    (void)st; /* the real store is the test's to close */
}

static int fault_insert_async(struct store *st, const struct job *job, store_done_fn done,
                              void *cls)
{
    return store_insert_async(fault_of(st)->real, job, done, cls);
}

static int fault_get(struct store *st, const char *id, unsigned what, struct job *out,
                     struct moat_err *err)
{
    struct fault_store *fs = fault_of(st);
    pthread_mutex_lock(&fs->mu);
    fs->gets++;
    pthread_mutex_unlock(&fs->mu);
    return store_get(fs->real, id, what, out, err);
}

static int fault_get_output(struct store *st, const char *id, char **data, size_t *len,
                            struct moat_err *err)
{
    return store_get_output(fault_of(st)->real, id, data, len, err);
}

static int fault_list_pending(struct store *st, struct store_pending **out, size_t *n,
                              struct moat_err *err)
{
    return store_list_pending(fault_of(st)->real, out, n, err);
}

static bool fault_ready(struct store *st)
{
    return store_ready(fault_of(st)->real);
}

static void fault_stats(struct store *st, struct store_stats *out)
{
    store_stats(fault_of(st)->real, out);
}

/* A fault store over real (borrowed). Caller frees with fault_store_free.
 * Inserts pass to real, whose table of inserts in flight answers reads. */
static inline struct fault_store *fault_store_new(struct store *real)
{
    struct fault_store *fs = calloc(1, sizeof(*fs));
    assert_non_null(fs);
    fs->ops = (struct store_ops){
        .name = "fault",
        .close = fault_close,
        .insert_async = fault_insert_async,
        .get = fault_get,
        .get_output = fault_get_output,
        .start_begin = fault_start_begin,
        .start_wait = fault_start_wait,
        .finish = fault_finish,
        .requeue = fault_requeue,
        .cancel = fault_cancel,
        .list_pending = fault_list_pending,
        .ready = fault_ready,
        .stats = fault_stats,
    };
    fs->base.ops = &fs->ops;
    fs->real = real;
    pthread_mutex_init(&fs->mu, NULL);
    pthread_cond_init(&fs->cond, NULL);
    return fs;
}

static inline void fault_store_free(struct fault_store *fs)
{
    if (!fs)
        return;
    pthread_cond_destroy(&fs->cond);
    pthread_mutex_destroy(&fs->mu);
    free(fs);
}

/* The next `times` calls of op fail with e (-1: every call, until
 * fault_store_set(fs, op, 0, 0)). */
static inline void fault_store_set(struct fault_store *fs, enum fault_op op, int e, int times)
{
    pthread_mutex_lock(&fs->mu);
    fs->err[op] = e;
    fs->left[op] = times;
    pthread_mutex_unlock(&fs->mu);
}

static inline unsigned fault_store_calls(struct fault_store *fs, enum fault_op op)
{
    pthread_mutex_lock(&fs->mu);
    unsigned n = fs->calls[op];
    pthread_mutex_unlock(&fs->mu);
    return n;
}

static inline unsigned fault_store_gets(struct fault_store *fs)
{
    pthread_mutex_lock(&fs->mu);
    unsigned n = fs->gets;
    pthread_mutex_unlock(&fs->mu);
    return n;
}

static inline unsigned fault_store_failed(struct fault_store *fs, enum fault_op op)
{
    pthread_mutex_lock(&fs->mu);
    unsigned n = fs->failed[op];
    pthread_mutex_unlock(&fs->mu);
    return n;
}

/* Waits until op has been called n times: false after timeout_ms. */
static inline bool fault_store_wait_calls(struct fault_store *fs, enum fault_op op, unsigned n,
                                          int timeout_ms)
{
    struct timespec until = moat_test_abstime_ms(timeout_ms);
    pthread_mutex_lock(&fs->mu);
    while (fs->calls[op] < n && pthread_cond_timedwait(&fs->cond, &fs->mu, &until) == 0)
        ;
    bool ok = fs->calls[op] >= n;
    pthread_mutex_unlock(&fs->mu);
    return ok;
}

/* Waits until job id has status want in the real store, looking again
 * each time a write through fs returns: false after timeout_ms. (A write
 * by someone else, such as the test itself, is seen at the next one.) */
static inline bool fault_store_wait_status(struct fault_store *fs, const char *id,
                                           enum job_status want, int timeout_ms)
{
    struct timespec until = moat_test_abstime_ms(timeout_ms);
    for (;;) {
        pthread_mutex_lock(&fs->mu);
        unsigned long seen = fs->done;
        pthread_mutex_unlock(&fs->mu);
        struct job j = {0};
        int r = store_get(fs->real, id, 0, &j, NULL);
        enum job_status s = j.status;
        job_release(&j);
        if (r == 0 && s == want)
            return true;
        pthread_mutex_lock(&fs->mu);
        int w = 0;
        while (fs->done == seen && w == 0)
            w = pthread_cond_timedwait(&fs->cond, &fs->mu, &until);
        pthread_mutex_unlock(&fs->mu);
        if (w != 0)
            return false;
    }
}

/* The times the starts of job id began, in order: how many (at most max). */
static inline size_t fault_store_starts(struct fault_store *fs, const char *id, uint64_t *ns,
                                        size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&fs->mu);
    for (size_t i = 0; i < fs->nstarts && n < max; i++)
        if (strcmp(fs->starts[i].id, id) == 0)
            ns[n++] = fs->starts[i].ns;
    pthread_mutex_unlock(&fs->mu);
    return n;
}

#endif
