/*
 * store: the driver-independent front. Checks what every driver would
 * check, so that a malformed id never reaches SQL, and dispatches through
 * struct store_ops.
 *
 * It also keeps the inserts in flight (queued to the driver, not committed
 * yet) in a table, so that store_get answers for them from the job being
 * inserted: a job pushed to an in-process queue as its insert is queued can
 * be read by the executor that takes it, whatever the driver. An insert
 * leaves the table before its done callback runs; after a failed insert
 * the job is not found, as it never existed.
 */
#include <ctype.h>
#include <pthread.h>

#include <jansson.h>

#include "store-internal.h"
#include "moat/util.h"

/* ---- inserts in flight ---- */

#define INFLIGHT_STRIPES 64

struct inflight {
    struct inflight *next;
    struct store *st;
    const struct job *job; /* borrowed from the caller until done */
    store_done_fn done;
    void *cls;
};

struct inflight_stripe {
    pthread_mutex_t mu;
    struct inflight *head;
};

struct store_inflight {
    struct inflight_stripe stripes[INFLIGHT_STRIPES];
};

static struct inflight_stripe *stripe_of(struct store *st, const char *id)
{
    /* the last characters of a UUIDv7 are random */
    uint32_t h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return &st->inflight->stripes[h % INFLIGHT_STRIPES];
}

static int inflight_init(struct store *st)
{
    st->inflight = calloc(1, sizeof(*st->inflight));
    if (!st->inflight)
        return -ENOMEM;
    for (size_t i = 0; i < INFLIGHT_STRIPES; i++)
        pthread_mutex_init(&st->inflight->stripes[i].mu, NULL);
    return 0;
}

static void inflight_free(struct store_inflight *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < INFLIGHT_STRIPES; i++)
        pthread_mutex_destroy(&t->stripes[i].mu);
    free(t);
}

