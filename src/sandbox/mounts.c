/*
 * The box's filesystem, built by box init (host root, in its own mount
 * namespace) under run_dir/root and then made its root with pivot_root:
 *
 *   /            tmpfs, read-only once built
 *   /usr         the host's, bound read-only, nosuid, nodev
 *   /bin /lib …  the host's symlinks into /usr (merged /usr), or ro binds
 *   /etc         a few host files bound read-only, passwd/group/hosts made here
 *   /dev         null zero full random urandom (read-only binds), fd/std* links,
 *                /dev/shm tmpfs
 *   /proc        fresh, of the box's pid namespace, hidepid; every top-level
 *                entry not on an allowlist masked, /proc/sys read-only with
 *                host facts and host-wide counters masked
 *   /box /tmp    writable tmpfs with size and inode limits (cwd is /box)
 *   /moat/cache  the cache dir (precompiled headers), read-only, when configured
 *
 * Nothing else of the host is reachable: no /home, /root, /var, /run, /sys.
 *
 * Every inode a box shares with the host or with other boxes (the host's
 * files, its device nodes, the /dev/null that masks /proc files) sits on a
 * read-only mount: its times, mode and attributes cannot change, so no job
 * can leave a mark there for a later one to read, and atime never moves.
 *
 * With a template (the pool): everything but /proc's contents, /box, /tmp
 * and /dev/shm is built once, by a forked helper, as the only tree of a
 * mount namespace (the template); box init enters a private copy of it and
 * mounts the rest. The boxes then share the template's tmpfs inodes too
 * (the root with /etc's made files, /dev with its links), so /dev is
 * read-only like the rest. Without (a cold box): box init builds it all
 * under run_dir/root and pivots into it.
 */
#include "box-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Host paths mirrored at the same place: a symlink is copied as a symlink,
 * a directory or file is bound read-only. Missing ones are skipped. */
static const char *const host_paths[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    /* what runtimes read under /etc */
    "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/localtime", "/etc/timezone", "/etc/nsswitch.conf", "/etc/java-17-openjdk",
    "/etc/php", "/etc/perl", "/etc/python3", "/etc/python3.11", "/etc/ssl/certs",
    "/etc/mime.types", "/etc/protocols", "/etc/services",
};

/* Made in the box, never taken from the host (no host user or host name leaks). */
static const struct {
    const char *path;
    const char *text;
} made_files[] = {
    {"/etc/passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                    "box:x:1000:1000:box:/box:/bin/sh\n"
                    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
    {"/etc/group", "root:x:0:\nbox:x:1000:\nnogroup:x:65534:\n"},
    {"/etc/hosts", "127.0.0.1 localhost box\n::1 localhost ip6-localhost\n"},
    {"/etc/hostname", "box\n"},
    {"/etc/resolv.conf", ""},
};

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom"};

/*
 * /proc: the top-level entries a box keeps. Everything else the kernel
 * shows there (kallsyms, cmdline, cgroups, interrupts, keys, timer_list,
 * bus/, fs/, pressure/, whatever a newer kernel or a platform adds) is
 * masked when the box is built: the list fails closed. The pid directories
 * are the box's own (its pid namespace, hidepid). cpuinfo, meminfo, stat,
 * uptime and loadavg are read by runtimes (the JVM, Node's os.cpus(), ps)
 * and say what sysinfo(2) and cpuid say anyway; uptime and boot time are
 * the box's own (its time namespace).
 */
static const char *const proc_kept[] = {
    "self", "thread-self", "cpuinfo", "meminfo", "stat", "uptime", "loadavg", "version",
    "mounts", "net", "sys", "sysvipc", "filesystems",
};

/* /proc/sys stays (read-only: runtimes read vm/overcommit_memory,
 * kernel/ngroups_max, net/core/somaxconn, ...) but for what identifies the
 * host or counts what every box on it does. */
static const char *const proc_sys_masked_files[] = {
    "kernel/random/boot_id", "kernel/random/entropy_avail", "kernel/tainted", "kernel/cad_pid",
    "fs/file-nr", "fs/inode-nr", "fs/inode-state", "fs/dentry-state", "fs/dentry-negative",
    "fs/aio-nr",
};
static const char *const proc_sys_masked_dirs[] = {"dev", "debug", "fs/quota", "fs/binfmt_misc"};

struct builder {
    const struct sbx_ctx *ctx;
    char root[300];
    struct moat_err *err;
};

static int fail(struct builder *b, const char *what, const char *path)
{
    int e = -errno;
    return moat_err_set(b->err, e ? e : -EIO, "%s %s: %s", what, path, strerror(e ? -e : EIO));
}

static void at_root(const struct builder *b, const char *path, char *out, size_t outsz)
{
    (void)snprintf(out, outsz, "%s%s", b->root, path);
}

static int make_dir(struct builder *b, const char *path, mode_t mode)
{
    char p[600];
    at_root(b, path, p, sizeof(p));
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return fail(b, "mkdir", p);
    return 0;
}

static int make_parents(struct builder *b, const char *path)
{
    char tmp[300];
    moat_strlcpy(tmp, path, sizeof(tmp));
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = make_dir(b, tmp, 0755);
        *p = '/';
        if (r < 0)
            return r;
    }
    return 0;
}

