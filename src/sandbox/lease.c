/*
 * uid leases. Each box runs as a host uid of its own, taken by an exclusive
 * flock on run_dir/uid/<uid>. The kernel releases the lock when its holder
 * dies, so a free lease whose cgroup still exists is a leftover of a killed
 * moat: sweeping it cannot touch a box another live moat is using.
 */
#include "box-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

int lease_try(struct sbx_ctx *ctx, uint32_t uid)
{
    char path[400];
    (void)snprintf(path, sizeof(path), "%s/%u", ctx->lease_dir, uid);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = -errno;
        (void)close(fd);
        return e;
    }
    return fd;
}

/* The group of a box whose lease we hold: whatever is in it belongs to a dead
 * owner. cg_destroy kills the processes first. */
static void sweep_group(struct cg_root *root, uint32_t uid)
{
    char name[32];
    (void)snprintf(name, sizeof(name), "box-%u", uid);
    struct cg_group *g = NULL;
    if (cg_open(root, name, &g) == 0) {
        log_debug("msg=\"sweeping leftover cgroup\" group=%s", name);
        (void)cg_destroy(g);
    }
}

int lease_take(struct sbx_ctx *ctx, uint32_t *uid, struct moat_err *err)
{
    for (uint32_t i = 0; i < ctx->cfg.uid_count; i++) {
        uint32_t slot = (ctx->next_slot + i) % ctx->cfg.uid_count;
        uint32_t u = ctx->cfg.first_uid + slot;
        int fd = lease_try(ctx, u);
        if (fd == -EWOULDBLOCK)
            continue;
        if (fd < 0)
            return moat_err_set(err, fd, "lease uid %u in %s: %s", u, ctx->lease_dir,
                                strerror(-fd));
        sweep_group(ctx->cg, u);
        ctx->next_slot = (slot + 1) % ctx->cfg.uid_count;
        *uid = u;
        return fd;
    }
    return moat_err_set(err, -EAGAIN, "every box uid (%u from %u) is in use",
                        ctx->cfg.uid_count, ctx->cfg.first_uid);
}

struct sweep {
    struct sbx_ctx *ctx;
    unsigned found;
};

static void sweep_one(struct cg_root *root, const char *name, void *arg)
{
    struct sweep *sw = arg;
    struct sbx_ctx *ctx = sw->ctx;
    uint64_t u;
    if (!str_has_prefix(name, "box-") ||
        parse_u64(name + 4, ctx->cfg.first_uid,
                  (uint64_t)ctx->cfg.first_uid + ctx->cfg.uid_count - 1, &u) < 0)
        return;
    int fd = lease_try(ctx, (uint32_t)u);
    if (fd < 0)
        return; /* a live moat owns it */
    sweep_group(root, (uint32_t)u);
    sw->found++;
    (void)close(fd);
}

/* A process running as a box uid with a free lease is a leftover (its box
 * init died without taking it along, which PR_SET_PDEATHSIG should prevent:
 * this is the second line). */
static void sweep_processes(struct sbx_ctx *ctx)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t pid;
        if (parse_u64(e->d_name, 1, INT32_MAX, &pid) < 0)
            continue;
        /* The real uid from status: /proc/<pid> itself shows root as the
         * owner of a process that made itself non-dumpable. */
        char path[300], status[2048];
        (void)snprintf(path, sizeof(path), "%s/status", e->d_name);
        if (read_small_file_at(dirfd(d), path, status, sizeof(status)) <= 0)
            continue;
        const char *u = strstr(status, "\nUid:");
        unsigned long long uid;
        if (!u || sscanf(u + 5, "%llu", &uid) != 1 || uid < ctx->cfg.first_uid ||
            uid >= (uint64_t)ctx->cfg.first_uid + ctx->cfg.uid_count)
            continue;
        int fd = lease_try(ctx, (uint32_t)uid);
        if (fd < 0)
            continue;
        log_debug("msg=\"killing leftover process\" pid=%s uid=%u", e->d_name,
                  (unsigned)uid);
        (void)kill((pid_t)pid, SIGKILL);
        (void)close(fd);
    }
    (void)closedir(d);
}

void lease_sweep(struct sbx_ctx *ctx)
{
    /* A leftover group is the mark of a moat that was killed; only then is
     * the whole process table worth a look (several ms on a busy host). */
    struct sweep sw = {.ctx = ctx};
    (void)cg_for_each(ctx->cg, "box-", sweep_one, &sw);
    if (sw.found)
        sweep_processes(ctx);
}
