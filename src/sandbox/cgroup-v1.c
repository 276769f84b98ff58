/*
 * cgroup v1: one hierarchy per mount (memory, pids, cpuacct, possibly
 * co-mounted with others such as "cpu,cpuacct"), a directory per group in
 * each. Also the per-pid kill loop, which v2 kernels before 5.14 (no
 * cgroup.kill) use as well.
 */
#include "cgroup-internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/pidfd.h>

#define KILL_CHUNK 32

const struct cg_files cg_v1_files = {
    .memory_limit = "memory.limit_in_bytes",
    .swap_limit = "memory.memsw.limit_in_bytes",
    .pids_limit = "pids.max",
    .cpu_usage = "cpuacct.usage",
    .cpu_usage_key = NULL,
    .cpu_units_per_us = 1000,
    .memory_peak = "memory.max_usage_in_bytes",
    .oom_file = "memory.oom_control",
    .oom_key = "oom_kill",
    .pids_current = "pids.current",
    .memory_current = "memory.usage_in_bytes",
};

/* ======================================================================
 * Finding the hierarchies
 * ====================================================================== */

struct v1_scan {
    const char *fs;
    bool found[CG__CTL_MAX];
    bool under[CG__CTL_MAX];
    char dev[CG__CTL_MAX][32];
    char path[CG__CTL_MAX][PATH_MAX];
};

static int v1_scan_cb(const struct cg_mount *m, void *arg)
{
    struct v1_scan *s = arg;
    if (strcmp(m->fstype, "cgroup") != 0)
        return 0;
    bool under = cg_path_under(m->path, s->fs);
    for (unsigned i = 0; i < CG__CTL_MAX; i++) {
        if (!cg_words_has(m->super, cg_ctl_names[i], ','))
            continue;
        /* the first mount under fs wins; elsewhere only when none is */
        if (s->found[i] && (s->under[i] || !under))
            continue;
        s->found[i] = true;
        s->under[i] = under;
        (void)moat_strlcpy(s->dev[i], m->dev, sizeof s->dev[i]);
        (void)moat_strlcpy(s->path[i], m->path, sizeof s->path[i]);
    }
    return 0;
}

int cg_v1_scan(const char *fs, const char *mountinfo, struct cg_v1_layout *out)
{
    _cleanup_free_ struct v1_scan *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->fs = fs;
    int r = cg_mountinfo_each(mountinfo, v1_scan_cb, s);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < CG__CTL_MAX; i++) {
        if (!s->found[i])
            return -EOPNOTSUPP;
        /* one superblock is one hierarchy, however many mounts show it */
        unsigned j = 0;
        while (j < i && strcmp(s->dev[j], s->dev[i]) != 0)
            j++;
        if (j < i) {
            out->ctl_hier[i] = out->ctl_hier[j];
            continue;
        }
        out->ctl_hier[i] = (uint8_t)out->nhier;
        (void)moat_strlcpy(out->path[out->nhier], s->path[i], sizeof out->path[0]);
        out->nhier++;
    }
    return 0;
}

static int v1_root_open(const struct cg_root_opts *o, struct cg_root *root, struct moat_err *err)
{
    struct cg_v1_layout layout, *l = &layout;
    int r = cg_v1_scan(o->fs, o->mountinfo, l);
    if (r == -EOPNOTSUPP)
        return moat_err_set(err, r, "no cgroup v1 mount of memory, pids and cpuacct in %s",
                            o->mountinfo);
    if (r < 0)
        return moat_err_set(err, r, "reading %s: %s", o->mountinfo, strerror(-r));
    root->c.nhier = l->nhier;
    memcpy(root->c.ctl_hier, l->ctl_hier, sizeof root->c.ctl_hier);
    (void)moat_strlcpy(root->under, o->under ? o->under : "", sizeof root->under);
    for (unsigned h = 0; h < l->nhier; h++) {
        _cleanup_close_ int mfd = open(l->path[h], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0)
            return moat_err_set(err, -errno, "opening cgroup mount %s: %s", l->path[h],
                                strerror(errno));
        /* a controller of this hierarchy names its line of /proc/self/cgroup */
        const char *ctl = NULL;
        for (unsigned k = 0; k < CG__CTL_MAX && !ctl; k++)
            if (l->ctl_hier[k] == h)
                ctl = cg_ctl_names[k];
        char under[PATH_MAX];
        r = cg_under_path(o, ctl, under, sizeof under);
        if (r < 0)
            return moat_err_set(err, r, "the group to make %s in (%s): %s", o->name,
                                o->under ? o->under : "", strerror(-r));
        _cleanup_close_ int base = cg_under_open(mfd, under);
        if (base < 0)
            return moat_err_set(err, base, "opening cgroup %s%s: %s", l->path[h], under,
                                strerror(-base));
        r = cg_mkdir_open(base, o->name, false, &root->parent_fd[h]);
        if (r < 0)
            return moat_err_set(err, r, "creating cgroup %s%s/%s: %s", l->path[h], under,
                                o->name, strerror(-r));
        if (h == l->ctl_hier[CG_CTL_MEMORY])
            root->c.swap = cg_io_exists(root->parent_fd[h], cg_v1_files.swap_limit) ||
                           cg_io_exists(mfd, cg_v1_files.swap_limit);
    }
    return 0;
}

