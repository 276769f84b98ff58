/*
 * cgroup v2: one unified tree. The parent group <mount>/<name> enables
 * memory, pids and cpu for its children (the boxes); a box enables them for
 * its own children (the steps) before the first is made. By the
 * no-internal-process rule a box group never holds a process itself: only
 * its step groups do.
 */
#include "cgroup-internal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>

const struct cg_files cg_v2_files = {
    .memory_limit = "memory.max",
    .swap_limit = "memory.swap.max",
    .pids_limit = "pids.max",
    .cpu_usage = "cpu.stat",
    .cpu_usage_key = "usage_usec",
    .cpu_units_per_us = 1,
    .memory_peak = "memory.peak",
    .oom_file = "memory.events",
    .oom_key = "oom_kill",
    .pids_current = "pids.current",
    .memory_current = "memory.current",
};

/* ======================================================================
 * Finding the mount, enabling controllers
 * ====================================================================== */

struct v2_find {
    const char *fs;
    char *out;
    size_t size;
    bool found;
    bool under;
};

static int v2_find_cb(const struct cg_mount *m, void *arg)
{
    struct v2_find *f = arg;
    if (strcmp(m->fstype, "cgroup2") != 0)
        return 0;
    bool under = cg_path_under(m->path, f->fs);
    if (f->found && (f->under || !under))
        return 0;
    if (moat_strlcpy(f->out, m->path, f->size) >= f->size)
        return 0;
    f->found = true;
    f->under = under;
    return 0;
}

int cg_v2_find_mount(const char *fs, const char *mountinfo, char *out, size_t size)
{
    struct statfs sf;
    if (statfs(fs, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
        return moat_strlcpy(out, fs, size) < size ? 0 : -ENAMETOOLONG;
    struct v2_find f = {fs, out, size, false, false};
    int r = cg_mountinfo_each(mountinfo, v2_find_cb, &f);
    if (r < 0)
        return r;
    return f.found ? 0 : -ENOENT;
}

int cg_v2_controllers(const struct cg_common *c, int mfd, bool *has_cpu)
{
    if (c->fake && !cg_io_exists(mfd, "cgroup.controllers")) {
        *has_cpu = true;
        return 0;
    }
    char buf[512];
    ssize_t n = cg_io_read(c, mfd, "cgroup.controllers", buf, sizeof buf);
    if (n < 0)
        return (int)n;
    if (!cg_words_has(buf, "memory", ' ') || !cg_words_has(buf, "pids", ' '))
        return -EOPNOTSUPP;
    *has_cpu = cg_words_has(buf, "cpu", ' ');
    return 0;
}

/* Writes to dirfd's subtree_control the controllers of want it lacks. */
static int enable_missing(const struct cg_common *c, int dirfd, const char *want)
{
    static const char *const ctls[] = {"memory", "pids", "cpu"};
    char cur[512];
    ssize_t n = cg_io_read(c, dirfd, "cgroup.subtree_control", cur, sizeof cur);
    if (n < 0)
        return (int)n;
    char add[64] = "";
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(ctls); i++) {
        if (!cg_words_has(want, ctls[i], ' ') || cg_words_has(cur, ctls[i], ' '))
            continue;
        size_t len = strlen(add);
        (void)snprintf(add + len, sizeof add - len, "%s+%s", len ? " " : "", ctls[i]);
    }
    return add[0] ? cg_io_write(c, dirfd, "cgroup.subtree_control", add) : 0;
}

static int v2_root_open(const struct cg_root_opts *o, struct cg_root *root, struct moat_err *err)
{
    struct cg_common *c = &root->c;
    char mnt[PATH_MAX];
    int r = cg_v2_find_mount(o->fs, o->mountinfo, mnt, sizeof mnt);
    if (r == -ENOENT && c->fake)
        r = moat_strlcpy(mnt, o->fs, sizeof mnt) < sizeof mnt ? 0 : -ENAMETOOLONG;
    if (r < 0)
        return moat_err_set(err, r, "finding the cgroup2 mount under %s: %s", o->fs, strerror(-r));
    _cleanup_close_ int mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mfd < 0)
        return moat_err_set(err, -errno, "opening cgroup mount %s: %s", mnt, strerror(errno));
    char under[PATH_MAX];
    r = cg_under_path(o, NULL, under, sizeof under);
    if (r < 0)
        return moat_err_set(err, r, "the group to make %s in (%s): %s", o->name,
                            o->under ? o->under : "", strerror(-r));
    if (moat_strlcpy(root->under, under, sizeof root->under) >= sizeof root->under)
        return moat_err_set(err, -ENAMETOOLONG, "cgroup %s is too deep", under);
    _cleanup_close_ int base = cg_under_open(mfd, under);
    if (base < 0)
        return moat_err_set(err, base, "opening cgroup %s%s: %s", mnt, under, strerror(-base));
    bool cpu = false;
    r = cg_v2_controllers(c, base, &cpu);
    if (r < 0)
        return moat_err_set(err, r, "cgroup2 at %s%s lacks memory or pids controllers", mnt,
                            under);
    /* cpu.stat usage_usec exists without the cpu controller: optional */
    (void)moat_strlcpy(c->subtree, cpu ? "+memory +pids +cpu" : "+memory +pids", sizeof c->subtree);
    c->nhier = 1;
    memset(c->ctl_hier, 0, sizeof c->ctl_hier);

    /* moat's own group, delegated: its processes move to a leaf so that
     * it may enable controllers for the boxes' parent */
    bool own = o->under && strcmp(o->under, "self") == 0 && strcmp(under, "/") != 0;
    if (own && (r = cg_v2_leave_for_leaf(c, base)) < 0)
        return moat_err_set(err, r, "moving moat's processes out of %s%s: %s", mnt, under,
                            strerror(-r));
    r = enable_missing(c, base, c->subtree);
    if (r < 0)
        return moat_err_set(err, r, "enabling controllers in %s%s: %s", mnt, under,
                            strerror(-r));
    r = cg_mkdir_open(base, o->name, false, &root->parent_fd[0]);
    if (r < 0)
        return moat_err_set(err, r, "creating cgroup %s%s/%s: %s", mnt, under, o->name,
                            strerror(-r));
    r = cg_io_write(c, root->parent_fd[0], "cgroup.subtree_control", c->subtree);
    if (r < 0)
        return moat_err_set(err, r, "enabling controllers in %s/%s: %s", mnt, o->name,
                            strerror(-r));
    /* The root group never shows memory.swap.max, the parent does when swap
     * is accounted; a fake tree plants it at its mount root. */
    c->swap = cg_io_exists(root->parent_fd[0], cg_v2_files.swap_limit) ||
              cg_io_exists(mfd, cg_v2_files.swap_limit);
    return 0;
}