static int write_text(struct builder *b, const char *path, const char *text, mode_t mode)
{
    char p[600];
    at_root(b, path, p, sizeof(p));
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return fail(b, "create", p);
    int r = write_full(fd, text, strlen(text));
    (void)close(fd);
    return r < 0 ? moat_err_set(b->err, r, "write %s", p) : 0;
}

/* Read-only for a bind: mount_setattr covers submounts in one call (5.12+);
 * older kernels get the classic remount of the bind. */
static int make_readonly(struct builder *b, const char *target, unsigned long extra)
{
    struct mount_attr ma = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (extra & MS_NOEXEC)
        ma.attr_set |= MOUNT_ATTR_NOEXEC;
    if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &ma, sizeof(ma)) == 0)
        return 0;
    if (mount(NULL, target, NULL,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | extra, NULL) < 0)
        return fail(b, "remount read-only", target);
    return 0;
}

static int bind_ro(struct builder *b, const char *src, const char *path, bool dir)
{
    char p[600];
    at_root(b, path, p, sizeof(p));
    int r = make_parents(b, path);
    if (r < 0)
        return r;
    if (dir) {
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return fail(b, "mkdir", p);
    } else {
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            return fail(b, "create", p);
        (void)close(fd);
    }
    if (mount(src, p, NULL, MS_BIND | MS_REC, NULL) < 0)
        return fail(b, "bind", src);
    return make_readonly(b, p, 0);
}

static int mirror_host(struct builder *b, const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0; /* not on this host */
    if (S_ISLNK(st.st_mode)) {
        char target[300];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
            return fail(b, "readlink", path);
        target[n] = '\0';
        char p[600];
        at_root(b, path, p, sizeof(p));
        int r = make_parents(b, path);
        if (r < 0)
            return r;
        if (symlink(target, p) < 0 && errno != EEXIST)
            return fail(b, "symlink", p);
        return 0;
    }
    return bind_ro(b, path, path, S_ISDIR(st.st_mode));
}

static int mount_tmpfs(struct builder *b, const char *path, uint64_t bytes, const char *mode,
                       uint32_t uid)
{
    char p[600], opts[160];
    at_root(b, path, p, sizeof(p));
    int r = make_dir(b, path, 0755);
    if (r < 0)
        return r;
    /* nr_inodes bounds what `touch` of a million files can cost. */
    if (uid)
        (void)snprintf(opts, sizeof(opts), "size=%llu,nr_inodes=16384,mode=%s,uid=%u,gid=%u",
                       (unsigned long long)bytes, mode, uid, uid);
    else
        (void)snprintf(opts, sizeof(opts), "size=%llu,nr_inodes=16384,mode=%s",
                       (unsigned long long)bytes, mode);
    if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return fail(b, "mount tmpfs", p);
    return 0;
}

