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
    /* The configuration names no other backend yet: a queue URL selecting
     * the JetStream driver comes with it. */
    return queue_open_ops(&queue_local_ops, cfg, out, err);
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

int queue_reserve(struct queue *q)
{
    return q->ops->reserve(q->state);
}

void queue_unreserve(struct queue *q)
{
    q->ops->unreserve(q->state);
}

int queue_push(struct queue *q, const char *id, int priority, uint64_t not_before_ms, bool reserved)
{
    if (!id_ok(id) || priority < JOB_PRIORITY_MIN || priority > JOB_PRIORITY_MAX)
        return -EINVAL;
    return q->ops->push(q->state, id, priority, not_before_ms, reserved);
}

int queue_take(struct queue *q, int timeout_ms, char id[MOAT_UUID_LEN + 1], int *priority)
{
    int prio = 0;
    int r = q->ops->take(q->state, timeout_ms < 0 ? -1 : timeout_ms, id, &prio);
    if (r == 0 && priority)
        *priority = prio;
    return r;
}

void queue_ack(struct queue *q, const char *id)
{
    if (id_ok(id))
        q->ops->ack(q->state, id);
}

int queue_remove(struct queue *q, const char *id)
{
    if (!id_ok(id))
        return -ENOENT;
    return q->ops->remove(q->state, id);
}

void queue_stats(struct queue *q, struct queue_stats *st)
{
    *st = (struct queue_stats){0};
    q->ops->stats(q->state, st);
}