static int v2_prepare_parent(struct cg_group *g)
{
    if (g->fd[0] < 0)
        return -ENOENT;
    /* a no-op for the kernel once enabled; -EBUSY if g holds a process */
    return cg_io_write(&g->c, g->fd[0], "cgroup.subtree_control", g->c.subtree);
}

/* ======================================================================
 * Limits and stats
 * ====================================================================== */

static int v2_set_limits(struct cg_group *g, uint64_t memory_bytes, uint32_t max_procs)
{
    const struct cg_common *c = &g->c;
    int fd = g->fd[0];
    if (fd < 0)
        return -ENOENT;
    int r = memory_bytes ? cg_io_write_u64(c, fd, cg_v2_files.memory_limit, memory_bytes)
                         : cg_io_write(c, fd, cg_v2_files.memory_limit, "max");
    if (r >= 0 && c->swap)
        r = cg_io_write(c, fd, cg_v2_files.swap_limit, "0");
    if (r >= 0) {
        /* an OOM kill takes the whole step, not one victim chosen by size */
        r = cg_io_write(c, fd, "memory.oom.group", "1");
        if (r == -ENOENT) /* before 4.19 */
            r = 0;
    }
    if (r < 0)
        return r;
    return max_procs ? cg_io_write_u64(c, fd, cg_v2_files.pids_limit, max_procs)
                     : cg_io_write(c, fd, cg_v2_files.pids_limit, "max");
}

/* Before 5.19 there is no memory.peak: memory.current is sampled on each
 * cg_read_cpu_us poll and the highest value reported, which misses spikes
 * between polls. */