static int build_dev(struct builder *b)
{
    char p[600];
    int r = make_dir(b, "/dev", 0755);
    if (r < 0)
        return r;
    at_root(b, "/dev", p, sizeof(p));
    if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755") < 0)
        return fail(b, "mount tmpfs", p);
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(dev_nodes); i++) {
        char host[64], box[64];
        (void)snprintf(host, sizeof(host), "/dev/%s", dev_nodes[i]);
        (void)snprintf(box, sizeof(box), "/dev/%s", dev_nodes[i]);
        at_root(b, box, p, sizeof(p));
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0)
            return fail(b, "create", p);
        (void)close(fd);
        if (mount(host, p, NULL, MS_BIND, NULL) < 0)
            return fail(b, "bind", host);
        /* Read-only: the node keeps its device semantics (reads and writes
         * reach the driver), but its inode, the host's, gets no new times,
         * mode or attributes from a box. Nothing on it may be exec'd or
         * setuid. */
        if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                  NULL) < 0)
            return fail(b, "remount", p);
    }
    /* the source of masks over /proc directories; read-only with the root */
    r = make_dir(b, "/dev/.empty", 0555);
    if (r < 0)
        return r;
    static const struct {
        const char *target, *path;
    } links[] = {{"/proc/self/fd", "/dev/fd"},
                 {"/proc/self/fd/0", "/dev/stdin"},
                 {"/proc/self/fd/1", "/dev/stdout"},
                 {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(links); i++) {
        at_root(b, links[i].path, p, sizeof(p));
        if (symlink(links[i].target, p) < 0)
            return fail(b, "symlink", p);
    }
    return make_dir(b, "/dev/shm", 0755); /* a mount point: the tmpfs is the box's own */
}

/* Hides dir/name (a file or a directory of the box's /proc) under a bind
 * of the box's /dev/null, read-only (a bind keeps the read-only flag of its
 * source), or of an empty directory no program may write. */
static int mask(struct builder *b, const char *dir, const char *name)
{
    char src[600], path[1024];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return moat_err_set(b->err, -ENAMETOOLONG, "mask %s/%s: name too long", dir, name);
    struct stat st;
    if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
        return 0; /* not on this kernel; a link points into the masked tree */
    at_root(b, S_ISDIR(st.st_mode) ? "/dev/.empty" : "/dev/null", src, sizeof(src));
    if (mount(src, path, NULL, MS_BIND, NULL) < 0)
        return fail(b, "mask", path);
    return 0;
}

static bool proc_entry_kept(const char *name)
{
    if (name[0] >= '0' && name[0] <= '9')
        return true; /* a pid of the box's namespace */
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(proc_kept); i++)
        if (strcmp(name, proc_kept[i]) == 0)
            return true;
    return false;
}

static int mask_proc_entries(struct builder *b, const char *proc)
{
    DIR *d = opendir(proc);
    if (!d)
        return fail(b, "open", proc);
    int r = 0;
    struct dirent *e;
    while (r == 0 && (errno = 0, e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            proc_entry_kept(e->d_name))
            continue;
        r = mask(b, proc, e->d_name);
    }
    if (r == 0 && errno != 0)
        r = fail(b, "read", proc);
    (void)closedir(d);
    return r;
}

static int mount_proc(struct builder *b)
{
    char p[600];
    int r = make_dir(b, "/proc", 0555);
    if (r < 0)
        return r;
    at_root(b, "/proc", p, sizeof(p));
    /* hidepid: the box's programs do not even see pid 1 (box init, root). */
    if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") < 0 &&
        mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
        return fail(b, "mount proc", p);
    return 0;
}

static int mask_proc(struct builder *b)
{
    char p[600], sys[600];
    at_root(b, "/proc", p, sizeof(p));
    int r = mask_proc_entries(b, p);
    if (r < 0)
        return r;
    at_root(b, "/proc/sys", sys, sizeof(sys));
    if (mount(sys, sys, NULL, MS_BIND | MS_REC, NULL) < 0)
        return fail(b, "bind", sys);
    r = make_readonly(b, sys, MS_NOEXEC);
    for (size_t i = 0; r == 0 && i < MOAT_ARRAY_SIZE(proc_sys_masked_files); i++)
        r = mask(b, sys, proc_sys_masked_files[i]);
    for (size_t i = 0; r == 0 && i < MOAT_ARRAY_SIZE(proc_sys_masked_dirs); i++)
        r = mask(b, sys, proc_sys_masked_dirs[i]);
    return r;
}

/* The part of the root every box of a context shares: the host's runtime,
 * /etc, the device nodes, the cache, and the mount points of the rest. */
