/* cgroup v1 backend against fake hierarchies: finding mounts in
 * mountinfo (separate, co-mounted, bind-mounted, escaped paths), the
 * memory/memsw write order, the files it parses, destroy and sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroup-internal.h"
#include "sbx_test.h"

#define P 512 /* path buffers: the fake tree lives in a short temp dir */

struct fx {
    char tmp[64]; /* contains a space: mountinfo escapes it as \040 */
    char fs[128];
    char mountinfo[128];
    struct cg_root *root;
};

/* ---- helpers ---- */

static void sub(char *out, const struct fx *f, const char *rel)
{
    (void)snprintf(out, P, "%s/%s", f->fs, rel);
}

static void mkdirs(const struct fx *f, const char *rel)
{
    char path[P];
    sub(path, f, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

/* mountinfo escapes spaces in paths */
static void escaped(char *out, size_t size, const char *path)
{
    size_t n = 0;
    for (const char *p = path; *p && n + 5 < size; p++) {
        if (*p == ' ') {
            memcpy(out + n, "\\040", 4);
            n += 4;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

/* Writes a mountinfo of the given mount lines; each is "dev rel fstype
 * superopts" with rel under fs ("." for fs itself, or an absolute path). */
static void mountinfo(const struct fx *f, const char *const *lines, size_t n)
{
    char text[8192] = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro\n"
                      "25 22 0:21 / /proc rw,nosuid - proc proc rw\n";
    for (size_t i = 0; i < n; i++) {
        char dev[16], rel[64], type[16], opts[64], path[P], esc[2 * P];
        assert_int_equal(sscanf(lines[i], "%15s %63s %15s %63s", dev, rel, type, opts), 4);
        if (strcmp(rel, ".") == 0)
            (void)moat_strlcpy(path, f->fs, sizeof path);
        else if (rel[0] == '/')
            (void)moat_strlcpy(path, rel, sizeof path);
        else
            sub(path, f, rel);
        escaped(esc, sizeof esc, path);
        size_t len = strlen(text);
        (void)snprintf(text + len, sizeof text - len,
                       "%zu 31 %s / %s rw,nosuid,nodev,noexec,relatime shared:%zu - %s %s %s\n",
                       40 + i, dev, esc, i + 9, type, type, opts);
    }
    sbx_test_put(f->tmp, "mountinfo", text);
}

/* Like this project's hosts: tmpfs at fs, one v1 mount per controller,
 * name=systemd, and an empty cgroup2 at fs/unified (hybrid). */
static const char *const separate[] = {
    "0:28 . tmpfs rw,mode=755",       "0:29 cpu cgroup rw,cpu",
    "0:30 cpuacct cgroup rw,cpuacct", "0:32 memory cgroup rw,memory",
    "0:36 pids cgroup rw,pids",       "0:37 systemd cgroup rw,xattr,name=systemd",
    "0:38 unified cgroup2 rw",
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    (void)moat_strlcpy(f->tmp, "/tmp/moat cg1-XXXXXX", sizeof f->tmp);
    assert_non_null(mkdtemp(f->tmp));
    (void)snprintf(f->fs, sizeof f->fs, "%s/fs", f->tmp);
    (void)snprintf(f->mountinfo, sizeof f->mountinfo, "%s/mountinfo", f->tmp);
    assert_int_equal(mkdir(f->fs, 0755), 0);
    const char *dirs[] = {"cpu",     "cpuacct", "memory",      "pids",
                          "systemd", "unified", "cpu,cpuacct", "memory,pids"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(dirs); i++)
        mkdirs(f, dirs[i]);
    mountinfo(f, separate, MOAT_ARRAY_SIZE(separate));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cg_root_free(f->root);
    sbx_test_rm_rf(f->tmp);
    free(f);
    return 0;
}

static void open_root(struct fx *f, int version)
{
    struct cg_root_opts o = {.fs = f->fs,
                             .mountinfo = f->mountinfo,
                             .name = "moat",
                             .force_version = version,
                             .fake = true};
    struct moat_err err = {0};
    int r = cg_root_open(&o, &f->root, &err);
    if (r < 0)
        print_error("cg_root_open: %s\n", err.msg);
    assert_int_equal(r, 0);
}

static void same_dir(int a, int b, bool same)
{
    struct stat sa, sb;
    assert_int_equal(fstat(a, &sa), 0);
    assert_int_equal(fstat(b, &sb), 0);
    assert_true((sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) == same);
}

/* ---- mounts ---- */

static void test_hybrid_detects_v1(void **state)
{
    struct fx *f = *state;
    char dir[P];
    open_root(f, 0); /* tmpfs at fs, cgroup2 beside: v1 */
    assert_int_equal(cg_root_version(f->root), 1);
    const char *made[] = {"memory/moat", "pids/moat", "cpuacct/moat"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(made); i++) {
        sub(dir, f, made[i]);
        assert_true(sbx_test_exists(dir, ""));
    }
    const char *untouched[] = {"cpu/moat", "systemd/moat", "unified/moat"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(untouched); i++) {
        sub(dir, f, untouched[i]);
        assert_false(sbx_test_exists(dir, ""));
    }
    struct cg_group *g = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    same_dir(cg_dirfd(g, "memory"), cg_dirfd(g, "pids"), false);
    same_dir(cg_dirfd(g, "memory"), cg_dirfd(g, "cpuacct"), false);
    assert_int_equal(cg_dirfd(g, "cpu"), -EINVAL);
    assert_int_equal(cg_dirfd(g, "freezer"), -EINVAL);
    sub(dir, f, "cpuacct/moat/box");
    struct stat a, b;
    assert_int_equal(stat(dir, &a), 0);
    assert_int_equal(fstat(cg_dirfd(g, "cpuacct"), &b), 0);
    assert_true(a.st_ino == b.st_ino);
    cg_close(g);
}

static void test_scan_layouts(void **state)
{
    struct fx *f = *state;
    struct cg_v1_layout *l = malloc(sizeof *l);
    assert_non_null(l);
    char want[P];

    assert_int_equal(cg_v1_scan(f->fs, f->mountinfo, l), 0);
    assert_int_equal(l->nhier, 3);
    sub(want, f, "cpuacct");
    assert_string_equal(l->path[l->ctl_hier[CG_CTL_CPUACCT]], want);

    /* Ubuntu style: cpu and cpuacct share a mount */
    const char *comount[] = {"0:29 cpu,cpuacct cgroup rw,cpu,cpuacct",
                             "0:32 memory cgroup rw,memory", "0:36 pids cgroup rw,pids"};
    mountinfo(f, comount, 3);
    assert_int_equal(cg_v1_scan(f->fs, f->mountinfo, l), 0);
    assert_int_equal(l->nhier, 3);
    sub(want, f, "cpu,cpuacct");
    assert_string_equal(l->path[l->ctl_hier[CG_CTL_CPUACCT]], want);

    /* two controllers of ours in one hierarchy, which is also bind-mounted
     * a second time, and a memory mount outside fs listed first */
    const char *shared[] = {
        "0:50 /elsewhere/memory cgroup rw,memory", "0:29 cpu,cpuacct cgroup rw,cpu,cpuacct",
        "0:32 memory,pids cgroup rw,memory,pids", "0:32 memory cgroup rw,memory,pids"};
    mountinfo(f, shared, 4);
    assert_int_equal(cg_v1_scan(f->fs, f->mountinfo, l), 0);
    assert_int_equal(l->nhier, 2);
    assert_int_equal(l->ctl_hier[CG_CTL_MEMORY], l->ctl_hier[CG_CTL_PIDS]);
    sub(want, f, "memory,pids");
    assert_string_equal(l->path[l->ctl_hier[CG_CTL_MEMORY]], want);

    open_root(f, 1);
    struct cg_group *g = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    same_dir(cg_dirfd(g, "memory"), cg_dirfd(g, "pids"), true);
    same_dir(cg_dirfd(g, "memory"), cg_dirfd(g, "cpuacct"), false);
    assert_int_equal(cg_set_limits(g, 1 << 20, 9), 0);
    char dir[P], buf[64];
    sub(dir, f, "memory,pids/moat/box");
    assert_string_equal(sbx_test_get(dir, "memory.limit_in_bytes", buf, sizeof buf), "1048576");
    assert_string_equal(sbx_test_get(dir, "pids.max", buf, sizeof buf), "9");
    cg_close(g);

    /* no pids hierarchy: not usable */
    const char *nopids[] = {"0:30 cpuacct cgroup rw,cpuacct", "0:32 memory cgroup rw,memory"};
    mountinfo(f, nopids, 2);
    assert_int_equal(cg_v1_scan(f->fs, f->mountinfo, l), -EOPNOTSUPP);
    cg_root_free(f->root);
    f->root = NULL;
    struct cg_root_opts o = {
        .fs = f->fs, .mountinfo = f->mountinfo, .name = "moat", .force_version = 1, .fake = true};
    struct moat_err err = {0};
    assert_int_equal(cg_root_open(&o, &f->root, &err), -EOPNOTSUPP);
    assert_true(strstr(err.msg, "pids") != NULL);
    o.mountinfo = "/nonexistent/mountinfo";
    assert_int_equal(cg_root_open(&o, &f->root, NULL), -ENOENT);
    free(l);
}

static void test_mountinfo_line(void **state)
{
    (void)state;
    struct cg_mount m;
    char line[] = "35 31 0:32 / /sys/fs/cgroup/my\\040memory rw,relatime shared:9 master:2 - "
                  "cgroup cgroup rw,memory\n";
    assert_int_equal(cg_mountinfo_parse_line(line, &m), 0);
    assert_string_equal(m.dev, "0:32");
    assert_string_equal(m.path, "/sys/fs/cgroup/my memory");
    assert_string_equal(m.fstype, "cgroup");
    assert_string_equal(m.super, "rw,memory");
    char nosep[] = "35 31 0:32 / /x rw shared:9 cgroup cgroup rw,memory\n";
    assert_int_equal(cg_mountinfo_parse_line(nosep, &m), -EINVAL);
    char shortl[] = "35 31 0:32 / /x rw - cgroup\n";
    assert_int_equal(cg_mountinfo_parse_line(shortl, &m), -EINVAL);
    char empty[] = "\n";
    assert_int_equal(cg_mountinfo_parse_line(empty, &m), -EINVAL);
    assert_true(cg_path_under("/sys/fs/cgroup/memory", "/sys/fs/cgroup"));
    assert_true(cg_path_under("/sys/fs/cgroup", "/sys/fs/cgroup/"));
    assert_false(cg_path_under("/sys/fs/cgroupx", "/sys/fs/cgroup"));
    assert_true(cg_path_under("/a", "/"));
}

/* ---- limits ---- */

/* names of the files closed after writing, in order */
static size_t written(int ifd, char names[][40], size_t max)
{
    char buf[4096] __attribute__((aligned(8)));
    size_t n = 0;
    ssize_t len;
    while ((len = read(ifd, buf, sizeof buf)) > 0) {
        for (size_t off = 0; off < (size_t)len;) {
            const struct inotify_event *ev = (const void *)(buf + off);
            off += sizeof *ev + ev->len;
            if ((ev->mask & IN_CLOSE_WRITE) && ev->len && n < max)
                (void)moat_strlcpy(names[n++], ev->name, sizeof names[0]);
        }
    }
    return n;
}

static void test_limit_order(void **state)
{
    struct fx *f = *state;
    char mem[P], pids[P], buf[64], names[8][40];
    sub(mem, f, "memory");
    sbx_test_put(mem, "memory.memsw.limit_in_bytes", "9223372036854771712\n"); /* swap accounted */
    open_root(f, 1);
    assert_true(cg_root_has_swap_accounting(f->root));
    struct cg_group *g = NULL, *s = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "step", &s, NULL), 0);
    sub(mem, f, "memory/moat/box/step");
    sub(pids, f, "pids/moat/box/step");
    sbx_test_put(mem, "memory.limit_in_bytes", "1073741824\n");
    sbx_test_put(mem, "memory.memsw.limit_in_bytes", "1073741824\n");

    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(ifd >= 0);
    assert_true(inotify_add_watch(ifd, mem, IN_CLOSE_WRITE) >= 0);

    /* lowering: limit first, else memsw < limit */
    assert_int_equal(cg_set_limits(s, 128ull << 20, 64), 0);
    assert_int_equal(written(ifd, names, 8), 2);
    assert_string_equal(names[0], "memory.limit_in_bytes");
    assert_string_equal(names[1], "memory.memsw.limit_in_bytes");
    assert_string_equal(sbx_test_get(mem, "memory.limit_in_bytes", buf, sizeof buf), "134217728");
    assert_string_equal(sbx_test_get(mem, "memory.memsw.limit_in_bytes", buf, sizeof buf),
                        "134217728");
    assert_string_equal(sbx_test_get(pids, "pids.max", buf, sizeof buf), "64");

    /* raising: memsw first, else limit > memsw */
    assert_int_equal(cg_set_limits(s, 512ull << 20, 8), 0);
    assert_int_equal(written(ifd, names, 8), 2);
    assert_string_equal(names[0], "memory.memsw.limit_in_bytes");
    assert_string_equal(names[1], "memory.limit_in_bytes");
    assert_string_equal(sbx_test_get(mem, "memory.limit_in_bytes", buf, sizeof buf), "536870912");
    assert_string_equal(sbx_test_get(mem, "memory.memsw.limit_in_bytes", buf, sizeof buf),
                        "536870912");
    assert_string_equal(sbx_test_get(pids, "pids.max", buf, sizeof buf), "8");

    /* no limit is the largest: raising */
    assert_int_equal(cg_set_limits(s, 0, 0), 0);
    assert_int_equal(written(ifd, names, 8), 2);
    assert_string_equal(names[0], "memory.memsw.limit_in_bytes");
    assert_string_equal(sbx_test_get(mem, "memory.limit_in_bytes", buf, sizeof buf), "-1");
    assert_string_equal(sbx_test_get(pids, "pids.max", buf, sizeof buf), "max");
    (void)close(ifd);
    cg_close(s);
    cg_close(g);
}

static void test_limits_without_swap(void **state)
{
    struct fx *f = *state;
    char mem[P], buf[64];
    open_root(f, 1);
    assert_false(cg_root_has_swap_accounting(f->root));
    struct cg_group *g = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    assert_int_equal(cg_set_limits(g, 32ull << 20, 8), 0);
    sub(mem, f, "memory/moat/box");
    assert_string_equal(sbx_test_get(mem, "memory.limit_in_bytes", buf, sizeof buf), "33554432");
    assert_false(sbx_test_exists(mem, "memory.memsw.limit_in_bytes"));
    cg_close(g);
}

/* ---- stats ---- */

static void test_stats(void **state)
{
    struct fx *f = *state;
    char dir[P];
    open_root(f, 1);
    struct cg_group *g = NULL, *s1 = NULL, *s2 = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "s1", &s1, NULL), 0);
    assert_int_equal(cg_create_child(g, "s2", &s2, NULL), 0);

    sub(dir, f, "cpuacct/moat/box/s1");
    sbx_test_put(dir, "cpuacct.usage", "123456789\n");
    sub(dir, f, "memory/moat/box/s1");
    sbx_test_put(dir, "memory.max_usage_in_bytes", "33554432\n");
    sbx_test_put(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    sub(dir, f, "memory/moat/box/s2");
    sbx_test_put(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 1\n");
    sub(dir, f, "pids/moat/box/s1");
    sbx_test_put(dir, "pids.current", "3\n");

    struct cg_stats st;
    assert_int_equal(cg_read_stats(s1, &st), 0);
    assert_int_equal(st.cpu_us, 123456); /* ns to µs */
    assert_int_equal(st.memory_peak, 33554432);
    assert_int_equal(st.oom_kills, 2);
    assert_int_equal(st.pids_current, 3);
    /* v1 counts OOM kills per group: the box adds its steps' */
    assert_int_equal(cg_read_stats(g, &st), 0);
    assert_int_equal(st.oom_kills, 3);

    sub(dir, f, "cpuacct/moat/box/s1");
    sbx_test_put(dir, "cpuacct.usage", "999\n");
    uint64_t us = 7;
    assert_int_equal(cg_read_cpu_us(s1, &us), 0);
    assert_int_equal(us, 0);
    sbx_test_put(dir, "cpuacct.usage", "2000000000\n");
    assert_int_equal(cg_read_cpu_us(s1, &us), 0);
    assert_int_equal(us, 2000000);
    sbx_test_put(dir, "cpuacct.usage", "12 34\n");
    assert_int_equal(cg_read_cpu_us(s1, &us), -EINVAL);

    sub(dir, f, "memory/moat/box/s1");
    sbx_test_put(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n"); /* before 4.13 */
    sub(dir, f, "cpuacct/moat/box/s1");
    sbx_test_put(dir, "cpuacct.usage", "0\n");
    assert_int_equal(cg_read_stats(s1, &st), 0);
    assert_int_equal(st.oom_kills, 0);
    cg_close(s1);
    cg_close(s2);
    cg_close(g);
}

/* v1: a step in the box group restarts the global peak (any write to
 * max_usage_in_bytes), its OOM kills count from the base; recycling
 * removes step groups, lifts limits, force_empty when memory stays
 * charged, and refuses a group that keeps more than the residue. */
static void test_step_begin_and_recycle(void **state)
{
    struct fx *f = *state;
    char mem[P], cpu[P], pids[P], buf[256];
    open_root(f, 1);
    struct cg_group *g = NULL, *s2 = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    sub(mem, f, "memory/moat/box");
    sub(cpu, f, "cpuacct/moat/box");
    sub(pids, f, "pids/moat/box");
    sbx_test_put(mem, "memory.max_usage_in_bytes", "209715200\n");
    sbx_test_put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    sbx_test_put(cpu, "cpuacct.usage", "1000000000\n");

    struct cg_stats base = {0};
    assert_int_equal(cg_step_begin(g, &base), 0);
    assert_string_equal(sbx_test_get(mem, "memory.max_usage_in_bytes", buf, sizeof buf), "0");
    assert_int_equal(base.cpu_us, 1000000);
    assert_int_equal(base.oom_kills, 1);

    assert_int_equal(cg_create_child(g, "s2", &s2, NULL), 0);
    cg_close(s2);
    assert_int_equal(cg_set_limits(g, 1 << 20, 4), 0);
    sbx_test_put(mem, "memory.usage_in_bytes", "4194304\n");
    assert_int_equal(cg_recycle(g, 1 << 20), -EBUSY);
    assert_string_equal(sbx_test_get(mem, "memory.force_empty", buf, sizeof buf), "0");
    sbx_test_put(mem, "memory.usage_in_bytes", "8192\n");
    sbx_test_put(mem, "memory.max_usage_in_bytes", "4194304\n");
    assert_int_equal(cg_recycle(g, 1 << 20), 0);
    assert_false(sbx_test_exists(mem, "s2"));
    assert_false(sbx_test_exists(cpu, "s2"));
    assert_string_equal(sbx_test_get(mem, "memory.limit_in_bytes", buf, sizeof buf), "-1");
    assert_string_equal(sbx_test_get(pids, "pids.max", buf, sizeof buf), "max");
    assert_string_equal(sbx_test_get(mem, "memory.max_usage_in_bytes", buf, sizeof buf), "0");
    cg_close(g);
}

static void test_mapping_table(void **state)
{
    struct fx *f = *state;
    const struct cg_files *t = &cg_v1_files;
    assert_string_equal(t->memory_limit, "memory.limit_in_bytes");
    assert_string_equal(t->swap_limit, "memory.memsw.limit_in_bytes");
    assert_string_equal(t->pids_limit, "pids.max");
    assert_string_equal(t->cpu_usage, "cpuacct.usage");
    assert_null(t->cpu_usage_key);
    assert_int_equal(t->cpu_units_per_us, 1000);
    assert_string_equal(t->memory_peak, "memory.max_usage_in_bytes");
    assert_string_equal(t->oom_file, "memory.oom_control");
    assert_string_equal(t->oom_key, "oom_kill");
    assert_string_equal(t->pids_current, "pids.current");
    assert_ptr_equal(cg_v1_backend.files, t);
    assert_int_equal(cg_v1_backend.version, 1);

    char mem[P];
    sub(mem, f, "memory");
    sbx_test_put(mem, t->swap_limit, "9223372036854771712\n");
    open_root(f, 1);
    struct cg_group *g = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    assert_int_equal(cg_set_limits(g, 8192, 2), 0);
    /* each file in the hierarchy of its controller, and nowhere else */
    int m = cg_dirfd(g, "memory"), p = cg_dirfd(g, "pids"), c = cg_dirfd(g, "cpuacct");
    assert_true(cg_io_exists(m, t->memory_limit) && cg_io_exists(m, t->swap_limit));
    assert_true(cg_io_exists(p, t->pids_limit));
    assert_false(cg_io_exists(p, t->memory_limit) || cg_io_exists(c, t->memory_limit));
    assert_false(cg_io_exists(m, t->pids_limit));
    cg_close(g);
}

/* ---- processes, destroy, sweep ---- */

static void test_fake_never_signals(void **state)
{
    struct fx *f = *state;
    open_root(f, 1);
    struct cg_group *g = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    assert_int_equal(cg_attach(g, pid), 0);
    char dir[P], buf[32], want[32];
    (void)snprintf(want, sizeof want, "%d", (int)pid);
    const char *h[] = {"memory/moat/box", "pids/moat/box", "cpuacct/moat/box"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(h); i++) {
        sub(dir, f, h[i]);
        assert_string_equal(sbx_test_get(dir, "cgroup.procs", buf, sizeof buf), want);
    }
    assert_int_equal(cg_count_procs(g), 1);
    assert_int_equal(cg_kill_all(g), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* still alive */
    assert_int_equal(cg_destroy(g), 0);
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
    (void)kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(h); i++) {
        sub(dir, f, h[i]);
        assert_false(sbx_test_exists(dir, ""));
    }
}

struct seen {
    char names[8][32];
    size_t n;
};

static void collect(struct cg_root *root, const char *name, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    (void)moat_strlcpy(s->names[s->n++], name, sizeof s->names[0]);
    struct cg_group *g = NULL;
    assert_int_equal(cg_open(root, name, &g), 0);
    assert_int_equal(cg_destroy(g), 0);
}

static void test_sweep_union(void **state)
{
    struct fx *f = *state;
    open_root(f, 1);
    struct cg_group *g = NULL, *s = NULL;
    assert_int_equal(cg_create(f->root, "job-full", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "step", &s, NULL), 0);
    cg_close(s);
    cg_close(g);
    /* a crash between two mkdirs leaves a group in some hierarchies only */
    mkdirs(f, "pids/moat/job-pidsonly");
    mkdirs(f, "cpuacct/moat/job-pidsonly");
    mkdirs(f, "cpuacct/moat/keep");
    struct seen seen = {0};
    assert_int_equal(cg_for_each(f->root, "job-", collect, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_true(
        (strcmp(seen.names[0], "job-full") == 0 && strcmp(seen.names[1], "job-pidsonly") == 0) ||
        (strcmp(seen.names[1], "job-full") == 0 && strcmp(seen.names[0], "job-pidsonly") == 0));
    char dir[P];
    const char *gone[] = {"memory/moat/job-full", "pids/moat/job-full", "cpuacct/moat/job-full",
                          "pids/moat/job-pidsonly", "cpuacct/moat/job-pidsonly"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(gone); i++) {
        sub(dir, f, gone[i]);
        assert_false(sbx_test_exists(dir, ""));
    }
    sub(dir, f, "cpuacct/moat/keep");
    assert_true(sbx_test_exists(dir, ""));
    /* a partial group cannot take children or processes */
    mkdirs(f, "pids/moat/half");
    assert_int_equal(cg_open(f->root, "half", &g), 0);
    assert_int_equal(cg_dirfd(g, "memory"), -ENOENT);
    assert_int_equal(cg_create_child(g, "x", &s, NULL), -ENOENT);
    assert_int_equal(cg_attach(g, 1), -ENOENT);
    assert_int_equal(cg_destroy(g), 0);
    sub(dir, f, "pids/moat/half");
    assert_false(sbx_test_exists(dir, ""));
}

static void test_create_rolls_back(void **state)
{
    struct fx *f = *state;
    open_root(f, 1);
    mkdirs(f, "cpuacct/moat/clash"); /* exists in the last hierarchy only */
    struct cg_group *g = NULL;
    assert_int_equal(cg_create(f->root, "clash", &g, NULL), -EEXIST);
    assert_null(g);
    char dir[P];
    sub(dir, f, "memory/moat/clash");
    assert_false(sbx_test_exists(dir, ""));
    sub(dir, f, "pids/moat/clash");
    assert_false(sbx_test_exists(dir, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hybrid_detects_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_layouts, setup, teardown),
        cmocka_unit_test(test_mountinfo_line),
        cmocka_unit_test_setup_teardown(test_limit_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_without_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_begin_and_recycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapping_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_never_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_union, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rolls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