static void v2_sample(struct cg_group *g)
{
    if (g->peak == CG_PEAK_UNKNOWN) {
        g->peak = g->c.fake || cg_io_exists(g->fd[0], cg_v2_files.memory_peak) ? CG_PEAK_FILE
                                                                               : CG_PEAK_SAMPLED;
        if (g->peak == CG_PEAK_SAMPLED)
            g->mem_fd = openat(g->fd[0], "memory.current", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (g->peak != CG_PEAK_SAMPLED || g->mem_fd < 0)
        return;
    char buf[32];
    ssize_t n = pread(g->mem_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    uint64_t v;
    if (cg_parse_u64(buf, &v) == 0 && v > g->mem_sampled)
        g->mem_sampled = v;
}

static int v2_read_memory(struct cg_group *g, struct cg_stats *st)
{
    const struct cg_common *c = &g->c;
    int fd = g->fd[0];
    if (fd < 0)
        return -ENOENT;
    int r;
    if (g->peak_fd >= 0) {
        /* the fd a reset went through: its reads give the peak since */
        char buf[32];
        ssize_t n = pread(g->peak_fd, buf, sizeof buf - 1, 0);
        if (n < 0)
            return -errno;
        buf[n] = '\0';
        r = n == 0 && c->fake ? (st->memory_peak = 0, 0) : cg_parse_u64(buf, &st->memory_peak);
    } else {
        r = cg_io_read_u64(c, fd, cg_v2_files.memory_peak, NULL, &st->memory_peak);
    }
    if (r == -ENOENT) {
        uint64_t cur = 0;
        r = cg_io_read_u64(c, fd, "memory.current", NULL, &cur);
        st->memory_peak = cur > g->mem_sampled ? cur : g->mem_sampled;
    }
    if (r < 0)
        return r;
    /* memory.events counts the whole subtree */
    r = cg_io_read_u64(c, fd, cg_v2_files.oom_file, cg_v2_files.oom_key, &st->oom_kills);
    if (r == -ENOENT) {
        st->oom_kills = 0;
        r = 0;
    }
    return r;
}

/* ======================================================================
 * Killing
 * ====================================================================== */

/* 1 when a live process remains in g or below, 0 when not, -errno. */
static int v2_populated(const struct cg_group *g)
{
    uint64_t v = 0;
    int r = cg_io_read_u64(&g->c, g->fd[0], "cgroup.events", "populated", &v);
    if (r == -ENOENT)
        return 0; /* the group is gone (or a fake without the file) */
    if (r < 0)
        return r;
    return v ? 1 : 0;
}

static int v2_kill_all(struct cg_group *g)
{
    if (g->fd[0] < 0)
        return 0;
    for (unsigned round = 0; round < CG_KILL_ROUNDS; round++) {
        /* recursive, and it catches forks that race with it (5.14+) */
        int r = cg_io_write(&g->c, g->fd[0], "cgroup.kill", "1");
        if (r == -ENOENT)
            return cg_v1_kill_loop(g);
        if (r < 0)
            return r;
        r = v2_populated(g);
        if (r <= 0)
            return r;
        cg_backoff(round);
    }
    return -EBUSY;
}

static int v2_count_procs(struct cg_group *g)
{
    if (g->fd[0] < 0)
        return 0;
    int r = v2_populated(g);
    if (r <= 0 && !g->c.fake)
        return r;
    size_t n = 0;
    r = cg_count_tree(g->fd[0], &n);
    if (r < 0)
        return r;
    if (n == 0 && !g->c.fake)
        n = 1; /* populated, yet nobody we can see: another pid namespace */
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* 6.12+: a write to memory.peak resets the peak seen through that fd. */
static int v2_peak_reset(struct cg_group *g)
{
    if (g->fd[0] < 0)
        return -ENOENT;
    if (g->peak_fd >= 0)
        (void)close(g->peak_fd);
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (g->c.fake ? O_CREAT : 0);
    g->peak_fd = openat(g->fd[0], cg_v2_files.memory_peak, flags, 0644);
    if (g->peak_fd < 0) /* read-only (before 6.12) or absent (before 5.19) */
        return errno == ENOENT || errno == EACCES || errno == EPERM ? -EOPNOTSUPP : -errno;
    ssize_t n;
    do
        n = pwrite(g->peak_fd, "reset\n", 6, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int e = errno;
        (void)close(g->peak_fd);
        g->peak_fd = -1;
        return e == EINVAL || e == EACCES ? -EOPNOTSUPP : -e;
    }
    if (g->c.fake && ftruncate(g->peak_fd, 0) < 0) /* a fake peak starts at 0 */
        return -errno;
    return 0;
}

static int v2_reclaim(struct cg_group *g)
{
    uint64_t cur = 0;
    int r = cg_io_read_u64(&g->c, g->fd[0], cg_v2_files.memory_current, NULL, &cur);
    if (r < 0 || cur == 0)
        return r;
    /* 5.19+; EAGAIN when it could not reclaim all, which the caller's
     * reading of memory.current then tells */
    r = cg_io_write_u64(&g->c, g->fd[0], "memory.reclaim", cur);
    return r == -EAGAIN || r == -ENOENT ? 0 : r;
}

/* A group that held step groups had controllers enabled for them; a process
 * may not join it directly again until they are off (no internal process). */
static int v2_clear_parent(struct cg_group *g)
{
    if (g->fd[0] < 0)
        return -ENOENT;
    char cur[512];
    ssize_t n = cg_io_read(&g->c, g->fd[0], "cgroup.subtree_control", cur, sizeof cur);
    if (n < 0)
        return n == -ENOENT && g->c.fake ? 0 : (int)n;
    bool any = false;
    for (const char *p = cur; *p; p++)
        any = any || (*p != ' ' && *p != '\n');
    if (!any)
        return 0;
    char off[sizeof g->c.subtree];
    (void)moat_strlcpy(off, g->c.subtree, sizeof off);
    for (char *p = off; *p; p++)
        if (*p == '+')
            *p = '-';
    int r = cg_io_write(&g->c, g->fd[0], "cgroup.subtree_control", off);
    /* fake files keep what is written: an empty list is what the kernel shows */
    return r >= 0 && g->c.fake ? cg_io_write(&g->c, g->fd[0], "cgroup.subtree_control", "") : r;
}

const struct cg_backend cg_v2_backend = {
    .version = 2,
    .files = &cg_v2_files,
    .root_open = v2_root_open,
    .prepare_parent = v2_prepare_parent,
    .set_limits = v2_set_limits,
    .read_memory = v2_read_memory,
    .sample = v2_sample,
    .kill_all = v2_kill_all,
    .count_procs = v2_count_procs,
    .peak_reset = v2_peak_reset,
    .reclaim = v2_reclaim,
    .clear_parent = v2_clear_parent,
};
