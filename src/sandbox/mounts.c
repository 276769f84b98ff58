/*
 * The box's filesystem, built by box init (host root, in its own mount
 * namespace) under run_dir/root and then made its root with pivot_root:
 *
 *   /            tmpfs, read-only once built
 *   /usr         the host's, bound read-only, nosuid, nodev
 *   /bin /lib …  the host's symlinks into /usr (merged /usr), or ro binds
 *   /etc         a few host files bound read-only, passwd/group/hosts made here
 *   /dev         null zero full random urandom, fd/std* links, /dev/shm tmpfs
 *   /proc        fresh, of the box's pid namespace, hidepid, sensitive parts masked
 *   /box /tmp    writable tmpfs with size and inode limits (cwd is /box)
 *   /moat/cache  the cache dir (precompiled headers), read-only, when configured
 *
 * Nothing else of the host is reachable: no /home, /root, /var, /run, /sys.
 */
#include "box-internal.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

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

/* /proc files and dirs hidden from the box (Docker's masked and read-only
 * paths): kernel memory, key material, timing side channels, writable knobs. */
static const char *const proc_masked_files[] = {
    "kcore", "keys", "key-users", "latency_stats", "timer_list", "timer_stats",
    "sched_debug", "kallsyms", "kmsg", "kpagecount", "kpageflags", "kpagecgroup",
    "sysrq-trigger", "config.gz", "vmallocinfo", "slabinfo", "pagetypeinfo",
    "locks", /* every lock of the host, with inode numbers */
};
static const char *const proc_masked_dirs[] = {"acpi", "asound", "scsi", "firmware", "driver"};
static const char *const proc_readonly[] = {"bus", "fs", "irq", "sys"};

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
        /* the node keeps its device semantics; nothing else may be exec'd or setuid */
        if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC, NULL) < 0)
            return fail(b, "remount", p);
    }
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
    return mount_tmpfs(b, "/dev/shm", b->ctx->cfg.tmp_tmpfs_bytes, "1777", 0);
}

static int build_proc(struct builder *b)
{
    char p[600], null[600];
    int r = make_dir(b, "/proc", 0555);
    if (r < 0)
        return r;
    at_root(b, "/proc", p, sizeof(p));
    /* hidepid: the box's programs do not even see pid 1 (box init, root). */
    if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") < 0 &&
        mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
        return fail(b, "mount proc", p);
    at_root(b, "/dev/null", null, sizeof(null));
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(proc_masked_files); i++) {
        (void)snprintf(p, sizeof(p), "%s/proc/%s", b->root, proc_masked_files[i]);
        if (access(p, F_OK) < 0)
            continue;
        if (mount(null, p, NULL, MS_BIND, NULL) < 0)
            return fail(b, "mask", p);
    }
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(proc_masked_dirs); i++) {
        (void)snprintf(p, sizeof(p), "%s/proc/%s", b->root, proc_masked_dirs[i]);
        if (access(p, F_OK) < 0)
            continue;
        if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,nr_inodes=1,mode=0555") < 0)
            return fail(b, "mask", p);
    }
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(proc_readonly); i++) {
        (void)snprintf(p, sizeof(p), "%s/proc/%s", b->root, proc_readonly[i]);
        if (access(p, F_OK) < 0)
            continue;
        if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
            return fail(b, "bind", p);
        r = make_readonly(b, p, MS_NOEXEC);
        if (r < 0)
            return r;
    }
    return 0;
}

static int build_tree(struct builder *b, uint32_t uid)
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
    if (r == 0)
        r = build_proc(b);
    if (r == 0)
        r = mount_tmpfs(b, "/box", b->ctx->cfg.box_tmpfs_bytes, "0755", uid);
    if (r == 0)
        r = mount_tmpfs(b, "/tmp", b->ctx->cfg.tmp_tmpfs_bytes, "1777", 0);
    if (r == 0 && b->ctx->cfg.cache_dir && access(b->ctx->cfg.cache_dir, F_OK) == 0)
        r = bind_ro(b, b->ctx->cfg.cache_dir, "/moat/cache", true);
    return r;
}

int mounts_build(const struct sbx_ctx *ctx, uint32_t uid, struct moat_err *err)
{
    struct builder b = {.ctx = ctx, .err = err};
    moat_strlcpy(b.root, ctx->root_dir, sizeof(b.root));

    /* Nothing done here may propagate back to the host's mount table. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(&b, "make private", "/");
    if (mount("tmpfs", b.root, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=1m,nr_inodes=1024,mode=0755") < 0)
        return fail(&b, "mount tmpfs", b.root);
    int r = build_tree(&b, uid);
    if (r < 0)
        return r;
    if (mount(NULL, b.root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
              NULL) < 0)
        return fail(&b, "remount read-only", b.root);
    /* pivot_root(".", ".") stacks the old root under the new one; the
     * detach then drops every host mount from this namespace. */
    if (chdir(b.root) < 0)
        return fail(&b, "chdir", b.root);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return fail(&b, "pivot_root", b.root);
    if (umount2(".", MNT_DETACH) < 0)
        return fail(&b, "detach old root", "/");
    if (chdir("/box") < 0)
        return fail(&b, "chdir", "/box");
    return 0;
}
