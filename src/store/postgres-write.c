/*
 * The writer of the PostgreSQL driver: one thread, one connection, group
 * commit. Callers queue requests; the writer takes everything queued (up to
 * PG_BATCH_MAX) and sends it as one pipeline (libpq pipeline mode): BEGIN,
 * the statements of every request, the batch's token in write_log, COMMIT,
 * one Sync. One round trip and one WAL flush for the whole batch; each
 * result is reported only after the COMMIT answered.
 *
 * Many nodes write the same rows, so no write relies on having read
 * first. A request that changes nothing is not an error: an insert is
 * INSERT ... ON CONFLICT DO NOTHING (no row back: -EEXIST), a state change
 * is an UPDATE ... WHERE <the state it needs> RETURNING (no row back:
 * refused). Each state change first locks its row (SELECT ... FOR UPDATE,
 * which returns the latest committed version, the status that decides
 * between -ENOENT, -EALREADY and -ESTALE); the UPDATE that follows, a new
 * statement under READ COMMITTED, sees that same version, and nothing can
 * change it before the COMMIT. Requests are sent in the order of their job
 * ids (a stable sort: the writes of one job keep their order), so two
 * nodes lock rows in the same order and their batches never deadlock.
 *
 * A statement that fails (a value the database refuses) aborts the
 * pipeline; the batch is then sent again one request per transaction, so
 * that the bad one fails alone.
 *
 * The database away: a write waits for it at most to.write_wait_ms after
 * it was queued, and then fails with -ENOTCONN; the writer reconnects with
 * a doubling backoff, and while the store is not writable and idle it
 * probes it every to.probe_ms, so that store_ready comes back by itself.
 *
 * An outcome lost: when the connection breaks (or the database stops
 * answering) after a batch was sent, its COMMIT may have been carried out.
 * Every batch writes its token to write_log (one row per writer, keyed by
 * a random number drawn at open) in the same transaction, and every row it
 * changes gets the token in write_token. Once connected again, the writer
 * reads its row of write_log: the batch's token there means it committed,
 * and each request's result is the one its statements answered, or for
 * those whose answer was lost, what its row says (the token on the row:
 * this batch's write is its latest; else it changed nothing, or a later
 * write of another node followed it, and the result is what that row is
 * now: an insert whose row holds this job's code hash and creation time
 * succeeded). Another token means the batch did not commit: it is sent
 * again. A batch whose outcome cannot be learnt within
 * to.resolve_wait_ms fails with -ENOTCONN, saying that it may have
 * committed: the one bound that keeps callers from waiting for ever.
 */
#include <limits.h>
#include <signal.h>
#include <time.h>

#include "postgres-internal.h"
#include "moat/util.h"
/* ---- one batch ---- */

enum batch_end {
    BATCH_COMMITTED,
    BATCH_ABORTED, /* the database refused a statement; nothing was committed */
    BATCH_LOST,    /* the connection broke: the outcome is unknown */
};

/* What each answer of a batch's pipeline is, in order. */
enum slot_kind { SLOT_BEGIN, SLOT_INSERTS, SLOT_REQUEST, SLOT_LOG, SLOT_COMMIT };

struct slot {
    enum slot_kind kind;
    struct pg_wreq *r; /* SLOT_REQUEST */
};

struct batch {
    struct pg_wreq **b; /* in id order */
    size_t n;
    uint64_t token;
    /* the inserts, sent as one statement: each id once */
    struct pg_wreq *ins[PG_BATCH_MAX];
    size_t nins;
    struct slot slots[2 * PG_BATCH_MAX + 4];
    size_t nslots;
    int err;          /* the failure of an aborted or lost batch */
    char msg[200];    /* its message */
    bool item_failed; /* aborted by a statement of a request, not of the batch */
};

static uint64_t next_token(struct pg_store *s)
{
    return s->token_base + ++s->token_next;
}

static void add_slot(struct batch *bt, enum slot_kind kind, struct pg_wreq *r)
{
    bt->slots[bt->nslots++] = (struct slot){.kind = kind, .r = r};
}