/* ======================================================================
 * Limits and stats
 * ====================================================================== */

static int v1_set_limits(struct cg_group *g, uint64_t memory_bytes, uint32_t max_procs)
{
    const struct cg_common *c = &g->c;
    int mfd = cg_group_fd(g, CG_CTL_MEMORY), pfd = cg_group_fd(g, CG_CTL_PIDS);
    if (mfd < 0 || pfd < 0)
        return -ENOENT;
    char mem[24];
    if (memory_bytes)
        (void)snprintf(mem, sizeof mem, "%" PRIu64, memory_bytes);
    else
        (void)moat_strlcpy(mem, "-1", sizeof mem);
    int r;
    if (!c->swap) {
        r = cg_io_write(c, mfd, cg_v1_files.memory_limit, mem);
    } else {
        /* The kernel keeps memsw >= limit and refuses any write that would
         * break it: raising sets memsw first, lowering sets limit first. */
        uint64_t cur = UINT64_MAX;
        (void)cg_io_read_u64(c, mfd, cg_v1_files.memory_limit, NULL, &cur);
        uint64_t want = memory_bytes ? memory_bytes : UINT64_MAX;
        bool raising = want >= cur;
        const char *first = raising ? cg_v1_files.swap_limit : cg_v1_files.memory_limit;
        const char *second = raising ? cg_v1_files.memory_limit : cg_v1_files.swap_limit;
        r = cg_io_write(c, mfd, first, mem);
        if (r >= 0)
            r = cg_io_write(c, mfd, second, mem);
    }
    if (r < 0)
        return r;
    if (max_procs)
        return cg_io_write_u64(c, pfd, cg_v1_files.pids_limit, max_procs);
    return cg_io_write(c, pfd, cg_v1_files.pids_limit, "max");
}

struct oom_sum {
    const struct cg_common *c;
    uint64_t total;
};

static int oom_sum_cb(int dirfd, void *arg)
{
    struct oom_sum *s = arg;
    uint64_t v = 0;
    int r = cg_io_read_u64(s->c, dirfd, cg_v1_files.oom_file, cg_v1_files.oom_key, &v);
    if (r == -ENOENT) /* before 4.13 the line is missing; the group may be gone */
        return 0;
    if (r < 0)
        return r;
    s->total += v;
    return 0;
}

static int v1_read_memory(struct cg_group *g, struct cg_stats *st)
{
    int mfd = cg_group_fd(g, CG_CTL_MEMORY);
    if (mfd < 0)
        return -ENOENT;
    int r = cg_io_read_u64(&g->c, mfd, cg_v1_files.memory_peak, NULL, &st->memory_peak);
    if (r < 0)
        return r;
    /* v1 counts OOM kills per group only: add those of the step groups */
    struct oom_sum s = {&g->c, 0};
    r = cg_tree_each(mfd, oom_sum_cb, &s);
    if (r < 0)
        return r;
    st->oom_kills = s.total;
    return 0;
}

/* ======================================================================
 * Killing
 * ====================================================================== */

struct kill_chunk {
    size_t skip;  /* pids of the list already handled this round */
    size_t total; /* pids listed */
    size_t n;
    pid_t pids[KILL_CHUNK];
    bool listed[KILL_CHUNK];
};

static int chunk_collect_cb(pid_t pid, void *arg)
{
    struct kill_chunk *k = arg;
    if (k->total++ >= k->skip && k->n < KILL_CHUNK)
        k->pids[k->n++] = pid;
    return 0;
}

