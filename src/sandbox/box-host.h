#pragma once
/* Host-side records of boxes, shared by box.c and the pool (pool.c). */
#include "box-internal.h"

/* What the process that made a box must keep to destroy it. */
struct box_host {
    pid_t init_pid;
    int ctl;      /* socket to box init (handed to the user of the box) */
    int lease;    /* uid lease */
    uint32_t uid;
    struct cg_group *cg;
};

/* Leases a uid, makes the cgroup, clones box init (which prepares the box
 * and then says READY on ctl). netns: a namespace to join, or -1 for a new
 * one. The caller must be single-threaded. */
int box_spawn(struct sbx_ctx *ctx, int netns, struct box_host *h, struct moat_err *err);
/* Kills box init (and with it the box), reaps it, removes the cgroup,
 * releases the lease. */
void box_host_destroy(struct box_host *h);

struct sbx_box {
    int ctl;
    pid_t init_pid;
    int pidfd;
    uint32_t uid;
    bool ready;
    bool broken;
    bool owns_host;       /* a cold box: host is ours to destroy */
    struct box_host host;
    struct sbx_pool *pool; /* a pool box: tell the pool when freed */
};

void box_pool_released(struct sbx_pool *pool);