/* Queues the batch: 0, or -errno (-ENOTCONN: libpq refused). */
static int send_batch(struct pg_store *s, struct batch *bt)
{
    PGconn *c = s->wconn;
    bt->nins = bt->nslots = 0;
    for (size_t i = 0; i < bt->n; i++) {
        struct pg_wreq *r = bt->b[i];
        r->nres = 0;
        r->found = r->changed = false;
        if (r->kind != PG_W_INSERT)
            continue;
        /* the same id twice in a batch: the later insert finds the row of
         * the earlier one (ids are in order: they are neighbours) */
        if (bt->nins && strcmp(bt->ins[bt->nins - 1]->id, r->id) == 0)
            r->nres = 1;
        else
            bt->ins[bt->nins++] = r;
    }
    if (!PQenterPipelineMode(c) || !PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 1))
        return -ENOTCONN;
    add_slot(bt, SLOT_BEGIN, NULL);
    /* inserts first: an insert is the first write of its job */
    if (bt->nins) {
        int e = pg_send_inserts(c, bt->ins, bt->nins, bt->token);
        if (e < 0)
            return e;
        add_slot(bt, SLOT_INSERTS, NULL);
    }
    for (size_t i = 0; i < bt->n; i++) {
        struct pg_wreq *r = bt->b[i];
        if (r->kind == PG_W_INSERT)
            continue;
        if (!pg_send_request(c, r, bt->token))
            return -ENOTCONN;
        for (int k = 0; k < pg_nstatements(r); k++)
            add_slot(bt, SLOT_REQUEST, r);
    }
    if (!pg_send_log(c, s->token_base, bt->token))
        return -ENOTCONN;
    add_slot(bt, SLOT_LOG, NULL);
    if (!PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 1) || !PQpipelineSync(c))
        return -ENOTCONN;
    add_slot(bt, SLOT_COMMIT, NULL);
    return 0;
}

/* Reads the answers of a sent batch up to its Sync. */
static enum batch_end read_batch(struct pg_store *s, struct batch *bt, uint64_t deadline)
{
    PGconn *c = s->wconn;
    size_t k = 0;
    bool committed = false, aborted = false;
    for (;;) {
        int e = pg_await(c, deadline);
        if (e < 0) {
            bt->err = -ENOTCONN;
            moat_strlcpy(bt->msg,
                         e == -ETIMEDOUT ? "the database did not answer in time"
                                         : "the connection to the database was lost",
                         sizeof(bt->msg));
            return BATCH_LOST;
        }
        PGresult *res = PQgetResult(c);
        if (!res)
            continue; /* the end of one statement's answer */
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        const struct slot *sl = k < bt->nslots ? &bt->slots[k++] : NULL;
        if (sl && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
            if (sl->kind == SLOT_INSERTS)
                pg_take_inserts(bt->ins, bt->nins, res);
            else if (sl->kind == SLOT_REQUEST)
                pg_take_answer(sl->r, res);
            else if (sl->kind == SLOT_COMMIT)
                committed = strcmp(PQcmdStatus(res), "COMMIT") == 0;
        } else if (st != PGRES_PIPELINE_ABORTED && !aborted) {
            aborted = true;
            bt->err = pg_errno(res);
            pg_message(s, res, c, bt->msg, sizeof(bt->msg));
            bt->item_failed = sl && (sl->kind == SLOT_INSERTS || sl->kind == SLOT_REQUEST);
            if (bt->err == -ENOTCONN) {
                PQclear(res);
                return BATCH_LOST;
            }
        }
        PQclear(res);
    }
    (void)PQexitPipelineMode(c);
    if (committed && !aborted)
        return BATCH_COMMITTED;
    if (!aborted) {
        bt->err = -EIO;
        moat_strlcpy(bt->msg, "the database did not commit", sizeof(bt->msg));
    }
    /* an explicit transaction that failed stays open, aborted */
    if (PQtransactionStatus(c) != PQTRANS_IDLE) {
        PGresult *r = NULL;
        char msg[200];
        if (pg_query(s, c, "ROLLBACK", false, 0, NULL, NULL, 0, false, pg_deadline(s->to.io_ms), &r,
                     msg, sizeof(msg)) < 0)
            return BATCH_LOST; /* nothing committed, but the connection is unusable */
        PQclear(r);
    }
    return BATCH_ABORTED;
}

