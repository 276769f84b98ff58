/*
 * Final jobs announced. A watch is someone waiting for one job to become
 * final (a wait=true request, a NATS request); it ends exactly once:
 * EXEC_FINAL when the job is final (announced by this node's executors or
 * cancels, or by another node through the queue's events), EXEC_WAIT_OVER
 * at its deadline (server.max_wait_ms), EXEC_STOPPING when the node stops
 * or its owner is released, EXEC_REFUSED when it was a submission that
 * failed.
 *
 * Every watch is in a hash table by job id and in one list by deadline:
 * all watches wait the same max_wait_ms, so the list in the order the
 * deadlines started is the order they pass, and the deadline thread only
 * looks at its head. One lock guards both; a watch's notice is sent
 * outside it (rendering a large output takes a while), once the watch is
 * unlinked: whoever unlinks a watch owns its end.
 *
 * A waiting submission is watched before its job is written, so its final
 * event cannot come before the watch exists; its deadline starts only once
 * the job is written (a watch that ended before would answer about a job
 * that is not stored yet, or never will be).
 */
#include "exec-internal.h"

#include <jansson.h>
#include <time.h>

#define BUCKETS 1024u

struct exec_watch {
    struct exec_watch *hnext;         /* bucket chain */
    uint64_t serial;                  /* names it to whoever made it: once it
                                         ended its memory may be gone */
    struct exec_watch *dprev, *dnext; /* deadline list (armed watches only) */
    char id[MOAT_UUID_LEN + 1];
    const void *owner;
    exec_notice_fn fn;
    void *cls;
    uint64_t deadline_ns;
    bool armed;    /* in the deadline list: its job is written */
    bool released; /* its owner was released while it was being written */
};

struct exec_watches {
    uint64_t next_serial;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct exec_watch *buckets[BUCKETS];
    struct exec_watch *dhead, *dtail;
    bool stopping;
    pthread_t thread;
    bool started;
};

static size_t bucket_of(const char *id)
{
    uint32_t h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % BUCKETS;
}

/* ---- the table (under mu) ---- */

static void link_watch(struct exec_watches *t, struct exec_watch *w)
{
    size_t b = bucket_of(w->id);
    w->hnext = t->buckets[b];
    t->buckets[b] = w;
}

static void arm(struct exec_watches *t, struct exec_watch *w, uint64_t deadline_ns)
{
    w->deadline_ns = deadline_ns;
    w->armed = true;
    w->dnext = NULL;
    w->dprev = t->dtail;
    if (t->dtail)
        t->dtail->dnext = w;
    else
        t->dhead = w;
    t->dtail = w;
    if (t->dhead == w)
        pthread_cond_signal(&t->cond);
}

/* Takes w out of both structures: the caller owns its end. */
static void unlink_watch(struct exec_watches *t, struct exec_watch *w)
{
    for (struct exec_watch **pp = &t->buckets[bucket_of(w->id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == w) {
            *pp = w->hnext;
            break;
        }
    }
    if (w->armed) {
        if (w->dprev)
            w->dprev->dnext = w->dnext;
        else
            t->dhead = w->dnext;
        if (w->dnext)
            w->dnext->dprev = w->dprev;
        else
            t->dtail = w->dprev;
    }
    w->hnext = w->dprev = w->dnext = NULL;
    w->armed = false;
}

/* The watch of job id made with serial, while it is in the table. */
static struct exec_watch *find(struct exec_watches *t, const char *id, uint64_t serial)
{
    for (struct exec_watch *x = t->buckets[bucket_of(id)]; x; x = x->hnext)
        if (x->serial == serial)
            return x;
    return NULL;
}

/* Sends w's one notice and frees it (w is unlinked). */
static void end_watch(struct exec_watch *w, enum exec_notice_kind kind, int error,
                      const struct job *final)
{
    struct exec_notice n = {.kind = kind, .error = error, .id = w->id, .final = final};
    w->fn(w->cls, &n);
    free(w);
}

/* ---- the deadline thread ---- */

static void *deadline_main(void *arg)
{
    struct exec *ex = arg;
    struct exec_watches *t = ex->watches;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        uint64_t now = moat_now_ns();
        struct exec_watch *w = t->dhead;
        if (w && w->deadline_ns <= now) {
            unlink_watch(t, w);
            pthread_mutex_unlock(&t->mu);
            end_watch(w, EXEC_WAIT_OVER, 0, NULL);
            pthread_mutex_lock(&t->mu);
            continue;
        }
        uint64_t next = w ? w->deadline_ns : now + 1000000000ull;
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull),
                              .tv_nsec = (long)(next % 1000000000ull)};
        (void)pthread_cond_timedwait(&t->cond, &t->mu, &ts);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int exec_watches_start(struct exec *ex)
{
    struct exec_watches *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    pthread_mutex_init(&t->mu, NULL);
    /* deadlines are moat_now_ns (CLOCK_MONOTONIC) */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    ex->watches = t;
    int r = -pthread_create(&t->thread, NULL, deadline_main, ex);
    if (r < 0)
        return r;
    t->started = true;
    return 0;
}

