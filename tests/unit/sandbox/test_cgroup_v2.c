/* cgroup v2 backend against a fake unified tree: the files it writes, the
 * files it parses, the mapping table, detection, destroy and sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "cgroup-internal.h"
#include "sbx_test.h"

#define P 512 /* path buffers: the fake tree lives in a short temp dir */

struct fx {
    char tmp[64];
    char fs[128];
    char mountinfo[128];
    struct cg_root *root;
};

/* ---- helpers ---- */

static void sub(char *out, const struct fx *f, const char *rel)
{
    (void)snprintf(out, P, "%s/%s", f->fs, rel);
}

/* A fake unified mount at <tmp>/fs listed in a fake mountinfo among
 * other mounts. */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    (void)moat_strlcpy(f->tmp, "/tmp/moat-cg2-XXXXXX", sizeof f->tmp);
    assert_non_null(mkdtemp(f->tmp));
    (void)snprintf(f->fs, sizeof f->fs, "%s/fs", f->tmp);
    (void)snprintf(f->mountinfo, sizeof f->mountinfo, "%s/mountinfo", f->tmp);
    assert_int_equal(mkdir(f->fs, 0755), 0);
    char mi[4 * P];
    (void)snprintf(mi, sizeof mi,
                   "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
                   "25 22 0:21 / /proc rw,nosuid - proc proc rw\n"
                   "30 25 0:26 / %s rw,nosuid,nodev,noexec shared:4 - cgroup2 cgroup2 "
                   "rw,nsdelegate,memory_recursiveprot\n"
                   "31 22 0:27 / /run rw - tmpfs tmpfs rw,mode=755\n",
                   f->fs);
    sbx_test_put(f->tmp, "mountinfo", mi);
    sbx_test_put(f->fs, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
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

static void open_root(struct fx *f)
{
    struct cg_root_opts o = {
        .fs = f->fs, .mountinfo = f->mountinfo, .name = "moat", .force_version = 2, .fake = true};
    struct moat_err err = {0};
    int r = cg_root_open(&o, &f->root, &err);
    if (r < 0)
        print_error("cg_root_open: %s\n", err.msg);
    assert_int_equal(r, 0);
}

/* ---- tests ---- */

static void test_root_enables_controllers(void **state)
{
    struct fx *f = *state;
    char buf[256], parent[P];
    open_root(f);
    assert_int_equal(cg_root_version(f->root), 2);
    assert_false(cg_root_has_swap_accounting(f->root));
    assert_string_equal(sbx_test_get(f->fs, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids +cpu");
    sub(parent, f, "moat");
    struct stat st;
    assert_int_equal(stat(parent, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_string_equal(sbx_test_get(parent, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids +cpu");
}

static void test_root_writes_only_missing(void **state)
{
    struct fx *f = *state;
    char buf[256];
    sbx_test_put(f->fs, "cgroup.subtree_control", "cpu memory\n"); /* as the kernel shows it */
    sbx_test_put(f->fs, "memory.swap.max", "max\n");
    open_root(f);
    assert_string_equal(sbx_test_get(f->fs, "cgroup.subtree_control", buf, sizeof buf), "+pids");
    assert_true(cg_root_has_swap_accounting(f->root));
}

static void test_root_without_cpu_or_pids(void **state)
{
    struct fx *f = *state;
    char buf[256], parent[P];
    sbx_test_put(f->fs, "cgroup.controllers", "memory pids io\n");
    open_root(f);
    sub(parent, f, "moat");
    assert_string_equal(sbx_test_get(parent, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids");
    cg_root_free(f->root);
    f->root = NULL;

    sbx_test_put(f->fs, "cgroup.controllers", "cpu memory io\n");
    struct cg_root_opts o = {
        .fs = f->fs, .mountinfo = f->mountinfo, .name = "moat2", .force_version = 2, .fake = true};
    struct moat_err err = {0};
    assert_int_equal(cg_root_open(&o, &f->root, &err), -EOPNOTSUPP);
    assert_null(f->root);
    assert_true(strstr(err.msg, "pids") != NULL);
}

static void test_limits_and_subtree(void **state)
{
    struct fx *f = *state;
    char buf[256], box[P], step[P];
    sbx_test_put(f->fs, "memory.swap.max", "max\n");
    open_root(f);
    struct cg_group *g = NULL, *s = NULL;
    assert_int_equal(cg_create(f->root, "box1", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "step1", &s, NULL), 0);
    assert_int_equal(cg_set_limits(s, 128ull << 20, 64), 0);
    sub(box, f, "moat/box1");
    sub(step, f, "moat/box1/step1");
    assert_string_equal(sbx_test_get(box, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids +cpu");
    assert_string_equal(sbx_test_get(step, "memory.max", buf, sizeof buf), "134217728");
    assert_string_equal(sbx_test_get(step, "memory.swap.max", buf, sizeof buf), "0");
    assert_string_equal(sbx_test_get(step, "memory.oom.group", buf, sizeof buf), "1");
    assert_string_equal(sbx_test_get(step, "pids.max", buf, sizeof buf), "64");
    /* the box group itself gets no limits and no process */
    assert_false(sbx_test_exists(box, "memory.max"));
    assert_false(sbx_test_exists(box, "cgroup.procs"));

    assert_int_equal(cg_set_limits(s, 0, 0), 0); /* 0: no limit */
    assert_string_equal(sbx_test_get(step, "memory.max", buf, sizeof buf), "max");
    assert_string_equal(sbx_test_get(step, "pids.max", buf, sizeof buf), "max");

    assert_int_equal(cg_attach(s, 4242), 0);
    assert_string_equal(sbx_test_get(step, "cgroup.procs", buf, sizeof buf), "4242");
    assert_int_equal(cg_attach(s, 0), -EINVAL);
    cg_close(s);
    cg_close(g);
}

static void test_no_swap_file_without_accounting(void **state)
{
    struct fx *f = *state;
    char step[P];
    open_root(f);
    struct cg_group *g = NULL, *s = NULL;
    assert_int_equal(cg_create(f->root, "box1", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "step1", &s, NULL), 0);
    assert_int_equal(cg_set_limits(s, 1 << 20, 1), 0);
    sub(step, f, "moat/box1/step1");
    assert_true(sbx_test_exists(step, "memory.max"));
    assert_false(sbx_test_exists(step, "memory.swap.max"));
    cg_close(s);
    cg_close(g);
}

static void test_stats(void **state)
{
    struct fx *f = *state;
    char step[P];
    open_root(f);
    struct cg_group *g = NULL, *s = NULL;
    assert_int_equal(cg_create(f->root, "box1", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "step1", &s, NULL), 0);
    sub(step, f, "moat/box1/step1");

    struct cg_stats st = {.cpu_us = 99, .memory_peak = 99, .oom_kills = 99, .pids_current = 9};
    assert_int_equal(cg_read_stats(s, &st), 0); /* nothing written yet: zeros */
    assert_true(st.cpu_us == 0 && st.memory_peak == 0 && st.oom_kills == 0);
    assert_true(st.pids_current == 0);

    sbx_test_put(step, "cpu.stat",
                 "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\nnr_periods 0\n"
                 "nr_throttled 0\nthrottled_usec 0\n");
    sbx_test_put(step, "memory.peak", "33554432\n");
    sbx_test_put(step, "memory.events",
                 "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
    sbx_test_put(step, "pids.current", "5\n");
    assert_int_equal(cg_read_stats(s, &st), 0);
    assert_int_equal(st.cpu_us, 1234);
    assert_int_equal(st.memory_peak, 33554432);
    assert_int_equal(st.oom_kills, 1);
    assert_int_equal(st.pids_current, 5);

    /* the poll re-reads the kept fd */
    sbx_test_put(step, "cpu.stat", "usage_usec 987654\nuser_usec 1\n");
    uint64_t us = 0;
    assert_int_equal(cg_read_cpu_us(s, &us), 0);
    assert_int_equal(us, 987654);

    sbx_test_put(step, "cpu.stat", "usage_usec 12x\n");
    assert_int_equal(cg_read_cpu_us(s, &us), -EINVAL);
    sbx_test_put(step, "cpu.stat", "user_usec 12\n");
    assert_int_equal(cg_read_cpu_us(s, &us), -ENOENT);
    sbx_test_put(step, "cpu.stat", "usage_usec 1\n");
    sbx_test_put(step, "memory.events", "low 0\nhigh 0\n"); /* a kernel without oom_kill */
    assert_int_equal(cg_read_stats(s, &st), 0);
    assert_int_equal(st.oom_kills, 0);
    cg_close(s);
    cg_close(g);
}

/* A box group reused: a step in it reads its peak through the fd its
 * reset went through (6.12+), its CPU and OOM kills against the counters
 * at its start; recycling removes the step groups, turns the controllers
 * for them off (a process may join the group again), lifts the limits,
 * and gives up a group still holding memory after reclaim. */
static void test_step_begin_and_recycle(void **state)
{
    struct fx *f = *state;
    char box[P], buf[256];
    open_root(f);
    struct cg_group *g = NULL, *s2 = NULL;
    assert_int_equal(cg_create(f->root, "box1", &g, NULL), 0);
    sub(box, f, "moat/box1");
    sbx_test_put(box, "memory.peak", "300000000\n");
    sbx_test_put(box, "cpu.stat", "usage_usec 5000\n");
    sbx_test_put(box, "memory.events", "oom 2\noom_kill 2\n");

    struct cg_stats base = {0}, st = {0};
    assert_int_equal(cg_step_begin(g, &base), 0);
    assert_int_equal(base.cpu_us, 5000);
    assert_int_equal(base.oom_kills, 2);
    /* the fake kernel: the reset fd reads 0 until the peak moves */
    assert_int_equal(cg_read_stats(g, &st), 0);
    assert_int_equal(st.memory_peak, 0);
    sbx_test_put(box, "memory.peak", "4096\n");
    assert_int_equal(cg_read_stats(g, &st), 0);
    assert_int_equal(st.memory_peak, 4096);

    assert_int_equal(cg_set_limits(g, 1 << 20, 4), 0);
    assert_int_equal(cg_create_child(g, "s2", &s2, NULL), 0);
    cg_close(s2);
    assert_string_equal(sbx_test_get(box, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids +cpu");

    sbx_test_put(box, "memory.current", "2048\n");
    assert_int_equal(cg_recycle(g, 1024), -EBUSY);
    assert_string_equal(sbx_test_get(box, "memory.reclaim", buf, sizeof buf), "2048");
    sbx_test_put(box, "memory.current", "1024\n");
    assert_int_equal(cg_recycle(g, 1024), 0);
    assert_false(sbx_test_exists(box, "s2"));
    assert_string_equal(sbx_test_get(box, "cgroup.subtree_control", buf, sizeof buf), "");
    assert_string_equal(sbx_test_get(box, "memory.max", buf, sizeof buf), "max");
    assert_string_equal(sbx_test_get(box, "pids.max", buf, sizeof buf), "max");
    assert_string_equal(sbx_test_get(box, "memory.peak", buf, sizeof buf), "");
    cg_close(g);
}

static void test_kill_count_destroy(void **state)
{
    struct fx *f = *state;
    char buf[64], box[P], step[P];
    open_root(f);
    struct cg_group *g = NULL, *s = NULL;
    assert_int_equal(cg_create(f->root, "box1", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "step1", &s, NULL), 0);
    sub(box, f, "moat/box1");
    sub(step, f, "moat/box1/step1");
    sbx_test_put(step, "cgroup.procs", "10\n11\n12\n");
    assert_int_equal(cg_count_procs(g), 3); /* counts the step below the box */
    assert_int_equal(cg_count_procs(s), 3);
    sbx_test_put(step, "cgroup.procs", "10\nnope\n");
    assert_int_equal(cg_count_procs(s), -EINVAL);

    assert_int_equal(cg_kill_all(s), 0);
    assert_string_equal(sbx_test_get(step, "cgroup.kill", buf, sizeof buf), "1");
    assert_int_equal(cg_set_limits(s, 1 << 20, 4), 0);

    /* the box goes with its step; the step's own destroy finds nothing */
    assert_int_equal(cg_destroy(g), 0);
    assert_false(sbx_test_exists(box, ""));
    assert_int_equal(cg_destroy(s), 0);
    assert_int_equal(cg_destroy(NULL), 0);
    cg_close(NULL);
    assert_true(sbx_test_exists(f->fs, "moat"));
}

static void test_names_and_open(void **state)
{
    struct fx *f = *state;
    open_root(f);
    struct cg_group *g = NULL;
    const char *bad[] = {"", ".", "..", "a/b", "x\ny"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++)
        assert_int_equal(cg_create(f->root, bad[i], &g, NULL), -EINVAL);
    assert_int_equal(cg_open(f->root, "box9", &g), -ENOENT);
    assert_int_equal(cg_create(f->root, "box9", &g, NULL), 0);
    struct cg_group *g2 = NULL;
    struct moat_err err = {0};
    assert_int_equal(cg_create(f->root, "box9", &g2, &err), -EEXIST);
    assert_true(strstr(err.msg, "box9") != NULL);
    assert_int_equal(cg_open(f->root, "box9", &g2), 0);
    assert_true(cg_dirfd(g2, "memory") >= 0);
    assert_int_equal(cg_dirfd(g2, "memory"), cg_dirfd(g2, "anything"));
    cg_close(g2);
    cg_close(g);
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

static bool seen_has(const struct seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return true;
    return false;
}

static void test_for_each(void **state)
{
    struct fx *f = *state;
    open_root(f);
    const char *names[] = {"job-1", "job-2", "other"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(names); i++) {
        struct cg_group *g = NULL, *s = NULL;
        assert_int_equal(cg_create(f->root, names[i], &g, NULL), 0);
        assert_int_equal(cg_create_child(g, "step", &s, NULL), 0);
        cg_close(s);
        cg_close(g);
    }
    struct seen s = {0};
    assert_int_equal(cg_for_each(f->root, "job-", collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_true(seen_has(&s, "job-1") && seen_has(&s, "job-2"));
    char dir[P];
    sub(dir, f, "moat");
    assert_false(sbx_test_exists(dir, "job-1"));
    assert_false(sbx_test_exists(dir, "job-2"));
    assert_true(sbx_test_exists(dir, "other"));
    s.n = 0;
    assert_int_equal(cg_for_each(f->root, "job-", collect, &s), 0);
    assert_int_equal(s.n, 0);
}

/* The table the backend reads and writes through names the kernel's v2
 * files; check both the names and that the code writes exactly those. */
static void test_mapping_table(void **state)
{
    struct fx *f = *state;
    const struct cg_files *t = &cg_v2_files;
    assert_string_equal(t->memory_limit, "memory.max");
    assert_string_equal(t->swap_limit, "memory.swap.max");
    assert_string_equal(t->pids_limit, "pids.max");
    assert_string_equal(t->cpu_usage, "cpu.stat");
    assert_string_equal(t->cpu_usage_key, "usage_usec");
    assert_int_equal(t->cpu_units_per_us, 1);
    assert_string_equal(t->memory_peak, "memory.peak");
    assert_string_equal(t->oom_file, "memory.events");
    assert_string_equal(t->oom_key, "oom_kill");
    assert_string_equal(t->pids_current, "pids.current");
    assert_ptr_equal(cg_v2_backend.files, t);
    assert_int_equal(cg_v2_backend.version, 2);

    sbx_test_put(f->fs, "memory.swap.max", "max\n");
    open_root(f);
    struct cg_group *g = NULL;
    assert_int_equal(cg_create(f->root, "box", &g, NULL), 0);
    assert_int_equal(cg_set_limits(g, 4096, 3), 0);
    int fd = cg_dirfd(g, "memory");
    assert_true(cg_io_exists(fd, t->memory_limit));
    assert_true(cg_io_exists(fd, t->swap_limit));
    assert_true(cg_io_exists(fd, t->pids_limit));
    char dir[P];
    sub(dir, f, "moat/box");
    char text[64];
    (void)snprintf(text, sizeof text, "%s 77\n", t->cpu_usage_key);
    sbx_test_put(dir, t->cpu_usage, text);
    sbx_test_put(dir, t->memory_peak, "4096\n");
    (void)snprintf(text, sizeof text, "%s 2\n", t->oom_key);
    sbx_test_put(dir, t->oom_file, text);
    sbx_test_put(dir, t->pids_current, "3\n");
    struct cg_stats st;
    assert_int_equal(cg_read_stats(g, &st), 0);
    assert_true(st.cpu_us == 77 && st.memory_peak == 4096 && st.oom_kills == 2 &&
                st.pids_current == 3);
    cg_close(g);
}

static void test_detect_v2_beside_tmpfs(void **state)
{
    struct fx *f = *state;
    char uni[P], mi[4 * P];
    sub(uni, f, "unified");
    assert_int_equal(mkdir(uni, 0755), 0);
    sbx_test_put(uni, "cgroup.controllers", "memory pids\n");
    (void)snprintf(mi, sizeof mi,
                   "30 22 0:26 / %s rw - tmpfs tmpfs rw\n"
                   "31 30 0:27 / %s rw - cgroup2 cgroup2 rw\n",
                   f->fs, uni);
    sbx_test_put(f->tmp, "mountinfo", mi);
    struct cg_root_opts o = {.fs = f->fs, .mountinfo = f->mountinfo, .name = "moat", .fake = true};
    assert_int_equal(cg_root_open(&o, &f->root, NULL), 0);
    assert_int_equal(cg_root_version(f->root), 2);
    assert_true(sbx_test_exists(uni, "moat"));
    char buf[64];
    assert_string_equal(sbx_test_get(uni, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids");
    cg_root_free(f->root);
    f->root = NULL;

    sbx_test_put(uni, "cgroup.controllers", "hugetlb\n"); /* like a hybrid host, no v1 either */
    assert_int_equal(cg_root_open(&o, &f->root, NULL), -EOPNOTSUPP);
}

static void test_parsers(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cg_parse_keyed("a 1\noom 5\noom_kill 7\n", "oom", &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(cg_parse_keyed("a 1\noom 5\noom_kill 7", "oom_kill", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(cg_parse_keyed("oom_kill_disable 0\n", "oom_kill", &v), -ENOENT);
    assert_int_equal(cg_parse_keyed("oom_kill \n", "oom_kill", &v), -EINVAL);
    assert_int_equal(cg_parse_keyed("oom_kill -1\n", "oom_kill", &v), -EINVAL);
    assert_int_equal(cg_parse_keyed("oom_kill 99999999999999999999\n", "oom_kill", &v), -ERANGE);
    assert_int_equal(cg_parse_keyed("", "x", &v), -ENOENT);
    assert_int_equal(cg_parse_u64("42\n", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cg_parse_u64("42\n43\n", &v), -EINVAL);
    assert_int_equal(cg_parse_u64("", &v), -EINVAL);
    assert_int_equal(cg_parse_u64("max\n", &v), -EINVAL);
    assert_true(cg_words_has("cpu memory pids\n", "pids", ' '));
    assert_true(cg_words_has("+memory +pids", "memory", ' '));
    assert_false(cg_words_has("cpuset io", "cpu", ' '));
    assert_false(cg_words_has("", "cpu", ' '));
    assert_true(cg_words_has("rw,cpu,cpuacct", "cpuacct", ','));
    assert_false(cg_words_has("rw,name=systemd", "systemd", ','));
}

/* mkdir -p of rel under the fake mount */
static void mkdirs(const struct fx *f, const char *rel)
{
    char path[P];
    sub(path, f, rel);
    for (char *p = path + strlen(f->fs) + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
        *p = c;
        if (!c)
            break;
    }
}

/* --cgroup-parent self under a service manager: the boxes' parent is made
 * in moat's own group, after its processes left for the leaf
 * "supervisor"; controllers are enabled there, not at the root. */
static void test_delegated_self(void **state)
{
    struct fx *f = *state;
    char buf[256], base[P], leaf[P], parent[P];
    sub(base, f, "system.slice/moat.service");
    mkdirs(f, "system.slice/moat.service");
    sbx_test_put(base, "cgroup.controllers", "memory pids cpu\n");
    sbx_test_put(base, "cgroup.procs", "101\n202\n");
    sbx_test_put(f->tmp, "self", "0::/system.slice/moat.service\n");
    char self[P];
    (void)snprintf(self, sizeof self, "%s/self", f->tmp);
    struct cg_root_opts o = {.fs = f->fs, .mountinfo = f->mountinfo, .name = "moat",
                             .under = "self", .self_cgroup = self, .force_version = 2,
                             .fake = true};
    struct moat_err err = {0};
    assert_int_equal(cg_root_open(&o, &f->root, &err), 0);
    assert_string_equal(cg_root_under(f->root), "/system.slice/moat.service");
    /* both processes were written to the leaf (a fake file keeps the last) */
    sub(leaf, f, "system.slice/moat.service/supervisor");
    assert_string_equal(sbx_test_get(leaf, "cgroup.procs", buf, sizeof buf), "202");
    assert_string_equal(sbx_test_get(base, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids +cpu");
    sub(parent, f, "system.slice/moat.service/moat");
    assert_string_equal(sbx_test_get(parent, "cgroup.subtree_control", buf, sizeof buf),
                        "+memory +pids +cpu");
    /* the root's own subtree is left alone */
    assert_false(sbx_test_exists(f->fs, "cgroup.subtree_control"));
    cg_root_free(f->root);
    f->root = NULL;

    /* a group named by path: made there, nobody moved */
    sub(base, f, "a/b");
    mkdirs(f, "a/b");
    o.under = "/a/b";
    assert_int_equal(cg_root_open(&o, &f->root, &err), 0);
    assert_string_equal(cg_root_under(f->root), "/a/b");
    sub(leaf, f, "a/b/supervisor");
    assert_int_equal(access(leaf, F_OK), -1);
    cg_root_free(f->root);
    f->root = NULL;

    /* refused: a way out of the hierarchy, a group that is not there */
    o.under = "/a/../..";
    assert_int_equal(cg_root_open(&o, &f->root, &err), -EINVAL);
    o.under = "/no/such";
    assert_int_equal(cg_root_open(&o, &f->root, &err), -ENOENT);
    assert_null(f->root);
}

/* /proc/self/cgroup as v1 hybrids and v2 write it. */
static void test_own_path(void **state)
{
    struct fx *f = *state;
    char self[P], out[256];
    (void)snprintf(self, sizeof self, "%s/self", f->tmp);
    sbx_test_put(f->tmp, "self",
                 "9:name=systemd:/user.slice\n8:pids:/\n4:memory:/process_api/5b38\n"
                 "2:cpu,cpuacct:/svc\n0::/unified/x\n");
    assert_int_equal(cg_own_path(self, "memory", out, sizeof out), 0);
    assert_string_equal(out, "/process_api/5b38");
    assert_int_equal(cg_own_path(self, "pids", out, sizeof out), 0);
    assert_string_equal(out, "/");
    assert_int_equal(cg_own_path(self, "cpuacct", out, sizeof out), 0);
    assert_string_equal(out, "/svc");
    assert_int_equal(cg_own_path(self, NULL, out, sizeof out), 0);
    assert_string_equal(out, "/unified/x");
    assert_int_equal(cg_own_path(self, "blkio", out, sizeof out), -ENOENT);
    sbx_test_put(f->tmp, "self", "4:memory:/m\n");
    assert_int_equal(cg_own_path(self, NULL, out, sizeof out), -ENOENT);
    assert_true(cg_under_valid("") && cg_under_valid("self") && cg_under_valid("/a/b-c"));
    assert_false(cg_under_valid("rel") || cg_under_valid("/a/..") || cg_under_valid("/./a") ||
                 cg_under_valid("selfish"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root_enables_controllers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_writes_only_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_without_cpu_or_pids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_subtree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_swap_file_without_accounting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_begin_and_recycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_count_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_for_each, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapping_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detect_v2_beside_tmpfs, setup, teardown),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test_setup_teardown(test_delegated_self, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