static enum batch_end run_pipeline(struct pg_store *s, struct batch *bt)
{
    bt->err = 0;
    bt->msg[0] = '\0';
    bt->item_failed = false;
    uint64_t deadline = pg_deadline(s->to.io_ms);
    int e = send_batch(s, bt);
    if (e == -ENOTCONN) {
        /* what was flushed may have run, COMMIT included (the server runs
         * each statement as it comes, Sync or not) */
        pg_message(s, NULL, s->wconn, bt->msg, sizeof(bt->msg));
        bt->err = -ENOTCONN;
        return BATCH_LOST;
    }
    if (e < 0) {
        /* the inserts could not be encoded (out of memory, too big), and
         * no COMMIT was sent: closing the connection rolls back what was */
        PQfinish(s->wconn);
        s->wconn = NULL;
        bt->err = e;
        moat_strlcpy(bt->msg, strerror(-e), sizeof(bt->msg));
        bt->item_failed = true;
        return BATCH_ABORTED;
    }
    if (pg_flush(s->wconn, deadline) < 0) {
        bt->err = -ENOTCONN;
        moat_strlcpy(bt->msg, "the database did not take the writes in time", sizeof(bt->msg));
        return BATCH_LOST;
    }
    return read_batch(s, bt, deadline);
}

/* ---- health and the connection ---- */

static void write_failed(struct pg_store *s, int e)
{
    if (!pg_store_fault(e))
        return;
    __atomic_store_n(&s->write_err, e, __ATOMIC_RELEASE);
    s->next_probe_ns = pg_deadline(s->to.probe_ms);
}

bool pg_writable(struct pg_store *s)
{
    return __atomic_load_n(&s->write_err, __ATOMIC_ACQUIRE) == 0;
}

static void committed(struct pg_store *s)
{
    __atomic_add_fetch(&s->n_commits, 1, __ATOMIC_RELAXED);
    if (!pg_writable(s))
        __atomic_store_n(&s->write_err, 0, __ATOMIC_RELEASE);
}

static void drop_conn(struct pg_store *s)
{
    PQfinish(s->wconn);
    s->wconn = NULL;
}

/* After a failed connection attempt: none before a doubling backoff. */
static void conn_failed(struct pg_store *s)
{
    drop_conn(s);
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : s->to.backoff_min_ms;
    if (s->backoff_ms > s->to.backoff_max_ms)
        s->backoff_ms = s->to.backoff_max_ms;
    s->next_connect_ns = pg_deadline(s->backoff_ms);
    write_failed(s, -ENOTCONN);
}

/* A usable connection: the one there is, or a new one when the backoff
 * allows. 0 or -ENOTCONN (s->werror says why). */
static int writer_conn(struct pg_store *s)
{
    if (s->wconn && pg_alive(s->wconn))
        return 0;
    if (s->wconn)
        drop_conn(s);
    if (moat_now_ns() < s->next_connect_ns)
        return -ENOTCONN;
    PGconn *c = NULL;
    int e = pg_connect(s, true, &c, s->werror, sizeof(s->werror));
    if (e == 0) {
        e = pg_writer_prepare(s, c, s->werror, sizeof(s->werror));
        if (e < 0)
            PQfinish(c);
    }
    if (e < 0) {
        conn_failed(s);
        return -ENOTCONN;
    }
    s->wconn = c;
    s->backoff_ms = 0;
    return 0;
}

/* ---- reporting ---- */

/* The first pause of a start waiting for its row, and the longest: an
 * insert commits within a few ms, unless the database is slow. */
#define ROW_WAIT_FIRST_NS 500000u
#define ROW_WAIT_MAX_NS 20000000u

/* A start that found no row while its insert may still be committing
 * elsewhere: kept for another try instead of answered (writer only). */
