/*
 * The host side of a box: lease a uid, make the box's cgroup, clone box init
 * into new namespaces, then talk to it over a socket. Used directly by
 * `moat run` (a cold box) and by the pool's spawner.
 */
#include "box-internal.h"
#include "box-host.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Box init keeps only what it needs: its socket, the netns to join, its
 * cgroup's directories and stdio. Everything else its parent holds (other
 * boxes' sockets and uid leases, the pool's channel) would otherwise live as
 * long as this box, and keep those leases taken. */
static void close_all_but(int ctl, int netns, int mnt_template, const struct cg_group *cg)
{
    int keep[40] = {0, 1, 2, ctl};
    size_t n = 4;
    if (netns >= 0)
        keep[n++] = netns;
    if (mnt_template >= 0)
        keep[n++] = mnt_template;
    n += cg_group_fds(cg, keep + n, MOAT_ARRAY_SIZE(keep) - n);
    qsort(keep, n, sizeof(keep[0]), cmp_int);
    unsigned from = 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)keep[i] > from)
            (void)syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
        from = (unsigned)keep[i] + 1;
    }
    (void)syscall(SYS_close_range, from, ~0U, 0);
}

/* A new slot: a uid lease and the box's group in every hierarchy. */
static int slot_make(struct sbx_ctx *ctx, struct box_host *h, struct moat_err *err)
{
    int r = lease_take(ctx, &h->uid, err);
    if (r < 0)
        return r;
    h->lease = r;
    char name[32];
    (void)snprintf(name, sizeof(name), "box-%u", h->uid);
    r = cg_create(ctx->cg, name, &h->cg, err);
    /* ENOENT: the parent group was removed by a moat that exited. */
    for (int i = 0; i < 3 && r == -ENOENT; i++) {
        r = sbx_ctx_open_cgroups(ctx, err);
        if (r == 0)
            r = cg_create(ctx->cg, name, &h->cg, err);
    }
    return r;
}

int box_spawn(struct sbx_ctx *ctx, int netns, bool keep_netns, struct box_slot *slot,
              struct box_host *h, struct moat_err *err)
{
    *h = (struct box_host){.init_pid = -1, .ctl = -1, .lease = -1, .netns = -1};
    int r = 0;
    if (slot) {
        h->lease = slot->lease;
        h->uid = slot->uid;
        h->cg = slot->cg;
        *slot = (struct box_slot){.lease = -1};
    } else {
        r = slot_make(ctx, h, err);
    }
    if (r == 0)
        r = mounts_template_prepare(ctx, err);
    if (r < 0)
        goto fail;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        r = moat_err_set(err, -errno, "socketpair: %s", strerror(errno));
        goto fail;
    }
    unsigned long flags = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
    if (netns < 0)
        flags |= CLONE_NEWNET;
    /* With a template, box init enters a copy of it instead: a copy of the
     * host's mount table would be made only to be thrown away. */
    if (ctx->tmpl.nsfd < 0)
        flags |= CLONE_NEWNS;
    /* A raw clone: the caller is single-threaded (the pool's spawner, or
     * `moat run`), so the child may use libc as after fork(). */
    pid_t pid = (pid_t)syscall(SYS_clone, flags, 0, NULL, NULL, 0);
    if (pid < 0) {
        r = moat_err_set(err, -errno, "clone box: %s", strerror(errno));
        (void)close(sp[0]);
        (void)close(sp[1]);
        goto fail;
    }
    if (pid == 0) {
        close_all_but(sp[1], netns, ctx->tmpl.nsfd, h->cg);
        struct boxinit_args a = {
            .ctx = ctx, .uid = h->uid, .cg = h->cg, .ctl = sp[1], .netns = netns};
        boxinit_main(&a);
    }
    (void)close(sp[1]);
    h->ctl = sp[0];
    h->init_pid = pid;
    if (keep_netns) {
        /* ours to check and hand on once the box is gone; a box made with
         * a new namespace is reached through its init */
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        h->netns = netns >= 0 ? fcntl(netns, F_DUPFD_CLOEXEC, 3)
                              : open(path, O_RDONLY | O_CLOEXEC);
    }
    return 0;
fail:
    box_host_destroy(h);
    return r;
}

