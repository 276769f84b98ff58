#pragma once
/*
 * queue drivers. queue.c checks arguments and dispatches through a struct
 * queue_ops; each backend (local.c, jetstream.c) fills one. The driver sees
 * only validated input: an id of 1..MOAT_UUID_LEN bytes and a priority in
 * JOB_PRIORITY_MIN..MAX; an entry it made itself. Every op must be
 * thread-safe. Same contracts as the public functions of queue.h.
 */
#include <stdbool.h>
#include <stdint.h>

#include "moat/queue.h"

struct moat_config;
struct moat_err;

struct queue_ops {
    const char *name;
    bool in_process; /* queue_in_process */
    /* Creates the driver's state into *state (freed by close). */
    int (*open)(const struct moat_config *cfg, void **state, struct moat_err *err);
    void (*close)(void *state);
    void (*shutdown)(void *state);
    bool (*ready)(void *state);
    int (*reserve)(void *state);
    void (*unreserve)(void *state);
    int (*push)(void *state, const char *id, int priority, bool reserved);
    /* NULL: queue.c calls push, then done */
    int (*push_async)(void *state, const char *id, int priority, bool reserved, const char *data,
                      size_t len, queue_done_fn done, void *cls);
    int (*take)(void *state, int timeout_ms, struct queue_entry *e);
    void (*ack)(void *state, struct queue_entry *e);
    int (*retry)(void *state, struct queue_entry *e, uint64_t delay_ms);
    void (*release)(void *state, struct queue_entry *e, bool redeliver);
    int (*touch)(void *state, const struct queue_entry *e);
    int (*remove)(void *state, const char *id);
    int (*holds)(void *state, const char *const *ids, size_t n, bool *held);
    int (*listen)(void *state, queue_event_fn fn, void *cls);
    int (*announce)(void *state, enum queue_event ev, const char *id, const char *data, size_t len);
    void (*stats)(void *state, struct queue_stats *st);
};

/* The in-process driver: a bounded priority queue (local.c). */
extern const struct queue_ops queue_local_ops;
/* NATS JetStream: a work-queue stream shared by every node (jetstream*.c). */
extern const struct queue_ops queue_jetstream_ops;

/* Opens a queue on a given driver (queue_open picks it from cfg). Borrows
 * ops, which must outlive the queue. Same errors as queue_open. */
int queue_open_ops(const struct queue_ops *ops, const struct moat_config *cfg, struct queue **out,
                   struct moat_err *err);