static bool wait_for_row(struct pg_store *s, struct pg_wreq *r, int result)
{
    if (r->kind != PG_W_START || result != -ENOENT || !r->row_until_ns)
        return false;
    uint64_t now = moat_now_ns();
    if (now >= r->row_until_ns)
        return false;
    uint64_t pause = r->row_backoff_ns ? r->row_backoff_ns * 2 : ROW_WAIT_FIRST_NS;
    r->row_backoff_ns = pause < ROW_WAIT_MAX_NS ? pause : ROW_WAIT_MAX_NS;
    r->row_due_ns = now + r->row_backoff_ns;
    if (r->row_due_ns > r->row_until_ns)
        r->row_due_ns = r->row_until_ns;
    r->next = s->later;
    s->later = r;
    __atomic_add_fetch(&s->n_row_waits, 1, __ATOMIC_RELAXED);
    return true;
}

static void complete(struct pg_store *s, struct pg_wreq *r, int result)
{
    if (wait_for_row(s, r, result))
        return;
    __atomic_add_fetch(&s->n_writes, 1, __ATOMIC_RELAXED);
    r->result = result;
    bool heap = r->heap;
    r->done(r->cls, result);
    /* a synchronous caller's request is gone once done returned */
    if (heap) {
        store_insert_data_release(&r->ins);
        free(r);
    }
}

static void fail_with(struct pg_store *s, struct pg_wreq *r, int e, const char *msg)
{
    moat_strlcpy(r->detail, msg, sizeof(r->detail));
    complete(s, r, e);
}

/* ---- a batch whose outcome was lost ---- */

/* Resolves s->unknown on a live connection: the requests of a batch that
 * did not commit go back to *retry (count *nretry). */
static void resolve_unknown(struct pg_store *s, struct pg_wreq **retry, size_t *nretry)
{
    char msg[200];
    /* The old connection's backend may still run the batch (waiting for a
     * lock, or stopped and resumed): it ends first, or the outcome read
     * now could change after the batch is sent again. */
    int c = s->lost_pid ? pg_end_backend(s, s->lost_pid, s->lost_start_us, msg, sizeof(msg)) : 1;
    if (c > 0) {
        s->lost_pid = 0;
        c = pg_batch_committed(s, s->unknown_token, msg, sizeof(msg));
    } else if (c == 0) {
        c = -EAGAIN;
    }
    if (c < 0) {
        moat_strlcpy(s->werror, msg, sizeof(s->werror));
        conn_failed(s);
        return; /* still unknown: tried again once connected */
    }
    if (c)
        committed(s);
    for (size_t i = 0; i < s->nunknown; i++) {
        struct pg_wreq *r = s->unknown[i];
        if (!c) {
            retry[(*nretry)++] = r;
            continue;
        }
        int res =
            r->nres == pg_nstatements(r) ? pg_outcome(r) : pg_resolve_one(s, r, s->unknown_token);
        if (res == -ENOTCONN || res == -ETIMEDOUT) {
            /* committed, but this row cannot be read now: the rest waits */
            for (size_t k = i; k < s->nunknown; k++)
                s->unknown[k - i] = s->unknown[k];
            s->nunknown -= i;
            moat_strlcpy(s->werror, r->detail, sizeof(s->werror));
            conn_failed(s);
            return;
        }
        complete(s, r, res);
    }
    s->nunknown = 0;
}

/* Fails the unknown batch when its time is up. */
static void expire_unknown(struct pg_store *s)
{
    if (!s->nunknown || moat_now_ns() < s->unknown_deadline_ns)
        return;
    for (size_t i = 0; i < s->nunknown; i++)
        fail_with(s, s->unknown[i], -ENOTCONN,
                  "the database went away after the write was sent: it may have committed");
    s->nunknown = 0;
}

/* ---- the batch ---- */

static bool id_before(const struct pg_wreq *a, const struct pg_wreq *b)
{
    return strcmp(a->id, b->id) < 0;
}

static bool seq_before(const struct pg_wreq *a, const struct pg_wreq *b)
{
    return a->seq < b->seq;
}

/* A stable insertion sort: batches are small and come nearly in order
 * (UUIDv7 ids grow with time). */
static void sort_requests(struct pg_wreq **r, size_t n,
                          bool (*before)(const struct pg_wreq *, const struct pg_wreq *))
{
    for (size_t i = 1; i < n; i++) {
        struct pg_wreq *x = r[i];
        size_t k = i;
        for (; k > 0 && before(x, r[k - 1]); k--)
            r[k] = r[k - 1];
        r[k] = x;
    }
}

