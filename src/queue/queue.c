/*
 * queue: argument checks and dispatch to the driver. Checks live here once
 * so that no driver has to trust its callers about id lengths or
 * priorities (an id is copied into fixed MOAT_UUID_LEN + 1 buffers).
 */
#include "queue-internal.h"

#include "moat/config.h"
#include "moat/job.h"
#include "moat/util.h"

struct queue {
    const struct queue_ops *ops;
    void *state;
};

static bool id_ok(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, MOAT_UUID_LEN + 1);
    return n >= 1 && n <= MOAT_UUID_LEN;
}

int queue_open_ops(const struct queue_ops *ops, const struct moat_config *cfg, struct queue **out,
                   struct moat_err *err)
{
    if (!ops || !cfg || !out)
        return moat_err_set(err, -EINVAL, "queue: no driver or configuration");
    _cleanup_free_ struct queue *q = calloc(1, sizeof(*q));
    if (!q)
        return moat_err_set(err, -ENOMEM, "queue: out of memory");
    q->ops = ops;
    int r = ops->open(cfg, &q->state, err);
    if (r < 0)
        return r;
    *out = TAKE_PTR(q);
    return 0;
}

int queue_open(const struct moat_config *cfg, struct queue **out, struct moat_err *err)
{
    if (strcmp(cfg->queue, "local") == 0)
        return queue_open_ops(&queue_local_ops, cfg, out, err);
    if (strncmp(cfg->queue, "nats://", 7) == 0)
        return queue_open_ops(&queue_jetstream_ops, cfg, out, err);
    return moat_err_field(err, -EINVAL, "server.queue", "unknown queue %s", cfg->queue);
}

void queue_close(struct queue *q)
{
    if (!q)
        return;
    q->ops->close(q->state);
    free(q);
}

void queue_shutdown(struct queue *q)
{
    if (q)
        q->ops->shutdown(q->state);
}

bool queue_in_process(const struct queue *q)
{
    return q->ops->in_process;
}

bool queue_ready(struct queue *q)
{
    return q && q->ops->ready(q->state);
}

int queue_reserve(struct queue *q)
{
    return q->ops->reserve(q->state);
}

void queue_unreserve(struct queue *q)
{
    q->ops->unreserve(q->state);
}

static bool push_ok(const char *id, int priority)
{
    return id_ok(id) && priority >= JOB_PRIORITY_MIN && priority <= JOB_PRIORITY_MAX;
}

int queue_push(struct queue *q, const char *id, int priority, bool reserved)
{
    if (!push_ok(id, priority))
        return -EINVAL;
    return q->ops->push(q->state, id, priority, reserved);
}

int queue_push_async(struct queue *q, const char *id, int priority, bool reserved,
                     const char *data, size_t len, queue_done_fn done, void *cls)
{
    if (!push_ok(id, priority) || !done || (len && !data))
        return -EINVAL;
    if (q->ops->push_async)
        return q->ops->push_async(q->state, id, priority, reserved, data, len, done, cls);
    done(cls, q->ops->push(q->state, id, priority, reserved));
    return 0;
}

int queue_take(struct queue *q, int timeout_ms, struct queue_entry *e)
{
    *e = (struct queue_entry){0};
    return q->ops->take(q->state, timeout_ms < 0 ? -1 : timeout_ms, e);
}

/* An ended entry's data went with its message. */
static void ended(struct queue_entry *e)
{
    e->data = NULL;
    e->len = 0;
}

void queue_ack(struct queue *q, struct queue_entry *e)
{
    if (e && e->handle) {
        q->ops->ack(q->state, e);
        ended(e);
    }
}

int queue_retry(struct queue *q, struct queue_entry *e, uint64_t delay_ms)
{
    if (!e || !e->handle)
        return -EINVAL;
    int r = q->ops->retry(q->state, e, delay_ms);
    ended(e);
    return r;
}

void queue_release(struct queue *q, struct queue_entry *e, bool redeliver)
{
    if (e && e->handle) {
        q->ops->release(q->state, e, redeliver);
        ended(e);
    }
}

int queue_touch(struct queue *q, const struct queue_entry *e)
{
    if (!e || !e->handle)
        return -EINVAL;
    return q->ops->touch(q->state, e);
}

int queue_remove(struct queue *q, const char *id)
{
    if (!id_ok(id))
        return -ENOENT;
    return q->ops->remove(q->state, id);
}

int queue_holds(struct queue *q, const char *const *ids, size_t n, bool *held)
{
    for (size_t i = 0; i < n; i++) {
        held[i] = false;
        if (!id_ok(ids[i]))
            return -EINVAL;
    }
    return n ? q->ops->holds(q->state, ids, n, held) : 0;
}

int queue_listen(struct queue *q, queue_event_fn fn, void *cls)
{
    if (!fn)
        return -EINVAL;
    return q->ops->listen(q->state, fn, cls);
}

int queue_announce(struct queue *q, enum queue_event ev, const char *id, const char *data,
                   size_t len)
{
    if (!id_ok(id) || ev != QUEUE_EVENT_FINAL)
        return -EINVAL;
    return q->ops->announce(q->state, ev, id, data, len);
}

void queue_stats(struct queue *q, struct queue_stats *st)
{
    *st = (struct queue_stats){0};
    q->ops->stats(q->state, st);
}