static int build_shared(struct builder *b)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < MOAT_ARRAY_SIZE(host_paths); i++)
        r = mirror_host(b, host_paths[i]);
    if (r == 0)
        r = make_dir(b, "/etc", 0755);
    for (size_t i = 0; r == 0 && i < MOAT_ARRAY_SIZE(made_files); i++)
        r = write_text(b, made_files[i].path, made_files[i].text, 0644);
    if (r == 0)
        r = build_dev(b);
    if (r == 0 && b->ctx->cfg.cache_dir && access(b->ctx->cfg.cache_dir, F_OK) == 0)
        r = bind_ro(b, b->ctx->cfg.cache_dir, "/moat/cache", true);
    if (r == 0)
        r = make_dir(b, "/proc", 0555);
    if (r == 0)
        r = make_dir(b, "/box", 0755);
    if (r == 0)
        r = make_dir(b, "/tmp", 0755);
    if (r < 0)
        return r;
    /* /dev read-only too: with a template every box shares that tmpfs, and
     * a cold box keeps the same rule (/dev/shm is a mount of its own). */
    char dev[600];
    at_root(b, "/dev", dev, sizeof(dev));
    if (mount(NULL, dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) <
        0)
        return fail(b, "remount read-only", dev);
    return 0;
}

/* What is the box's own: the masks over its /proc (mounted already), its
 * writable tmpfs mounts. */
static int build_own(struct builder *b, uint32_t uid)
{
    int r = mask_proc(b);
    if (r == 0)
        r = mount_tmpfs(b, "/box", b->ctx->cfg.box_tmpfs_bytes, "0755", uid);
    if (r == 0)
        r = mount_tmpfs(b, "/tmp", b->ctx->cfg.tmp_tmpfs_bytes, "1777", 0);
    if (r == 0)
        r = mount_tmpfs(b, "/dev/shm", b->ctx->cfg.tmp_tmpfs_bytes, "1777", 0);
    return r;
}

/* Mounts a fresh tmpfs at b->root, in a mount namespace of the caller's
 * own that nothing propagates out of. */
static int start_root(struct builder *b)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(b, "make private", "/");
    if (mount("tmpfs", b->root, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=1m,nr_inodes=1024,mode=0755") < 0)
        return fail(b, "mount tmpfs", b->root);
    return 0;
}

/* Read-only root, then pivot_root(".", "."), which stacks the old root
 * under the new one; the detach drops every host mount from this
 * namespace. */
static int seal_and_pivot(struct builder *b)
{
    if (mount(NULL, b->root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
              NULL) < 0)
        return fail(b, "remount read-only", b->root);
    if (chdir(b->root) < 0)
        return fail(b, "chdir", b->root);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return fail(b, "pivot_root", b->root);
    if (umount2(".", MNT_DETACH) < 0)
        return fail(b, "detach old root", "/");
    return 0;
}

int mounts_build(const struct sbx_ctx *ctx, uint32_t uid, struct moat_err *err)
{
    struct builder b = {.ctx = ctx, .err = err};
    moat_strlcpy(b.root, ctx->root_dir, sizeof(b.root));
    int r = start_root(&b);
    if (r == 0)
        r = build_shared(&b);
    if (r == 0)
        r = mount_proc(&b);
    if (r == 0)
        r = build_own(&b, uid);
    if (r == 0)
        r = seal_and_pivot(&b);
    if (r == 0 && chdir("/box") < 0)
        r = fail(&b, "chdir", "/box");
    return r;
}

/* ---- the template ---- */

/* In the template's helper: the shared part alone, as the root of a mount
 * namespace that holds nothing else. */
static int template_build(const struct sbx_ctx *ctx, struct moat_err *err)
{
    struct builder b = {.ctx = ctx, .err = err};
    moat_strlcpy(b.root, ctx->root_dir, sizeof(b.root));
    if (unshare(CLONE_NEWNS) < 0)
        return fail(&b, "unshare", "mount namespace");
    int r = start_root(&b);
    if (r == 0)
        r = build_shared(&b);
    if (r < 0)
        return r;
    return seal_and_pivot(&b);
}

/* What each path the template binds is now; the cache dir comes last. */
static void template_look(const struct sbx_ctx *ctx, struct mounts_seen *seen)
{
    _Static_assert(MOAT_ARRAY_SIZE(host_paths) + 1 <= MOUNTS_SEEN_MAX, "seen[] too small");
    memset(seen, 0, sizeof(struct mounts_seen) * MOUNTS_SEEN_MAX);
    for (size_t i = 0; i <= MOAT_ARRAY_SIZE(host_paths); i++) {
        const char *path = i < MOAT_ARRAY_SIZE(host_paths) ? host_paths[i] : ctx->cfg.cache_dir;
        struct stat st;
        if (path && lstat(path, &st) == 0)
            seen[i] = (struct mounts_seen){.dev = st.st_dev, .ino = st.st_ino};
    }
}

struct template_report {
    int32_t r;
    struct moat_err err;
};

/* The helper: builds the template in a namespace of its own, reports, and
 * keeps the namespace alive until the host has opened it. */
static __attribute__((noreturn)) void template_helper(const struct sbx_ctx *ctx, int report_w,
                                                      int hold_r)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct template_report rep = {0};
    rep.r = template_build(ctx, &rep.err);
    (void)!write(report_w, &rep, sizeof(rep));
    char c;
    while (read(hold_r, &c, 1) < 0 && errno == EINTR)
        ;
    _exit(0);
}

