#pragma once
/*
 * queue drivers. queue.c checks arguments and dispatches through a struct
 * queue_ops; each backend (local.c now, a JetStream one later) fills one.
 * The driver sees only validated input: an id of 1..MOAT_UUID_LEN bytes and
 * a priority in JOB_PRIORITY_MIN..MAX. Every op must be thread-safe.
 */
#include <stdbool.h>
#include <stdint.h>

#include "moat/queue.h"

struct moat_config;
struct moat_err;

struct queue_ops {
    const char *name;
    /* Creates the driver's state into *state (freed by close). */
    int (*open)(const struct moat_config *cfg, void **state, struct moat_err *err);
    void (*close)(void *state);
    void (*shutdown)(void *state);
    int (*reserve)(void *state);
    void (*unreserve)(void *state);
    int (*push)(void *state, const char *id, int priority, uint64_t not_before_ms, bool reserved);
    int (*take)(void *state, int timeout_ms, char id[MOAT_UUID_LEN + 1], int *priority);
    void (*ack)(void *state, const char *id);
    int (*remove)(void *state, const char *id);
    void (*stats)(void *state, struct queue_stats *st);
};

/* The in-process driver: a bounded priority queue (local.c). */
extern const struct queue_ops queue_local_ops;

/* Opens a queue on a given driver (queue_open picks it from cfg). Borrows
 * ops, which must outlive the queue. Same errors as queue_open. */
int queue_open_ops(const struct queue_ops *ops, const struct moat_config *cfg, struct queue **out,
                   struct moat_err *err);