static int chunk_mark_cb(pid_t pid, void *arg)
{
    struct kill_chunk *k = arg;
    for (size_t i = 0; i < k->n; i++)
        if (k->pids[i] == pid)
            k->listed[i] = true;
    return 0;
}

/* A pid read from cgroup.procs may exit and be reused by an unrelated host
 * process before we signal it. A pidfd pins the process it names; the
 * group's list read again after that proves each pinned process is still
 * the member, so only members are ever killed. */
static void chunk_kill(struct kill_chunk *k, int dirfd)
{
    pid_t self = getpid();
    size_t n = k->n;
    int pfd[KILL_CHUNK];
    bool no_pidfd = false;
    for (size_t i = 0; i < n; i++) {
        pfd[i] = -1;
        if (k->pids[i] == self)
            continue; /* a caller inside the group would kill itself */
        pfd[i] = pidfd_open(k->pids[i], 0);
        if (pfd[i] < 0 && errno == ENOSYS)
            no_pidfd = true; /* before 5.3: plain kill, the race stays */
    }
    if (cg_procs_each(dirfd, chunk_mark_cb, k) < 0)
        memset(k->listed, 0, sizeof k->listed);
    for (size_t i = 0; i < n; i++) {
        if (no_pidfd && k->pids[i] != self)
            (void)kill(k->pids[i], SIGKILL);
        else if (pfd[i] >= 0 && k->listed[i])
            (void)pidfd_send_signal(pfd[i], SIGKILL, NULL, 0);
        if (pfd[i] >= 0)
            (void)close(pfd[i]);
    }
}

static int kill_dir_cb(int dirfd, void *arg)
{
    size_t *seen = arg;
    for (size_t skip = 0;; skip += KILL_CHUNK) {
        struct kill_chunk k = {.skip = skip};
        int r = cg_procs_each(dirfd, chunk_collect_cb, &k);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        if (skip == 0)
            *seen += k.total;
        if (k.n == 0)
            return 0;
        chunk_kill(&k, dirfd);
        if (k.total <= skip + KILL_CHUNK)
            return 0;
    }
}

int cg_v1_kill_loop(struct cg_group *g)
{
    if (g->c.fake)
        return 0; /* fake pids name no process of ours */
    for (unsigned round = 0; round < CG_KILL_ROUNDS; round++) {
        size_t seen = 0;
        for (unsigned h = 0; h < g->c.nhier; h++) {
            if (g->fd[h] < 0)
                continue;
            int r = cg_tree_each(g->fd[h], kill_dir_cb, &seen);
            if (r < 0)
                return r;
        }
        if (seen == 0)
            return 0;
        cg_backoff(round);
    }
    return -EBUSY;
}

static int v1_count_procs(struct cg_group *g)
{
    size_t most = 0;
    for (unsigned h = 0; h < g->c.nhier; h++) {
        size_t n = 0;
        if (g->fd[h] < 0)
            continue;
        int r = cg_count_tree(g->fd[h], &n);
        if (r < 0)
            return r;
        if (n > most)
            most = n;
    }
    return most > INT_MAX ? INT_MAX : (int)most;
}

static int v1_peak_reset(struct cg_group *g)
{
    int fd = cg_group_fd(g, CG_CTL_MEMORY);
    if (fd < 0)
        return -ENOENT;
    /* any write sets the maximum to the current usage (the memsw one is
     * never read: a step has no swap) */
    return cg_io_write(&g->c, fd, cg_v1_files.memory_peak, "0");
}

static int v1_reclaim(struct cg_group *g)
{
    int fd = cg_group_fd(g, CG_CTL_MEMORY);
    if (fd < 0)
        return -ENOENT;
    /* reclaims everything it can from a group without processes */
    return cg_io_write(&g->c, fd, "memory.force_empty", "0");
}

const struct cg_backend cg_v1_backend = {
    .version = 1,
    .files = &cg_v1_files,
    .root_open = v1_root_open,
    .prepare_parent = NULL,
    .set_limits = v1_set_limits,
    .read_memory = v1_read_memory,
    .sample = NULL,
    .kill_all = cg_v1_kill_loop,
    .count_procs = v1_count_procs,
    .peak_reset = v1_peak_reset,
    .reclaim = v1_reclaim,
    .clear_parent = NULL,
};