int mounts_template_prepare(struct sbx_ctx *ctx, struct moat_err *err)
{
    if (!ctx->cfg.mount_template)
        return 0;
    struct mounts_seen now[MOUNTS_SEEN_MAX];
    template_look(ctx, now);
    if (ctx->tmpl.nsfd >= 0 && memcmp(now, ctx->tmpl.seen, sizeof(now)) == 0)
        return 0;
    mounts_template_release(&ctx->tmpl);
    int report[2], hold[2] = {-1, -1};
    if (pipe2(report, O_CLOEXEC) < 0)
        return moat_err_set(err, -errno, "pipe: %s", strerror(errno));
    if (pipe2(hold, O_CLOEXEC) < 0) {
        int r = moat_err_set(err, -errno, "pipe: %s", strerror(errno));
        (void)close(report[0]);
        (void)close(report[1]);
        return r;
    }
    pid_t pid = fork();
    if (pid == 0) {
        (void)close(report[0]);
        (void)close(hold[1]);
        template_helper(ctx, report[1], hold[0]);
    }
    (void)close(report[1]);
    (void)close(hold[0]);
    struct template_report rep = {.r = -EIO};
    int r;
    if (pid < 0) {
        r = moat_err_set(err, -errno, "fork template helper: %s", strerror(errno));
    } else if (read_full(report[0], &rep, sizeof(rep)) < 0) {
        r = moat_err_set(err, -EIO, "mount template helper died");
    } else if (rep.r < 0) {
        r = moat_err_set(err, rep.r, "mount template: %s", rep.err.msg);
    } else {
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
        ctx->tmpl.nsfd = open(path, O_RDONLY | O_CLOEXEC);
        r = ctx->tmpl.nsfd < 0 ? moat_err_set(err, -errno, "open %s: %s", path, strerror(errno))
                               : 0;
    }
    (void)close(report[0]);
    (void)close(hold[1]); /* the helper exits; the namespace lives on in nsfd */
    while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (r == 0)
        memcpy(ctx->tmpl.seen, now, sizeof(now));
    return r;
}

void mounts_template_release(struct mounts_template *t)
{
    if (t->nsfd >= 0)
        (void)close(t->nsfd);
    t->nsfd = -1;
}

int mounts_enter_template(const struct sbx_ctx *ctx, struct moat_err *err)
{
    /* setns puts root and cwd at the template's root; unshare then gives
     * this box a private copy (the template's mounts are private, so what
     * the box mounts stays in its copy). */
    int r = setns(ctx->tmpl.nsfd, CLONE_NEWNS) < 0 ? -errno : 0;
    (void)close(ctx->tmpl.nsfd);
    if (r == 0 && unshare(CLONE_NEWNS) < 0)
        r = -errno;
    if (r < 0)
        return moat_err_set(err, r, "enter mount template: %s", strerror(-r));
    /* The box's /proc now, unmasked: box init needs it before the program
     * process can be forked (its stdin's read-only reopen), and nothing of
     * the program runs before mounts_finish has masked it. */
    struct builder b = {.ctx = ctx, .err = err};
    return mount_proc(&b);
}

int mounts_finish(const struct sbx_ctx *ctx, uint32_t uid, struct moat_err *err)
{
    struct builder b = {.ctx = ctx, .err = err}; /* root "": we are in the box's root */
    int r = build_own(&b, uid);
    if (r == 0 && chdir("/box") < 0)
        r = fail(&b, "chdir", "/box");
    return r;
}
