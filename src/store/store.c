/*
 * store: the driver-independent front. Checks what every driver would
 * check, so that a malformed id never reaches SQL, and dispatches through
 * struct store_ops.
 */
#include <ctype.h>
#include <pthread.h>

#include <jansson.h>

#include "store-internal.h"
#include "moat/util.h"

int store_open(const struct moat_config *cfg, struct store **out, struct moat_err *err)
{
    /* One driver for now; the configuration will name the others. */
    return store_sqlite_open(cfg, out, err);
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
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
    return st->ops->insert_async(st, job, done, cls);
}

/* A caller waiting for one asynchronous write. */
struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    int result;
};

static void sync_done(void *cls, int result)
{
    struct sync_wait *w = cls;
    pthread_mutex_lock(&w->mu);
    w->result = result;
    w->done = true;
    pthread_cond_signal(&w->cond);
    /* after this unlock the waiter may return and w is gone */
    pthread_mutex_unlock(&w->mu);
}

int store_insert(struct store *st, const struct job *job, struct moat_err *err)
{
    struct sync_wait w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    int r = store_insert_async(st, job, sync_done, &w);
    if (r < 0)
        return moat_err_set(err, r, "cannot queue the insert of job %s: %s", job->id, strerror(-r));
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mu);
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

int store_start(struct store *st, const char *id, int64_t now_ms, uint32_t *attempts,
                struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    return st->ops->start(st, nid, now_ms, attempts, err);
}

int store_start_begin(struct store *st, const char *id, int64_t now_ms,
                      struct store_ticket **ticket)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return -ENOENT;
    return st->ops->start_begin(st, nid, now_ms, ticket);
}

int store_start_wait(struct store_ticket *ticket, uint32_t *attempts, struct moat_err *err)
{
    return ticket->ops->start_wait(ticket, attempts, err);
}

int store_finish(struct store *st, const struct job *job, struct moat_err *err)
{
    if (!id_writable(job->id))
        return no_such_job(err);
    if (job->status != JOB_STATUS_COMPLETED && job->status != JOB_STATUS_FAILED)
        return moat_err_field(err, -EINVAL, "status", "a job finishes completed or failed");
    return st->ops->finish(st, job, err);
}

int store_requeue(struct store *st, const char *id, struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    return st->ops->requeue(st, nid, err);
}

int store_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
                 struct moat_err *err)
{
    char nid[MOAT_UUID_LEN + 1];
    if (!normalize_id(id, nid))
        return no_such_job(err);
    return st->ops->cancel(st, nid, now_ms, was, err);
}

int store_list_pending(struct store *st, struct store_pending **out, size_t *n,
                       struct moat_err *err)
{
    return st->ops->list_pending(st, out, n, err);
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
