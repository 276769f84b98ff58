#pragma once
/* Host-side records of boxes, shared by box.c and the pool (pool.c). */
#include "box-internal.h"

/* A box slot: the uid lease and the cgroups a box runs in. The pool keeps
 * the slot of a box that is gone for its next box (cg_recycle). */
struct box_slot {
    int lease; /* uid lease */
    uint32_t uid;
    struct cg_group *cg;
};

/* What the process that made a box must keep to destroy it. */
struct box_host {
    pid_t init_pid;
    int ctl;      /* socket to box init (handed to the user of the box) */
    int lease;    /* uid lease */
    uint32_t uid;
    struct cg_group *cg;
    int netns;    /* the box's network namespace, kept for reuse; -1 */
    bool freed;   /* pool: its user freed it, its init is exiting */
};

/* Clones box init (which prepares the box and then says READY on ctl) in
 * slot, which it takes (NULL: leases a uid and makes the cgroups). netns:
 * a namespace to join, or -1 for a new one; borrowed. With keep_netns, h
 * keeps a descriptor of the box's namespace. The caller must be
 * single-threaded. */
int box_spawn(struct sbx_ctx *ctx, int netns, bool keep_netns, struct box_slot *slot,
              struct box_host *h, struct moat_err *err);
/* Kills box init (and with it the box), reaps it, removes the cgroup,
 * releases the lease. */
void box_host_destroy(struct box_host *h);

/* ---- the pool's network namespaces (netns.c) ---- */
/* A new network namespace's fd; the caller stays in home. */
int netns_make(int home);
/* Appends to out what namespace ns shows (socket tables, interfaces,
 * routes, counters, a few sysctls), read from inside it; back in home
 * after. */
int netns_view(int home, int ns, struct buf *out);
/* 0 when ns shows exactly baseline (netns_view of a new namespace);
 * -EBUSY when it differs, -errno when it cannot be read. */
int netns_check(int home, int ns, const struct buf *baseline);

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

void box_pool_released(struct sbx_pool *pool, pid_t init_pid);
