/*
 * cgroups: the version-independent half. Detection, the mountinfo parser,
 * interface-file I/O, group lifecycle, stats, the crash sweep. The v1 and
 * v2 specifics sit behind struct cg_backend (cgroup-v1.c, cgroup-v2.c).
 *
 * Invariant: after cg_root_open and cg_create, nothing resolves a host
 * path. The box supervisor runs these calls after pivot_root, where only
 * the directory fds opened earlier still lead to the cgroupfs.
 */
#include "cgroup-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

const char *const cg_ctl_names[CG__CTL_MAX] = {"memory", "pids", "cpuacct"};

#define CG_DEFAULT_FS "/sys/fs/cgroup"
#define CG_DEFAULT_MOUNTINFO "/proc/self/mountinfo"
#define CG_RMDIR_TRIES 50
#define CG_SWEEP_NAMES_MAX (1u << 20)

/* ======================================================================
 * Interface files
 * ====================================================================== */

int cg_io_write(const struct cg_common *c, int dirfd, const char *file, const char *s)
{
    if (!c->fake)
        return write_file_at(dirfd, file, s); /* one write: the kernel takes one value */
    int fd = openat(dirfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    int r = write_full(fd, s, strlen(s));
    (void)close(fd);
    return r;
}

int cg_io_write_u64(const struct cg_common *c, int dirfd, const char *file, uint64_t v)
{
    char s[24];
    (void)snprintf(s, sizeof s, "%" PRIu64, v);
    return cg_io_write(c, dirfd, file, s);
}

ssize_t cg_io_read(const struct cg_common *c, int dirfd, const char *file, char *buf, size_t size)
{
    ssize_t n = read_small_file_at(dirfd, file, buf, size);
    if (n == -ENOENT && c->fake) {
        buf[0] = '\0';
        return 0;
    }
    /* a full buffer may have cut the file: refuse rather than parse half */
    if (n >= 0 && (size_t)n >= size - 1)
        return -EFBIG;
    return n;
}

int cg_io_read_u64(const struct cg_common *c, int dirfd, const char *file, const char *key,
                   uint64_t *out)
{
    char buf[1024];
    ssize_t n = cg_io_read(c, dirfd, file, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    if (n == 0 && c->fake) {
        *out = 0;
        return 0;
    }
    return key ? cg_parse_keyed(buf, key, out) : cg_parse_u64(buf, out);
}

bool cg_io_exists(int dirfd, const char *file)
{
    return faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ======================================================================
 * Parsers
 * ====================================================================== */

static int parse_u64_span(const char *p, size_t len, uint64_t *out)
{
    char num[24];
    if (len == 0 || len >= sizeof num)
        return -EINVAL;
    memcpy(num, p, len);
    num[len] = '\0';
    return parse_u64(num, 0, UINT64_MAX, out);
}

int cg_parse_u64(const char *text, uint64_t *out)
{
    size_t len = strcspn(text, "\n");
    if (text[len] == '\n' && text[len + 1] != '\0')
        return -EINVAL;
    return parse_u64_span(text, len, out);
}

int cg_parse_keyed(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "\n");
        if (len > klen && memcmp(p, key, klen) == 0 && p[klen] == ' ')
            return parse_u64_span(p + klen + 1, len - klen - 1, out);
        p += len;
        if (*p == '\n')
            p++;
    }
    return -ENOENT;
}

bool cg_words_has(const char *list, const char *word, char sep)
{
    size_t wlen = strlen(word);
    const char *p = list;
    while (*p) {
        while (*p == sep || *p == ' ' || *p == '\n')
            p++;
        size_t len = 0;
        while (p[len] && p[len] != sep && p[len] != ' ' && p[len] != '\n')
            len++;
        const char *t = p;
        if (len > 0 && *t == '+') {
            t++;
            len--;
        }
        if (len == wlen && len > 0 && memcmp(t, word, wlen) == 0)
            return true;
        p = t + len;
    }
    return false;
}

/* ======================================================================
 * mountinfo: "id parent maj:min root mountpoint opts [optional...] - fstype
 * source superopts", octal escapes (\040) in paths
 * ====================================================================== */

static int copy_unescaped(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (const char *p = src; *p; p++) {
        char ch = *p;
        if (ch == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
            p[3] <= '7') {
            ch = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        }
        if (ch == '\0' || n + 1 >= size)
            return -ENAMETOOLONG;
        dst[n++] = ch;
    }
    dst[n] = '\0';
    return 0;
}

static int copy_field(char *dst, size_t size, const char *src)
{
    return moat_strlcpy(dst, src, size) >= size ? -ENAMETOOLONG : 0;
}

int cg_mountinfo_parse_line(char *line, struct cg_mount *m)
{
    line[strcspn(line, "\n")] = '\0';
    char *save = NULL;
    unsigned i = 0, after = 0;
    bool sep = false;
    int r = 0;
    for (char *t = strtok_r(line, " ", &save); t && r == 0; t = strtok_r(NULL, " ", &save)) {
        if (!sep) {
            if (i == 2)
                r = copy_field(m->dev, sizeof m->dev, t);
            else if (i == 4)
                r = copy_unescaped(m->path, sizeof m->path, t);
            else if (i >= 6 && strcmp(t, "-") == 0)
                sep = true;
            i++;
            continue;
        }
        if (after == 0)
            r = copy_field(m->fstype, sizeof m->fstype, t);
        else if (after == 2)
            r = copy_field(m->super, sizeof m->super, t);
        after++;
    }
    if (r < 0)
        return r;
    return sep && after >= 3 ? 0 : -EINVAL;
}

int cg_mountinfo_each(const char *mountinfo, int (*fn)(const struct cg_mount *m, void *arg),
                      void *arg)
{
    _cleanup_fclose_ FILE *f = fopen(mountinfo, "re");
    if (!f)
        return -errno;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    struct cg_mount m;
    while (getline(&line, &cap, f) > 0) {
        if (cg_mountinfo_parse_line(line, &m) < 0)
            continue; /* a line we cannot read names no mount we could use */
        int r = fn(&m, arg);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return ferror(f) ? -EIO : 0;
}

bool cg_path_under(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* ======================================================================
 * Directories and processes
 * ====================================================================== */

static int check_name(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > CG_NAME_MAX || strchr(name, '/') || strchr(name, '\n') ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -EINVAL;
    return 0;
}

static int open_dir_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
}

int cg_mkdir_open(int parent_fd, const char *name, bool excl, int *out)
{
    if (mkdirat(parent_fd, name, 0755) < 0 && (errno != EEXIST || excl))
        return -errno;
    int fd = open_dir_at(parent_fd, name);
    if (fd < 0)
        return fd;
    *out = fd;
    return 0;
}

int cg_dir_each(int dirfd, bool dirs, int (*fn)(int dirfd, const char *name, void *arg), void *arg)
{
    /* getdents64 on a private fd: no allocation (callers may be forked
     * supervisors) and an offset of our own */
    _cleanup_close_ int fd = open_dir_at(dirfd, ".");
    if (fd < 0)
        return fd;
    char buf[2048] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = getdents64(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        for (size_t off = 0; off < (size_t)n;) {
            const struct dirent64 *d = (const struct dirent64 *)(const void *)(buf + off);
            off += d->d_reclen;
            if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
                continue;
            bool is_dir = d->d_type == DT_DIR;
            if (d->d_type == DT_UNKNOWN) {
                struct stat st;
                if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                    continue;
                is_dir = S_ISDIR(st.st_mode);
            }
            if (is_dir != dirs)
                continue;
            int r = fn(fd, d->d_name, arg);
            if (r < 0)
                return r;
        }
    }
}

struct tree_walk {
    int (*fn)(int dirfd, void *arg);
    void *arg;
    unsigned depth;
};

static int tree_each_at(int dirfd, unsigned depth, int (*fn)(int dirfd, void *arg), void *arg);

static int tree_walk_cb(int dirfd, const char *name, void *p)
{
    const struct tree_walk *w = p;
    _cleanup_close_ int fd = open_dir_at(dirfd, name);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd; /* removed while we walk */
    return tree_each_at(fd, w->depth, w->fn, w->arg);
}

static int tree_each_at(int dirfd, unsigned depth, int (*fn)(int dirfd, void *arg), void *arg)
{
    int r = fn(dirfd, arg);
    if (r < 0 || depth >= CG_DEPTH_MAX)
        return r;
    struct tree_walk w = {fn, arg, depth + 1};
    r = cg_dir_each(dirfd, true, tree_walk_cb, &w);
    return r == -ENOENT ? 0 : r; /* the group went away: nothing below it */
}

int cg_tree_each(int dirfd, int (*fn)(int dirfd, void *arg), void *arg)
{
    return tree_each_at(dirfd, 0, fn, arg);
}

int cg_procs_each(int dirfd, int (*fn)(pid_t pid, void *arg), void *arg)
{
    _cleanup_close_ int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    char buf[1024];
    uint64_t v = 0;
    bool digits = false;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        for (size_t i = 0; i < (size_t)n; i++) {
            char ch = buf[i];
            if (ch >= '0' && ch <= '9') {
                v = v * 10 + (uint64_t)(ch - '0');
                if (v > INT_MAX)
                    return -EINVAL;
                digits = true;
            } else if (ch == '\n' && digits) {
                int r = fn((pid_t)v, arg);
                if (r != 0)
                    return r < 0 ? r : 0;
                v = 0;
                digits = false;
            } else {
                return -EINVAL;
            }
        }
    }
    if (digits) { /* fake files may lack the final newline */
        int r = fn((pid_t)v, arg);
        return r < 0 ? r : 0;
    }
    return 0;
}

static int count_pid_cb(pid_t pid, void *arg)
{
    (void)pid;
    (*(size_t *)arg)++;
    return 0;
}

static int count_dir_cb(int dirfd, void *arg)
{
    int r = cg_procs_each(dirfd, count_pid_cb, arg);
    return r == -ENOENT ? 0 : r;
}

int cg_count_tree(int dirfd, size_t *count)
{
    *count = 0;
    return cg_tree_each(dirfd, count_dir_cb, count);
}

void cg_backoff(unsigned round)
{
    /* processes die within a few ms of SIGKILL; poll fast first */
    struct timespec ts = {0, round < 10 ? 1000000L : 10000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int rmdir_retry(int parent_fd, const char *name)
{
    /* EBUSY while the last killed processes finish exiting */
    for (unsigned i = 0;; i++) {
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || i + 1 >= CG_RMDIR_TRIES)
            return -errno;
        cg_backoff(i);
    }
}

struct rm_state {
    const struct cg_common *c;
    unsigned depth;
};

static int remove_contents(const struct cg_common *c, int fd, unsigned depth);

static int rm_file_cb(int dirfd, const char *name, void *arg)
{
    (void)arg;
    return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

static int rm_dir_cb(int dirfd, const char *name, void *arg)
{
    const struct rm_state *rm = arg;
    if (rm->depth >= CG_DEPTH_MAX)
        return -ELOOP;
    _cleanup_close_ int fd = open_dir_at(dirfd, name);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    int r = remove_contents(rm->c, fd, rm->depth + 1);
    if (r < 0)
        return r;
    return rmdir_retry(dirfd, name);
}

/* Children bottom-up; cgroupfs files go with their directory, fake ones
 * must be unlinked. */
static int remove_contents(const struct cg_common *c, int fd, unsigned depth)
{
    struct rm_state rm = {c, depth};
    int r = cg_dir_each(fd, true, rm_dir_cb, &rm);
    if (r >= 0 && c->fake)
        r = cg_dir_each(fd, false, rm_file_cb, NULL);
    return r;
}

/* ======================================================================
 * Root
 * ====================================================================== */

static int detect_version(const struct cg_root_opts *o, struct moat_err *err)
{
    struct statfs sf;
    if (statfs(o->fs, &sf) < 0)
        return moat_err_set(err, -errno, "statfs %s: %s", o->fs, strerror(errno));
    if (sf.f_type == CGROUP2_SUPER_MAGIC)
        return 2;
    /* v1 or hybrid (cgroup2 beside v1 controllers): v1 when it has ours */
    _cleanup_free_ struct cg_v1_layout *l = malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    int r = cg_v1_scan(o->fs, o->mountinfo, l);
    if (r == 0)
        return 1;
    if (r != -EOPNOTSUPP)
        return moat_err_set(err, r, "reading %s: %s", o->mountinfo, strerror(-r));
    /* no v1 memory+pids+cpuacct: a cgroup2 mount elsewhere that has them */
    char path[PATH_MAX];
    if (cg_v2_find_mount(o->fs, o->mountinfo, path, sizeof path) == 0) {
        _cleanup_close_ int mfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct cg_common c = {.fake = o->fake};
        bool cpu;
        if (mfd >= 0 && cg_v2_controllers(&c, mfd, &cpu) == 0)
            return 2;
    }
    return moat_err_set(err, -EOPNOTSUPP, "no cgroup hierarchy with memory and pids under %s",
                        o->fs);
}

int cg_root_open(const struct cg_root_opts *o, struct cg_root **out, struct moat_err *err)
{
    if (!o || !out || check_name(o->name) < 0)
        return moat_err_field(err, -EINVAL, "name", "invalid cgroup parent name");
    struct cg_root_opts opts = *o;
    if (!opts.fs)
        opts.fs = CG_DEFAULT_FS;
    if (!opts.mountinfo)
        opts.mountinfo = CG_DEFAULT_MOUNTINFO;
    int version = opts.force_version;
    if (version == 0)
        version = detect_version(&opts, err);
    if (version < 0)
        return version;
    if (version != 1 && version != 2)
        return moat_err_set(err, -EINVAL, "invalid cgroup version %d", version);

    struct cg_root *root = calloc(1, sizeof *root);
    if (!root)
        return -ENOMEM;
    for (unsigned h = 0; h < CG_HIER_MAX; h++)
        root->parent_fd[h] = -1;
    root->c.be = version == 1 ? &cg_v1_backend : &cg_v2_backend;
    root->c.fake = opts.fake;
    int r = root->c.be->root_open(&opts, root, err);
    if (r < 0) {
        cg_root_free(root);
        return r;
    }
    *out = root;
    return 0;
}

void cg_root_free(struct cg_root *root)
{
    if (!root)
        return;
    for (unsigned h = 0; h < CG_HIER_MAX; h++)
        if (root->parent_fd[h] >= 0)
            (void)close(root->parent_fd[h]);
    free(root);
}

size_t cg_group_fds(const struct cg_group *g, int *fds, size_t max)
{
    size_t n = 0;
    for (unsigned h = 0; h < CG_HIER_MAX; h++) {
        if (g->fd[h] >= 0 && n < max)
            fds[n++] = g->fd[h];
        if (g->pfd[h] >= 0 && n < max)
            fds[n++] = g->pfd[h];
    }
    if (g->cpu_fd >= 0 && n < max)
        fds[n++] = g->cpu_fd;
    if (g->mem_fd >= 0 && n < max)
        fds[n++] = g->mem_fd;
    if (g->peak_fd >= 0 && n < max)
        fds[n++] = g->peak_fd;
    return n;
}

int cg_root_remove(struct cg_root *root, const char *name)
{
    if (root->c.fake)
        return 0;
    int r = 0;
    for (unsigned h = 0; h < CG_HIER_MAX; h++) {
        if (root->parent_fd[h] < 0)
            continue;
        _cleanup_close_ int up = openat(root->parent_fd[h], "..",
                                        O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* Fails with EBUSY while any group (another moat's box) is inside. */
        if (up < 0 || (unlinkat(up, name, AT_REMOVEDIR) < 0 && errno != ENOENT))
            r = -errno;
    }
    return r;
}

int cg_root_version(const struct cg_root *root) { return root->c.be->version; }

const char *cg_root_under(const struct cg_root *root) { return root->under; }

bool cg_root_has_swap_accounting(const struct cg_root *root) { return root->c.swap; }

/* ======================================================================
 * Groups
 * ====================================================================== */

void cg_close(struct cg_group *g)
{
    if (!g)
        return;
    for (unsigned h = 0; h < CG_HIER_MAX; h++) {
        if (g->fd[h] >= 0)
            (void)close(g->fd[h]);
        if (g->pfd[h] >= 0)
            (void)close(g->pfd[h]);
    }
    if (g->cpu_fd >= 0)
        (void)close(g->cpu_fd);
    if (g->mem_fd >= 0)
        (void)close(g->mem_fd);
    if (g->peak_fd >= 0)
        (void)close(g->peak_fd);
    free(g);
}

/* Makes (create) or opens <parents[h]>/<name> in every hierarchy. On
 * create, a failure removes the directories this call made. */
static int group_make(const struct cg_common *c, const int *parents, const char *name, bool create,
                      struct cg_group **out)
{
    int r = check_name(name);
    if (r < 0)
        return r;
    struct cg_group *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->c = *c;
    (void)moat_strlcpy(g->name, name, sizeof g->name);
    for (unsigned h = 0; h < CG_HIER_MAX; h++)
        g->fd[h] = g->pfd[h] = -1;
    g->cpu_fd = g->mem_fd = g->peak_fd = -1;

    bool made[CG_HIER_MAX] = {false};
    bool any = false;
    for (unsigned h = 0; h < c->nhier; h++) {
        if (parents[h] < 0) {
            r = -ENOENT;
            goto out;
        }
        g->pfd[h] = fcntl(parents[h], F_DUPFD_CLOEXEC, 3);
        if (g->pfd[h] < 0) {
            r = -errno;
            goto out;
        }
        if (create) {
            if (mkdirat(parents[h], name, 0755) < 0) {
                r = -errno;
                goto out;
            }
            made[h] = true;
        }
        g->fd[h] = open_dir_at(parents[h], name);
        if (g->fd[h] == -ENOENT && !create)
            continue; /* a leftover may lack some hierarchies */
        if (g->fd[h] < 0) {
            r = g->fd[h];
            goto out;
        }
        any = true;
    }
    r = any ? 0 : -ENOENT;
out:
    if (r < 0) {
        for (unsigned h = 0; h < c->nhier; h++)
            if (made[h])
                (void)unlinkat(parents[h], name, AT_REMOVEDIR);
        cg_close(g);
        return r;
    }
    *out = g;
    return 0;
}

int cg_create(struct cg_root *root, const char *name, struct cg_group **out, struct moat_err *err)
{
    int r = group_make(&root->c, root->parent_fd, name, true, out);
    if (r < 0)
        return moat_err_set(err, r, "creating cgroup '%s': %s", name ? name : "", strerror(-r));
    return 0;
}

int cg_create_child(struct cg_group *g, const char *name, struct cg_group **out,
                    struct moat_err *err)
{
    if (g->c.be->prepare_parent) {
        int r = g->c.be->prepare_parent(g);
        if (r < 0)
            return moat_err_set(err, r, "enabling controllers in cgroup '%s': %s", g->name,
                                strerror(-r));
    }
    int r = group_make(&g->c, g->fd, name, true, out);
    if (r < 0)
        return moat_err_set(err, r, "creating cgroup '%s/%s': %s", g->name, name ? name : "",
                            strerror(-r));
    return 0;
}

int cg_open(struct cg_root *root, const char *name, struct cg_group **out)
{
    return group_make(&root->c, root->parent_fd, name, false, out);
}

int cg_destroy(struct cg_group *g)
{
    if (!g)
        return 0;
    /* kill first: rmdir fails while a process lives anywhere below */
    int ret = cg_kill_all(g);
    for (unsigned h = 0; h < g->c.nhier; h++) {
        if (g->fd[h] < 0)
            continue;
        int r = remove_contents(&g->c, g->fd[h], 0);
        if (r == -ENOENT) /* removed already, e.g. with its parent */
            r = 0;
        if (r >= 0)
            r = rmdir_retry(g->pfd[h], g->name);
        if (r < 0 && ret >= 0)
            ret = r;
    }
    cg_close(g);
    return ret < 0 ? ret : 0;
}

int cg_dirfd(const struct cg_group *g, const char *controller)
{
    if (!g || !controller)
        return -EINVAL;
    int fd = -1;
    if (g->c.be->version == 2) {
        fd = g->fd[0];
    } else {
        unsigned i = 0;
        while (i < CG__CTL_MAX && strcmp(controller, cg_ctl_names[i]) != 0)
            i++;
        if (i == CG__CTL_MAX)
            return -EINVAL;
        fd = cg_group_fd(g, (enum cg_ctl)i);
    }
    return fd >= 0 ? fd : -ENOENT;
}

/* ======================================================================
 * Limits, attach, stats, kill
 * ====================================================================== */

int cg_set_limits(struct cg_group *g, uint64_t memory_bytes, uint32_t max_procs)
{
    return g->c.be->set_limits(g, memory_bytes, max_procs);
}

int cg_attach(struct cg_group *g, pid_t pid)
{
    if (pid <= 0)
        return -EINVAL;
    char s[16];
    (void)snprintf(s, sizeof s, "%d", (int)pid);
    for (unsigned h = 0; h < g->c.nhier; h++) {
        if (g->fd[h] < 0)
            return -ENOENT;
        int r = cg_io_write(&g->c, g->fd[h], "cgroup.procs", s);
        if (r < 0)
            return r;
    }
    return 0;
}

int cg_read_cpu_us(struct cg_group *g, uint64_t *cpu_us)
{
    const struct cg_files *f = g->c.be->files;
    if (g->cpu_fd < 0) {
        int dfd = cg_group_fd(g, CG_CTL_CPUACCT);
        if (dfd < 0)
            return -ENOENT;
        int fd = openat(dfd, f->cpu_usage, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT && g->c.fake) {
            *cpu_us = 0;
            return 0;
        }
        if (fd < 0)
            return -errno;
        g->cpu_fd = fd;
    }
    /* polled: one pread of a kept fd, no allocation */
    char buf[1024];
    ssize_t n;
    do
        n = pread(g->cpu_fd, buf, sizeof buf - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n >= sizeof buf - 1)
        return -EFBIG;
    buf[n] = '\0';
    uint64_t v = 0;
    if (n > 0 || !g->c.fake) {
        int r =
            f->cpu_usage_key ? cg_parse_keyed(buf, f->cpu_usage_key, &v) : cg_parse_u64(buf, &v);
        if (r < 0)
            return r;
    }
    if (g->c.be->sample)
        g->c.be->sample(g);
    *cpu_us = v / f->cpu_units_per_us;
    return 0;
}

int cg_read_stats(struct cg_group *g, struct cg_stats *st)
{
    struct cg_stats s = {0};
    int r = cg_read_cpu_us(g, &s.cpu_us);
    if (r >= 0)
        r = g->c.be->read_memory(g, &s);
    if (r < 0)
        return r;
    int fd = cg_group_fd(g, CG_CTL_PIDS);
    if (fd < 0)
        return -ENOENT;
    r = cg_io_read_u64(&g->c, fd, g->c.be->files->pids_current, NULL, &s.pids_current);
    if (r < 0)
        return r;
    *st = s;
    return 0;
}

int cg_count_procs(struct cg_group *g) { return g->c.be->count_procs(g); }

int cg_memory_current(struct cg_group *g, uint64_t *bytes)
{
    int fd = cg_group_fd(g, CG_CTL_MEMORY);
    if (fd < 0)
        return -ENOENT;
    return cg_io_read_u64(&g->c, fd, g->c.be->files->memory_current, NULL, bytes);
}

int cg_clone_fd(const struct cg_group *g)
{
    return g->c.be->version == 2 ? g->fd[0] : -1;
}

int cg_step_begin(struct cg_group *g, struct cg_stats *base)
{
    /* v2 before 6.12 cannot reset: a group fresh for the step needs no
     * reset, and cg_recycle refuses to reuse a group on such a kernel */
    int r = g->c.be->peak_reset(g);
    if (r < 0 && r != -EOPNOTSUPP)
        return r;
    struct cg_stats b = {0};
    r = cg_read_cpu_us(g, &b.cpu_us);
    if (r >= 0)
        r = g->c.be->read_memory(g, &b);
    if (r < 0)
        return r;
    *base = b;
    return 0;
}

int cg_recycle(struct cg_group *g, uint64_t residual_bytes)
{
    /* empty as a rule (the box's pid namespace is gone): kill only when not */
    int r = cg_count_procs(g);
    if (r > 0) {
        r = cg_kill_all(g);
        if (r >= 0)
            r = cg_count_procs(g) == 0 ? 0 : -EBUSY;
    }
    /* the groups of later steps, left when box init died in a step */
    for (unsigned h = 0; r >= 0 && h < g->c.nhier; h++) {
        struct rm_state rm = {&g->c, 0};
        r = g->fd[h] < 0 ? -ENOENT : cg_dir_each(g->fd[h], true, rm_dir_cb, &rm);
    }
    if (r >= 0 && g->c.be->clear_parent)
        r = g->c.be->clear_parent(g);
    /* the next box's program waits here before its step sets them */
    if (r >= 0)
        r = cg_set_limits(g, 0, 0);
    /* What the last box left charged (page cache of files it read,
     * dentries of names it looked up) would count against the next box's
     * limit and peak: give it back, or give up the group. Kernel objects
     * of a box just torn down are freed after an RCU grace period, so a
     * few hundred KB can stay charged for some ms: reclaim again a little
     * later before giving up (CG_RECLAIM_ROUNDS: about 50 ms in all). */
    uint64_t cur = 0;
    if (r >= 0)
        r = cg_memory_current(g, &cur);
    unsigned rounds = g->c.fake ? 1 : CG_RECLAIM_ROUNDS;
    for (unsigned round = 0; r >= 0 && cur > residual_bytes; round++) {
        if (round == rounds) {
            r = -EBUSY;
            break;
        }
        if (round > 0)
            cg_backoff(round + 5); /* 1 ms, then 10 ms */
        (void)g->c.be->reclaim(g);
        r = cg_memory_current(g, &cur);
    }
    if (r >= 0)
        r = g->c.be->peak_reset(g);
    return r < 0 ? r : 0;
}

int cg_kill_all(struct cg_group *g) { return g->c.be->kill_all(g); }

/* ======================================================================
 * Sweep
 * ====================================================================== */

struct sweep {
    struct buf names; /* NUL-separated */
    const char *prefix;
};

static bool sweep_has(const struct buf *b, const char *name)
{
    for (size_t off = 0; off < b->len;) {
        const char *p = b->data + off;
        if (strcmp(p, name) == 0)
            return true;
        off += strlen(p) + 1;
    }
    return false;
}

static int sweep_cb(int dirfd, const char *name, void *arg)
{
    (void)dirfd;
    struct sweep *s = arg;
    if (!str_has_prefix(name, s->prefix) || sweep_has(&s->names, name))
        return 0;
    return buf_append(&s->names, name, strlen(name) + 1);
}

int cg_for_each(struct cg_root *root, const char *prefix,
                void (*fn)(struct cg_root *root, const char *name, void *arg), void *arg)
{
    /* names first, calls after: fn usually destroys what it is given, and
     * a leftover may exist in only some v1 hierarchies (the union counts) */
    struct sweep s = {.prefix = prefix ? prefix : ""};
    buf_init(&s.names, CG_SWEEP_NAMES_MAX);
    int r = 0;
    for (unsigned h = 0; h < root->c.nhier && r >= 0; h++)
        r = cg_dir_each(root->parent_fd[h], true, sweep_cb, &s);
    if (r >= 0) {
        for (size_t off = 0; off < s.names.len;) {
            const char *name = s.names.data + off;
            off += strlen(name) + 1;
            fn(root, name, arg);
        }
    }
    buf_release(&s.names);
    return r < 0 ? r : 0;
}