void box_host_destroy(struct box_host *h)
{
    if (h->ctl >= 0)
        (void)close(h->ctl);
    if (h->init_pid > 0) {
        /* pid 1 of the namespace: its death kills every process of the box,
         * and its exit completes only once they are all gone. */
        (void)kill(h->init_pid, SIGKILL);
        while (waitpid(h->init_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (h->cg)
        (void)cg_destroy(h->cg);
    if (h->lease >= 0)
        (void)close(h->lease);
    if (h->netns >= 0)
        (void)close(h->netns);
    *h = (struct box_host){.init_pid = -1, .ctl = -1, .lease = -1, .netns = -1};
}

/* ---- the box as its user sees it ---- */

static int box_wait_ready(struct sbx_box *box, struct moat_err *err)
{
    enum wire_type type;
    char *payload = NULL;
    size_t len = 0;
    int r = wire_recv(box->ctl, &type, &payload, &len);
    if (r < 0) {
        free(payload);
        return moat_err_set(err, r, "box init died while preparing the box");
    }
    if (type == WIRE_FAIL) {
        r = moat_err_set(err, -EIO, "box preparation failed: %.*s", (int)len, payload);
    } else if (type != WIRE_READY) {
        r = moat_err_set(err, -EPROTO, "unexpected message %u from box init", (unsigned)type);
    } else {
        box->ready = true;
    }
    free(payload);
    return r;
}

int sbx_box_new(struct sbx_ctx *ctx, struct sbx_box **out, struct moat_err *err)
{
    struct sbx_box *box = calloc(1, sizeof(*box));
    if (!box)
        return -ENOMEM;
    box->pidfd = -1;
    int r = box_spawn(ctx, -1, false, NULL, &box->host, err);
    if (r < 0) {
        free(box);
        return r;
    }
    box->ctl = box->host.ctl;
    box->uid = box->host.uid;
    box->init_pid = box->host.init_pid;
    box->owns_host = true;
    r = box_wait_ready(box, err);
    if (r < 0) {
        sbx_box_free(box);
        return r;
    }
    *out = box;
    return 0;
}

int sbx_box_run(struct sbx_box *box, const struct sbx_step *step, struct sbx_result *res,
                struct moat_err *err)
{
    res->verdict = SBX_VERDICT_INTERNAL_ERROR;
    if (box->broken)
        return moat_err_set(err, -EIO, "box is broken");
    int r = box->ready ? 0 : box_wait_ready(box, err);
    if (r < 0)
        goto broken;
    struct buf b;
    buf_init(&b, WIRE_MAX_PAYLOAD);
    r = wire_put_step(&b, step);
    if (r == 0)
        r = wire_send(box->ctl, WIRE_STEP, b.data, b.len);
    buf_release(&b);
    if (r < 0) {
        moat_err_set(err, r, "send step to box: %s", strerror(-r));
        goto broken;
    }
    enum wire_type type;
    char *payload = NULL;
    size_t len = 0;
    r = wire_recv(box->ctl, &type, &payload, &len);
    if (r < 0) {
        moat_err_set(err, r, "box init died during the step");
        goto broken;
    }
    if (type != WIRE_RESULT) {
        r = moat_err_set(err, -EPROTO, "box failed: %.*s", (int)len, payload);
        free(payload);
        goto broken;
    }
    struct wire_reader rd = {.p = payload, .left = len};
    r = wire_get_result(&rd, res);
    free(payload);
    if (r == 0)
        r = collect_check(step, res);
    if (r < 0) {
        moat_err_set(err, r, "malformed result from box");
        goto broken;
    }
    if (res->verdict == SBX_VERDICT_INTERNAL_ERROR)
        moat_err_set(err, -EIO, "%s", res->message);
    return 0;
broken:
    box->broken = true;
    res->verdict = SBX_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(res->message, err ? err->msg : "box failed", sizeof(res->message));
    return r;
}

void sbx_box_cancel(struct sbx_box *box)
{
    /* Box init reads SIGUSR1 as "end the running step". The pidfd cannot
     * reach a recycled pid. */
    if (box->pidfd >= 0)
        (void)syscall(SYS_pidfd_send_signal, box->pidfd, SIGUSR1, NULL, 0);
    else if (box->init_pid > 0)
        (void)kill(box->init_pid, SIGUSR1);
}

uint32_t sbx_box_uid(const struct sbx_box *box)
{
    return box->uid;
}

pid_t sbx_box_init_pid(const struct sbx_box *box)
{
    return box->init_pid;
}

int sbx_box_wait_ready(struct sbx_box *box, struct moat_err *err)
{
    return box->ready ? 0 : box_wait_ready(box, err);
}

void sbx_box_free(struct sbx_box *box)
{
    if (!box)
        return;
    if (box->owns_host) {
        box_host_destroy(&box->host);
    } else {
        /* A pool box: closing the socket ends box init; the spawner reaps
         * it and removes its cgroup and lease. */
        if (box->ctl >= 0)
            (void)close(box->ctl);
        if (box->pidfd >= 0)
            (void)close(box->pidfd);
        if (box->pool)
            box_pool_released(box->pool, box->init_pid);
    }
    free(box);
}