static void inflight_unlink(struct inflight *f)
{
    struct inflight_stripe *s = stripe_of(f->st, f->job->id);
    pthread_mutex_lock(&s->mu);
    for (struct inflight **pp = &s->head; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* store_done_fn of every insert: out of the table, then the caller's done. */
static void inflight_done(void *cls, int result)
{
    struct inflight *f = cls;
    inflight_unlink(f);
    f->done(f->cls, result);
    free(f);
}

/* The job of an insert in flight, copied into *out: 0, or -ENOENT when
 * there is none (-ENOMEM). */
static int inflight_get(struct store *st, const char *id, struct job *out)
{
    struct inflight_stripe *s = stripe_of(st, id);
    int r = -ENOENT;
    pthread_mutex_lock(&s->mu);
    for (struct inflight *f = s->head; f; f = f->next) {
        if (strcmp(f->job->id, id) == 0) {
            r = job_copy_request(out, f->job);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* ---- open, close ---- */

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int store_open(const struct moat_config *cfg, struct store **out, struct moat_err *err)
{
    struct store *st = NULL;
    int r;
    if (has_prefix(cfg->store, "postgres://") || has_prefix(cfg->store, "postgresql://"))
        r = store_postgres_open(cfg, &st, err);
    else if (strcmp(cfg->store, "sqlite") == 0)
        r = store_sqlite_open(cfg, &st, err);
    else
        r = moat_err_field(err, -EINVAL, "server.store", "unknown store %s", cfg->store);
    if (r < 0 || !st)
        return r < 0 ? r : moat_err_set(err, -EIO, "store: the driver made no store");
    if (inflight_init(st) < 0) {
        st->ops->close(st);
        return moat_err_set(err, -ENOMEM, "store: out of memory");
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    /* the driver runs every done left (they leave the table) */
    struct store_inflight *t = st->inflight;
    st->ops->close(st);
    inflight_free(t);
}

/* Ids are stored lowercase (moat_uuid7 makes them so); a client may write
 * one in upper case. false for anything that is not a UUID. */
static bool normalize_id(const char *id, char out[MOAT_UUID_LEN + 1])
{
    if (!moat_uuid_valid(id))
        return false;
    for (size_t i = 0; i <= MOAT_UUID_LEN; i++)
        out[i] = (char)tolower((unsigned char)id[i]);
    return true;
}

static int no_such_job(struct moat_err *err)
{
    return moat_err_set(err, -ENOENT, "no such job");
}

/* The id of a job to write: made by moat_uuid7, so lowercase. */
static bool id_writable(const char *id)
{
    if (!moat_uuid_valid(id))
        return false;
    for (size_t i = 0; i < MOAT_UUID_LEN; i++)
        if (isupper((unsigned char)id[i]))
            return false;
    return true;
}

int store_insert_async(struct store *st, const struct job *job, store_done_fn done, void *cls)
{
    if (!id_writable(job->id) || job->status != JOB_STATUS_QUEUED || job->nfiles == 0 ||
        !job->files || !done)
        return -EINVAL;
    if (!st->inflight) /* a store made by hand (a test's wrapper) */
        return st->ops->insert_async(st, job, done, cls);
    struct inflight *f = malloc(sizeof(*f));
    if (!f)
        return -ENOMEM;
    *f = (struct inflight){.st = st, .job = job, .done = done, .cls = cls};
    /* in the table before the driver has it: its done may come at once */
    struct inflight_stripe *s = stripe_of(st, job->id);
    pthread_mutex_lock(&s->mu);
    f->next = s->head;
    s->head = f;
    pthread_mutex_unlock(&s->mu);
    int r = st->ops->insert_async(st, job, inflight_done, f);
    if (r < 0) {
        inflight_unlink(f);
        free(f);
    }
    return r;
}

int store_insert(struct store *st, const struct job *job, struct moat_err *err)
{
    struct store_sync w;
    store_sync_init(&w);
    int r = store_insert_async(st, job, store_sync_done, &w);
    if (r < 0) {
        pthread_cond_destroy(&w.cond);
        pthread_mutex_destroy(&w.mu);
        return moat_err_set(err, r, "cannot queue the insert of job %s: %s", job->id, strerror(-r));
    }
    store_sync_wait(&w);
    if (w.result == -EEXIST)
        return moat_err_set(err, -EEXIST, "job %s exists", job->id);
    if (w.result < 0)
        return moat_err_set(err, w.result, "cannot insert job %s: %s", job->id,
                            strerror(-w.result));
    return 0;
}

int store_get(struct store *st, const char *id, unsigned what, struct job *out,
              struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    int r = st->inflight ? inflight_get(st, nid, out) : -ENOENT;
    if (r != -ENOENT)
        return r < 0 ? moat_err_set(err, r, "out of memory") : 0;
    return st->ops->get(st, nid, what, out, err);
}

int store_get_output(struct store *st, const char *id, char **data, size_t *len,
                     struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    return st->ops->get_output(st, nid, data, len, err);
}

int store_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                      struct store_ticket **ticket)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return -ENOENT;
    return st->ops->start_begin(st, nid, now_ms, takeover, 0, ticket);
}

int store_start_begin_awaiting(struct store *st, const char *id, int64_t now_ms,
                               uint64_t row_wait_ms, struct store_ticket **ticket)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return -ENOENT;
    return st->ops->start_begin(st, nid, now_ms, false, row_wait_ms, ticket);
}

int store_start(struct store *st, const char *id, int64_t now_ms, bool takeover, uint32_t *attempts,
                struct moat_err *err)
{
    struct store_ticket *t = NULL;
    int r = store_start_begin(st, id, now_ms, takeover, &t);
    if (r < 0)
        return r == -ENOENT ? no_such_job(err)
                            : moat_err_set(err, r, "cannot start job %s: %s", id, strerror(-r));
    return store_start_wait(t, attempts, NULL, err);
}

int store_start_wait(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                     struct moat_err *err)
{
    return ticket->ops->start_wait(ticket, attempts, settled_ns, err);
}

/* ---- judging and test cases ---- */

int store_results_make(const struct job *job, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    return job->ntests ? job_tests_encode(job, true, out, len) : 0;
}

int store_judging_fill(struct job *j, const char *compare, double abs_tol, double rel_tol,
                       size_t expected_len, size_t ntests)
{
    if (!compare)
        return 0;
    if (job_compare_parse(compare, &j->compare.mode) < 0)
        return -EIO;
    j->compare.abs_tol = abs_tol;
    j->compare.rel_tol = rel_tol;
    /* with tests, the comparison is theirs: no expected output of its own */
    j->judged = ntests == 0;
    j->expected_len = j->judged ? expected_len : 0;
    return 0;
}

int store_tests_fill(struct job *j, size_t ntests, const char *spec, size_t spec_len,
                     const char *results, size_t results_len)
{
    if (ntests == 0)
        return 0;
    int e = 0;
    if (spec) {
        e = job_tests_decode(spec, spec_len, j, false);
        if (e == 0 && j->ntests != ntests)
            e = -EINVAL;
    } else {
        j->tests = calloc(ntests, sizeof(*j->tests));
        if (!j->tests)
            return -ENOMEM;
        j->ntests = ntests;
    }
    if (e == 0 && results)
        e = job_tests_decode(results, results_len, j, true);
    return e == -EINVAL ? -EIO : e;
}

/* ---- an insert's data ---- */

int store_insert_data_make(const struct job *job, struct store_insert_data *d,
                           char hash[MOAT_SHA256_HEX_LEN + 1])
{
    *d = (struct store_insert_data){0};
    int e = 0;
    if (job->nfiles == 1 && !job->files[0].name) {
        d->code = job->files[0].data;
        d->code_len = job->files[0].len;
    } else {
        e = job_code_blob(job, &d->owned, &d->code_len);
        d->code = d->owned;
    }
    if (e == 0 && job->nargs)
        e = store_args_to_json(job, &d->args_json);
    if (job->judged || job->ntests) { /* a comparison for the run, or the tests */
        d->compare = job_compare_name(job->compare.mode);
        d->abs_tol = job->compare.abs_tol;
        d->rel_tol = job->compare.rel_tol;
    }
    d->expected_len = job->judged ? job->expected_len : 0;
    if (e == 0 && job->ntests)
        e = job_tests_encode(job, false, &d->tests_json, &d->tests_len);
    if (e < 0) {
        store_insert_data_release(d);
        return e;
    }
    /* the API hashed it already (its answer shows codeHash) */
    if (job->code_hash[0])
        moat_strlcpy(hash, job->code_hash, MOAT_SHA256_HEX_LEN + 1);
    else
        moat_sha256_hex(d->code, d->code_len, hash);
    return 0;
}

void store_insert_data_release(struct store_insert_data *d)
{
    free(d->owned);
    free(d->args_json);
    free(d->tests_json);
    *d = (struct store_insert_data){0};
}

/* ---- a caller waiting for one write ---- */

void store_sync_init(struct store_sync *w)
{
    *w = (struct store_sync){0};
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
}

void store_sync_done(void *cls, int result)
{
    struct store_sync *w = cls;
    pthread_mutex_lock(&w->mu);
    w->result = result;
    w->settled_ns = moat_now_ns();
    w->done = true;
    pthread_cond_signal(&w->cond);
    /* after this unlock the waiter may return: w is gone */
    pthread_mutex_unlock(&w->mu);
}

void store_sync_wait(struct store_sync *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
}

int store_finish(struct store *st, const struct job *job, struct moat_err *err)
{
    if (!id_writable(job->id))
        return no_such_job(err);
    if (job->status != JOB_STATUS_COMPLETED && job->status != JOB_STATUS_FAILED)
        return moat_err_field(err, -EINVAL, "status", "a job finishes completed or failed");
    return st->ops->finish(st, job, err);
}

int store_requeue(struct store *st, const char *id, uint32_t attempts, struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    return st->ops->requeue(st, nid, attempts, err);
}

int store_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
                 struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    return st->ops->cancel(st, nid, now_ms, was, err);
}

int store_list(struct store *st, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
               size_t *n, uint64_t *total, struct moat_err *err)
{
    *n = 0;
    *total = 0;
    if (limit == 0 || limit > STORE_LIST_MAX || offset > INT64_MAX)
        return moat_err_set(err, -EINVAL, "a page holds 1 to %d jobs", STORE_LIST_MAX);
    return st->ops->list(st, offset, limit, ids, n, total, err);
}

int store_list_pending(struct store *st, struct store_pending **out, size_t *n,
                       struct moat_err *err)
{
    return st->ops->list_pending(st, out, n, err);
}

int store_callback_due(struct store *st, int64_t now_ms, char (*ids)[MOAT_UUID_LEN + 1], size_t max,
                       size_t *n, struct moat_err *err)
{
    *n = 0;
    if (max == 0)
        return 0;
    return st->ops->callback_due(st, now_ms, ids, max, n, err);
}

int store_callback_claim(struct store *st, const char *id, int64_t now_ms, uint64_t lease_ms,
                         uint32_t *attempt, struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    if (lease_ms > (uint64_t)INT64_MAX - (uint64_t)(now_ms > 0 ? now_ms : 0))
        return moat_err_set(err, -EOVERFLOW, "lease too long");
    return st->ops->callback_claim(st, nid, now_ms, lease_ms, attempt, err);
}

int store_callback_record(struct store *st, const char *id, const struct store_callback_outcome *o,
                          struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    if (o->status != JOB_CALLBACK_PENDING && o->status != JOB_CALLBACK_DELIVERED &&
        o->status != JOB_CALLBACK_FAILED)
        return moat_err_set(err, -EINVAL, "bad delivery status");
    /* a receiver's words may be long: cut on a character boundary */
    char msg[JOB_CALLBACK_ERROR_MAX + 1];
    moat_strlcpy(msg, o->error ? o->error : "", sizeof(msg));
    size_t len = strlen(msg);
    if (o->error && strlen(o->error) > len && len > 0) {
        size_t i = len - 1;
        while (i > 0 && ((unsigned char)msg[i] & 0xc0) == 0x80)
            i--;
        unsigned char lead = (unsigned char)msg[i];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (len - i < want)
            msg[i] = '\0';
    }
    struct store_callback_outcome c = *o;
    c.error = o->error ? msg : NULL;
    return st->ops->callback_record(st, nid, &c, err);
}

int store_callback_fill(struct job *j, const struct store_callback_row *row)
{
    j->callback = (struct job_callback){0};
    if (!row->url)
        return 0;
    struct job_callback *c = &j->callback;
    if (moat_strlcpy(c->url, row->url, sizeof(c->url)) >= sizeof(c->url) ||
        job_callback_shape_parse(row->shape, &c->shape) < 0 ||
        job_callback_status_parse(row->status, &c->status) < 0 || c->status == JOB_CALLBACK_NONE ||
        row->attempts > UINT32_MAX)
        return -EIO;
    c->attempts = (uint32_t)row->attempts;
    c->delivered_ms = row->delivered_ms;
    c->next_ms = row->next_ms;
    moat_strlcpy(c->last_error, row->error ? row->error : "", sizeof(c->last_error));
    return 0;
}

int store_key_add(struct store *st, const struct store_key *k, struct moat_err *err)
{
    if (!moat_uuid_valid(k->id) || strlen(k->hash) != MOAT_SHA256_HEX_LEN)
        return moat_err_field(err, -EINVAL, "id", "a key needs a UUID id and a SHA-256 hash");
    return st->ops->key_add(st, k, err);
}

int store_key_list(struct store *st, size_t max, struct store_key **out, size_t *n,
                   struct moat_err *err)
{
    return st->ops->key_list(st, max, out, n, err);
}

int store_key_revoke(struct store *st, const char *id, int64_t now_ms, struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return moat_err_set(err, -ENOENT, "no key %.40s", id);
    return st->ops->key_revoke(st, nid, now_ms, err);
}

int store_idem_claim(struct store *st, const char *owner, const char *key, const char *body_hash,
                     int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                     struct moat_err *err)
{
    *out = (struct store_idem){0};
    return st->ops->idem_claim(st, owner, key, body_hash, now_ms, expire_before_ms, out, err);
}

int store_idem_settle(struct store *st, const char *owner, const char *key, unsigned status,
                      const char *ctype, const char *location, const char *body, size_t len,
                      struct moat_err *err)
{
    return st->ops->idem_settle(st, owner, key, status, ctype, location, body, len, err);
}

int store_idem_drop(struct store *st, const char *owner, const char *key, int64_t created_ms,
                    struct moat_err *err)
{
    return st->ops->idem_drop(st, owner, key, created_ms, err);
}

bool store_ready(struct store *st)
{
    return st && st->ops->ready(st);
}

void store_stats(struct store *st, struct store_stats *out)
{
    *out = (struct store_stats){0};
    st->ops->stats(st, out);
}

int store_args_to_json(const struct job *job, char **out)
{
    if (job->nargs == 0) {
        *out = strdup("[]");
        return *out ? 0 : -ENOMEM;
    }
    _cleanup_(json_decrefp) json_t *arr = json_array();
    if (!arr)
        return -ENOMEM;
    for (size_t i = 0; i < job->nargs; i++) {
        json_t *s = json_string(job->args[i]); /* NULL: not UTF-8 (or ENOMEM) */
        if (!s)
            return -EINVAL;
        if (json_array_append_new(arr, s) < 0) /* steals s */
            return -ENOMEM;
    }
    *out = json_dumps(arr, JSON_COMPACT);
    return *out ? 0 : -ENOMEM;
}

static void args_free(char **args, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(args[i]);
    free(args);
}

int store_args_from_json(struct job *j, const char *text, size_t len)
{
    _cleanup_(json_decrefp) json_t *arr = json_loadb(text, len, 0, NULL);
    if (!json_is_array(arr))
        return -EINVAL;
    size_t n = json_array_size(arr);
    if (n == 0) {
        j->args = NULL;
        j->nargs = 0;
        return 0;
    }
    char **args = calloc(n, sizeof(*args));
    if (!args)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s)) {
            args_free(args, i);
            return -EINVAL;
        }
        args[i] = strdup(json_string_value(s));
        if (!args[i]) {
            args_free(args, i);
            return -ENOMEM;
        }
    }
    j->args = args;
    j->nargs = n;
    return 0;
}