/* Runs b[0..n) (connected). Requests to send again (not committed, the
 * connection gone) go to retry. */
static void run_batch(struct pg_store *s, struct pg_wreq **b, size_t n, struct pg_wreq **retry,
                      size_t *nretry)
{
    /* in the order of their job ids: every node locks rows in the same
     * order (the writes of one job keep theirs) */
    sort_requests(b, n, id_before);
    struct batch bt = {.b = b, .n = n, .token = next_token(s)};
    enum batch_end end = run_pipeline(s, &bt);
    if (end == BATCH_COMMITTED) {
        committed(s);
        for (size_t i = 0; i < n; i++)
            complete(s, b[i], pg_outcome(b[i]));
        return;
    }
    if (end == BATCH_LOST) {
        s->lost_pid = s->wpid;
        s->lost_start_us = s->wstart_us;
        drop_conn(s);
        moat_strlcpy(s->werror, bt.msg, sizeof(s->werror));
        write_failed(s, -ENOTCONN);
        for (size_t i = 0; i < n; i++)
            s->unknown[i] = b[i];
        s->nunknown = n;
        s->unknown_token = bt.token;
        s->unknown_deadline_ns = pg_deadline(s->to.resolve_wait_ms);
        return;
    }
    /* aborted, nothing committed; a deadlock or a serialization failure
     * is worth another try while the request may still wait */
    if (n == 1 && bt.err == -EAGAIN && moat_now_ns() < b[0]->deadline_ns) {
        retry[(*nretry)++] = b[0];
        return;
    }
    if (n == 1 || !bt.item_failed) {
        write_failed(s, bt.err);
        for (size_t i = 0; i < n; i++)
            fail_with(s, b[i], bt.err, bt.msg);
        return;
    }
    __atomic_add_fetch(&s->n_retries, 1, __ATOMIC_RELAXED);
    /* one at a time, so that the bad one fails alone */
    for (size_t i = 0; i < n; i++) {
        if (s->nunknown || writer_conn(s) < 0)
            retry[(*nretry)++] = b[i];
        else
            run_batch(s, &b[i], 1, retry, nretry);
    }
}

/* One probe of a store that is not writable: an empty batch (its token in
 * write_log) must commit. */
static void probe(struct pg_store *s)
{
    s->next_probe_ns = pg_deadline(s->to.probe_ms);
    if (writer_conn(s) < 0)
        return;
    struct batch bt = {.b = NULL, .n = 0, .token = next_token(s)};
    enum batch_end end = run_pipeline(s, &bt);
    if (end == BATCH_COMMITTED) {
        committed(s);
        return;
    }
    if (end != BATCH_ABORTED)
        drop_conn(s);
    write_failed(s, bt.err ? bt.err : -EIO);
}

/* ---- the thread ---- */

static void timed_wait(struct pg_store *s, uint64_t until_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(until_ns / 1000000000u),
                          .tv_nsec = (long)(until_ns % 1000000000u)};
    (void)pthread_cond_timedwait(&s->cond, &s->mu, &ts);
}

/* Puts r[0..n) back at the head of the queue, in their queue order (mu). */
static void requeue_front(struct pg_store *s, struct pg_wreq **r, size_t n)
{
    sort_requests(r, n, seq_before);
    for (size_t i = n; i-- > 0;) {
        r[i]->next = s->head;
        s->head = r[i];
        if (!s->tail)
            s->tail = r[i];
    }
}

/* Fails the queued requests whose wait for the database is over (mu);
 * they go to out. */
static void take_expired(struct pg_store *s, struct pg_wreq **out, size_t *n)
{
    uint64_t now = moat_now_ns();
    struct pg_wreq **pp = &s->head;
    s->tail = NULL;
    while (*pp) {
        struct pg_wreq *r = *pp;
        if (r->deadline_ns <= now && *n < PG_BATCH_MAX) {
            *pp = r->next;
            out[(*n)++] = r;
        } else {
            s->tail = r;
            pp = &r->next;
        }
    }
}