/* Ends every armed watch of owner (NULL: all) with EXEC_STOPPING; one still
 * being written is marked, and ends so once it is. */
static void release_where(struct exec *ex, const void *owner, bool all)
{
    struct exec_watches *t = ex->watches;
    struct exec_watch *mine = NULL;
    pthread_mutex_lock(&t->mu);
    for (size_t b = 0; b < BUCKETS; b++) {
        struct exec_watch *w = t->buckets[b];
        while (w) {
            struct exec_watch *next = w->hnext;
            if (all || w->owner == owner) {
                if (w->armed) {
                    unlink_watch(t, w);
                    w->hnext = mine;
                    mine = w;
                } else {
                    w->released = true;
                }
            }
            w = next;
        }
    }
    pthread_mutex_unlock(&t->mu);
    while (mine) {
        struct exec_watch *w = mine;
        mine = w->hnext;
        end_watch(w, EXEC_STOPPING, 0, NULL);
    }
}

void exec_release(struct exec *ex, const void *owner)
{
    release_where(ex, owner, false);
}

void exec_watches_stop(struct exec *ex)
{
    struct exec_watches *t = ex->watches;
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        t->stopping = true;
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    /* No submission is in flight any more (the store and the queue have
     * finished theirs, or the caller stopped them first): every watch left
     * is armed. */
    release_where(ex, NULL, true);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
    free(t);
    ex->watches = NULL;
}

/* ---- watching ---- */

uint64_t exec_watch_new(struct exec *ex, const char *id, const void *owner, exec_notice_fn fn,
                        void *cls)
{
    struct exec_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return 0;
    moat_strlcpy(w->id, id, sizeof(w->id));
    w->owner = owner;
    w->fn = fn;
    w->cls = cls;
    struct exec_watches *t = ex->watches;
    pthread_mutex_lock(&t->mu);
    w->serial = ++t->next_serial;
    link_watch(t, w);
    uint64_t serial = w->serial;
    pthread_mutex_unlock(&t->mu);
    return serial;
}

void exec_watch_submitted(struct exec *ex, const char *id, uint64_t serial, int result)
{
    struct exec_watches *t = ex->watches;
    uint64_t deadline = moat_now_ns() + ex->deps.cfg->max_wait_ms * 1000000ull;
    pthread_mutex_lock(&t->mu);
    /* Not in the table: the job became final meanwhile (its notice is
     * sent, or being sent, by whoever unlinked it). */
    struct exec_watch *w = find(t, id, serial);
    if (!w) {
        pthread_mutex_unlock(&t->mu);
        return;
    }
    if (result == 0 && !w->released) {
        arm(t, w, deadline);
        pthread_mutex_unlock(&t->mu);
        return;
    }
    unlink_watch(t, w);
    pthread_mutex_unlock(&t->mu);
    if (result > 0)
        free(w); /* the submission never started: no notice */
    else if (result < 0)
        end_watch(w, EXEC_REFUSED, result, NULL);
    else
        end_watch(w, EXEC_STOPPING, 0, NULL);
}

/* Ends the watches of id with EXEC_FINAL. Watches still being written are
 * ended too: a job cannot be final before it is written. */
static void finals(struct exec *ex, const char *id, const struct job *final)
{
    struct exec_watches *t = ex->watches;
    struct exec_watch *mine = NULL;
    pthread_mutex_lock(&t->mu);
    struct exec_watch *w = t->buckets[bucket_of(id)];
    while (w) {
        struct exec_watch *next = w->hnext;
        if (strcmp(w->id, id) == 0) {
            unlink_watch(t, w);
            w->hnext = mine;
            mine = w;
        }
        w = next;
    }
    pthread_mutex_unlock(&t->mu);
    while (mine) {
        w = mine;
        mine = w->hnext;
        end_watch(w, EXEC_FINAL, 0, final);
    }
}