/* The writer's wait when idle (mu held): for a request, and while the
 * store is not writable, no longer than its next probe. true when it is
 * time to probe. */
static bool idle_wait(struct pg_store *s)
{
    s->writer_waiting = true;
    bool due = false;
    if (pg_writable(s))
        pthread_cond_wait(&s->cond, &s->mu);
    else if (moat_now_ns() >= s->next_probe_ns)
        due = true;
    else
        timed_wait(s, s->next_probe_ns);
    s->writer_waiting = false;
    return due && !s->head && !s->stopping;
}

/* Queues the starts of s->later whose pause is over (mu); the earliest
 * due time of those left, or 0. */
static uint64_t later_due(struct pg_store *s)
{
    uint64_t now = moat_now_ns(), next = 0;
    struct pg_wreq **pp = &s->later;
    while (*pp) {
        struct pg_wreq *r = *pp;
        if (r->row_due_ns <= now || s->stopping) {
            *pp = r->next;
            r->next = NULL;
            if (s->tail)
                s->tail->next = r;
            else
                s->head = r;
            s->tail = r;
            if (s->stopping)
                r->row_until_ns = 0; /* answered at its next try */
        } else {
            if (!next || r->row_due_ns < next)
                next = r->row_due_ns;
            pp = &r->next;
        }
    }
    return next;
}

static void *writer_main(void *arg)
{
    struct pg_store *s = arg;
    struct pg_wreq *batch[PG_BATCH_MAX], *back[PG_BATCH_MAX];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        uint64_t due = s->later ? later_due(s) : 0;
        if (!s->head && !s->nunknown && due) {
            s->writer_waiting = true; /* a new request wakes it: it must not wait for due */
            timed_wait(s, due);
            s->writer_waiting = false;
            continue;
        }
        if (!s->head && !s->nunknown) {
            if (s->stopping)
                break;
            if (idle_wait(s)) {
                pthread_mutex_unlock(&s->mu);
                probe(s);
                pthread_mutex_lock(&s->mu);
            }
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        size_t n = 0, nback = 0;
        bool up = writer_conn(s) == 0;
        if (up && s->nunknown)
            resolve_unknown(s, back, &nback);
        expire_unknown(s);
        pthread_mutex_lock(&s->mu);
        if (!up || s->nunknown) {
            /* the database is away: fail what waited too long, wait for
             * the next connection attempt (or for a close) */
            take_expired(s, batch, &n);
            pthread_mutex_unlock(&s->mu);
            for (size_t i = 0; i < n; i++)
                fail_with(s, batch[i], -ENOTCONN, s->werror);
            pthread_mutex_lock(&s->mu);
            requeue_front(s, back, nback);
            uint64_t until = s->next_connect_ns;
            if (s->head && s->head->deadline_ns < until)
                until = s->head->deadline_ns;
            if (s->nunknown && s->unknown_deadline_ns < until)
                until = s->unknown_deadline_ns;
            if (until > moat_now_ns())
                timed_wait(s, until);
            continue;
        }
        requeue_front(s, back, nback);
        while (s->head && n < PG_BATCH_MAX) {
            batch[n++] = s->head;
            s->head = s->head->next;
        }
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        nback = 0;
        if (n)
            run_batch(s, batch, n, back, &nback);
        pthread_mutex_lock(&s->mu);
        requeue_front(s, back, nback);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int pg_writer_start(struct pg_store *s, struct moat_err *err)
{
    char msg[200];
    int e = pg_writer_prepare(s, s->wconn, msg, sizeof(msg));
    if (e < 0)
        return moat_err_set(err, e, "cannot set up the store %s: %s", s->shown, msg);
    /* The writer takes no signals: they belong to the threads that wait
     * for them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&s->writer, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return moat_err_set(err, -r, "cannot start the store writer: %s", strerror(r));
    (void)pthread_setname_np(s->writer, "moat-store-pg");
    s->writer_running = true;
    return 0;
}

void pg_writer_stop(struct pg_store *s)
{
    if (s->writer_running) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
        s->writer_running = false;
    }
    /* this writer's row of write_log is of no use to anyone now */
    if (s->wconn && pg_alive(s->wconn))
        pg_forget_writer(s);
}