int exec_watch(struct exec *ex, const char *id, const void *owner, exec_notice_fn fn, void *cls)
{
    struct job j = {0};
    struct moat_err err = {0};
    /* known first: a watch of no job would wait for nothing */
    int r = exec_get(ex, id, 0, &j, &err);
    if (r < 0)
        return r;
    bool final = job_status_final(j.status);
    char nid[MOAT_UUID_LEN + 1];
    moat_strlcpy(nid, j.id, sizeof(nid));
    job_release(&j);
    if (final)
        return 1;
    uint64_t serial = exec_watch_new(ex, nid, owner, fn, cls);
    if (!serial)
        return -ENOMEM;
    exec_watch_submitted(ex, nid, serial, 0);
    /* Read again now that it is watched: a job final in between announced
     * itself before the watch existed. Whoever unlinks the watch ends it. */
    r = exec_get(ex, nid, 0, &j, &err);
    final = r == 0 && job_status_final(j.status);
    job_release(&j);
    if (!final)
        return 0;
    struct exec_watches *t = ex->watches;
    pthread_mutex_lock(&t->mu);
    struct exec_watch *w = find(t, nid, serial);
    if (w)
        unlink_watch(t, w);
    pthread_mutex_unlock(&t->mu);
    if (!w)
        return 0; /* its notice is on its way */
    free(w);
    return 1;
}

/* ---- announcing ---- */

/* The event other nodes hear: a summary, and the final job itself when it
 * is small (cluster.inline_job_kb), so that a node whose client waits for
 * it answers without reading it back from the store (that read was a third
 * of what the cluster added to a sync job). final NULL: a cancel. */
static char *event_json(const struct exec *ex, const char *id, const struct job *final)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s?, s:s}", "jobId", id, "status",
                  final ? job_status_name(final->status) : "cancelled", "verdict",
                  final ? job_verdict_name(final->run.verdict) : "cancelled", "node", ex->node);
    if (o && final) {
        (void)json_object_set_new(o, "exitCode", json_integer(final->run.exit_code));
        (void)json_object_set_new(o, "attempts", json_integer(final->attempts));
        json_t *job = job_wire_json(final, true, ex->deps.cfg->inline_job_kb * 1024);
        if (job)
            (void)json_object_set_new(o, "job", job);
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

void exec_announce_final(struct exec *ex, const char *id, const struct job *final)
{
    finals(ex, id, final);
    if (queue_in_process(ex->deps.queue))
        return; /* no other node */
    char *data = event_json(ex, id, final);
    int r = queue_announce(ex->deps.queue, QUEUE_EVENT_FINAL, id, data, data ? strlen(data) : 0);
    if (r < 0)
        log_warn("event=announce_failed id=%s error=\"%s\"", id, strerror(-r));
    free(data);
}

void exec_resync_watches(struct exec *ex)
{
    struct exec_watches *t = ex->watches;
    char(*ids)[MOAT_UUID_LEN + 1] = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t b = 0; b < BUCKETS; b++) {
        for (struct exec_watch *w = t->buckets[b]; w; w = w->hnext) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                void *p = realloc(ids, ncap * sizeof(*ids));
                if (!p)
                    break;
                ids = p;
                cap = ncap;
            }
            moat_strlcpy(ids[n++], w->id, sizeof(ids[0]));
        }
    }
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < n; i++) {
        struct job j = {0};
        struct moat_err err = {0};
        if (exec_get(ex, ids[i], 0, &j, &err) == 0 && job_status_final(j.status))
            finals(ex, ids[i], NULL);
        job_release(&j);
    }
    free(ids);
}

/* The final job an event carries, when it does and it is the job named
 * (the store's copy is read otherwise): 0 with *j filled. */
static int event_job(const char *id, const char *data, size_t len, struct job *j)
{
    if (!data || !len)
        return -ENOENT;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *job = json_object_get(o, "job");
    int r = job ? job_wire_from_json(job, j) : -ENOENT;
    json_decref(o);
    if (r == 0 && (strcmp(j->id, id) != 0 || !job_status_final(j->status))) {
        job_release(j);
        r = -EINVAL;
    }
    return r;
}

void exec_on_queue_event(void *cls, enum queue_event ev, const char *id, const char *data,
                         size_t len)
{
    struct exec *ex = cls;
    switch (ev) {
    case QUEUE_EVENT_FINAL: {
        /* final elsewhere: cancelled, or recorded by a later attempt; a run
         * of it here is pointless (its result would be refused) */
        (void)exec_kill_local(ex, id);
        struct job j = {0};
        bool have = event_job(id, data, len, &j) == 0;
        finals(ex, id, have ? &j : NULL);
        job_release(&j);
        return;
    }
    case QUEUE_EVENT_RESYNC:
        /* reads of the store: not on the driver's thread (the keeper) */
        atomic_store(&ex->resync_wanted, true);
        return;
    }
}
