/* The cgroup backends against the host's real cgroupfs (v1 or v2): limits
 * that the kernel enforces (OOM kill, fork failing with EAGAIN), stats,
 * kill_all, destroy, sweep. Needs root; returns 77 (skipped) without it.
 * As root, a host without a usable cgroup hierarchy fails the group setup:
 * moat cannot run a box there. Everything lives under a parent group
 * "moat-test-<pid>" that the group teardown removes, even after a failed
 * assertion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup-internal.h"
#include "moat_test.h"

#define P 512
#define MiB (1ull << 20)

struct live {
    struct cg_root *root;
    char name[64];
    char parents[CG_HIER_MAX][P]; /* <mount>/<name>, for the final rmdir */
    size_t nparents;
    struct cg_group *box, *step; /* of the running test, for its teardown */
    char v2_parent[P];           /* hybrid hosts: the parent made in cgroup2 */
    char v2_mount[P];            /* a cgroup2 mount the test made, when the host had none */
};

/* ---- helpers ---- */

static int path_of_fd(int fd, char *out, size_t size)
{
    char link[64];
    (void)snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    if (n < 0)
        return -errno;
    out[n] = '\0';
    return 0;
}

/* path of g's directory in each of the three controllers' hierarchies */
static void paths_of(const struct cg_group *g, char out[CG__CTL_MAX][P])
{
    for (unsigned i = 0; i < CG__CTL_MAX; i++) {
        int fd = cg_dirfd(g, cg_ctl_names[i]);
        assert_true(fd >= 0);
        assert_int_equal(path_of_fd(fd, out[i], P), 0);
    }
}

static void assert_gone(char paths[CG__CTL_MAX][P])
{
    for (unsigned i = 0; i < CG__CTL_MAX; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0)
            fail_msg("%s still exists", paths[i]);
        assert_int_equal(errno, ENOENT);
    }
}

static void reap_all(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static pid_t fork_waiting(int go[2])
{
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        (void)close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(100);
    }
    return pid;
}

static void release(int go[2], pid_t pid, struct cg_group *g)
{
    (void)close(go[0]);
    assert_int_equal(cg_attach(g, pid), 0);
    assert_int_equal(write(go[1], "x", 1), 1);
    (void)close(go[1]);
}

static void make_box(struct live *l, const char *name, uint64_t mem, uint32_t procs)
{
    struct moat_err err = {0};
    int r = cg_create(l->root, name, &l->box, &err);
    if (r < 0)
        fail_msg("cg_create: %s", err.msg);
    r = cg_create_child(l->box, "step", &l->step, &err);
    if (r < 0)
        fail_msg("cg_create_child: %s", err.msg);
    assert_int_equal(cg_set_limits(l->step, mem, procs), 0);
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    struct live *l = calloc(1, sizeof *l);
    assert_non_null(l);
    (void)snprintf(l->name, sizeof l->name, "moat-test-%d", (int)getpid());
    struct cg_root_opts o = {
        .fs = "/sys/fs/cgroup", .mountinfo = "/proc/self/mountinfo", .name = l->name};
    struct moat_err err = {0};
    int r = cg_root_open(&o, &l->root, &err);
    if (r < 0) {
        /* as root this is the host's fault, and a box could not run here */
        print_error("no usable cgroup hierarchy under /sys/fs/cgroup: cg_root_open: %s (%d)\n",
                    err.msg, r);
        free(l);
        return -1;
    }
    print_message("cgroup v%d\n", cg_root_version(l->root));
    *state = l; /* from here on the teardown removes what is made */
    /* orphans of the test's children come back to us to be reaped */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct cg_group *probe = NULL;
    assert_int_equal(cg_create(l->root, "probe", &probe, NULL), 0);
    char paths[CG__CTL_MAX][P];
    paths_of(probe, paths);
    for (unsigned i = 0; i < CG__CTL_MAX; i++) {
        char *parent = dirname(paths[i]);
        bool dup = false;
        for (size_t j = 0; j < l->nparents; j++)
            dup = dup || strcmp(l->parents[j], parent) == 0;
        if (!dup)
            (void)moat_strlcpy(l->parents[l->nparents++], parent, P);
    }
    assert_int_equal(cg_destroy(probe), 0);
    return 0;
}

static void sweep_cb(struct cg_root *root, const char *name, void *arg)
{
    (void)arg;
    struct cg_group *g = NULL;
    if (cg_open(root, name, &g) == 0)
        (void)cg_destroy(g);
}

static int group_teardown(void **state)
{
    struct live *l = *state;
    if (!l)
        return 0; /* group_setup failed, and said so */
    int ret = 0;
    (void)cg_for_each(l->root, "", sweep_cb, NULL);
    cg_root_free(l->root);
    if (l->v2_parent[0] && rmdir(l->v2_parent) < 0 && errno != ENOENT) {
        print_error("cleanup left %s behind\n", l->v2_parent);
        ret = -1;
    }
    for (size_t i = 0; i < l->nparents; i++) {
        int tries = 0;
        while (rmdir(l->parents[i]) < 0 && errno == EBUSY && tries++ < 100)
            (void)usleep(10000);
        struct stat st;
        if (stat(l->parents[i], &st) == 0) {
            print_error("cleanup left %s behind\n", l->parents[i]);
            ret = -1;
        }
    }
    if (l->v2_mount[0] && (umount2(l->v2_mount, MNT_DETACH) < 0 || rmdir(l->v2_mount) < 0)) {
        print_error("cleanup left %s behind\n", l->v2_mount);
        ret = -1;
    }
    reap_all();
    free(l);
    return ret;
}

static int test_teardown(void **state)
{
    struct live *l = *state;
    (void)cg_destroy(l->step);
    (void)cg_destroy(l->box);
    l->step = l->box = NULL;
    reap_all();
    return 0;
}

/* ---- tests ---- */

static void test_oom_kill_and_stats(void **state)
{
    struct live *l = *state;
    make_box(l, "oom", 32 * MiB, 8);
    int go[2];
    pid_t pid = fork_waiting(go);
    if (pid == 0) {
        size_t len = 100 * MiB;
        volatile char *p =
            mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            _exit(101);
        for (size_t i = 0; i < len; i += 4096)
            p[i] = 1;
        _exit(0); /* not reached: the group's limit kills first */
    }
    release(go, pid, l->step);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    struct cg_stats st;
    assert_int_equal(cg_read_stats(l->step, &st), 0);
    print_message("oom: cpu_us=%llu peak=%llu oom_kills=%llu pids=%llu\n",
                  (unsigned long long)st.cpu_us, (unsigned long long)st.memory_peak,
                  (unsigned long long)st.oom_kills, (unsigned long long)st.pids_current);
    assert_true(st.oom_kills >= 1);
    assert_true(st.memory_peak >= 24 * MiB);
    assert_true(st.memory_peak <= 33 * MiB);
    assert_true(st.cpu_us > 0);
    assert_int_equal(cg_count_procs(l->step), 0);
    /* the box sees its step's kill */
    assert_int_equal(cg_read_stats(l->box, &st), 0);
    assert_true(st.oom_kills >= 1);
}

static void test_pids_limit_and_kill_all(void **state)
{
    struct live *l = *state;
    make_box(l, "forkbomb", 64 * MiB, 8);
    int res[2];
    assert_int_equal(pipe2(res, O_CLOEXEC), 0);
    int go[2];
    pid_t pid = fork_waiting(go);
    if (pid == 0) {
        int n = 0, e = 0;
        for (int i = 0; i < 50; i++) {
            pid_t c = fork();
            if (c == 0) {
                for (;;)
                    pause();
            }
            if (c < 0) {
                e = errno;
                break;
            }
            n++;
        }
        int out[2] = {n, e};
        if (write(res[1], out, sizeof out) != (ssize_t)sizeof out)
            _exit(102);
        for (;;)
            pause();
    }
    release(go, pid, l->step);
    (void)close(res[1]);
    int out[2] = {-1, -1};
    assert_int_equal(read_full(res[0], out, sizeof out), 0);
    (void)close(res[0]);
    print_message("forks before failure: %d, errno %d\n", out[0], out[1]);
    assert_int_equal(out[1], EAGAIN);
    assert_in_range(out[0], 1, 7); /* 8 pids, the first process included */
    assert_int_equal(cg_count_procs(l->step), out[0] + 1);
    assert_int_equal(cg_count_procs(l->box), out[0] + 1);
    struct cg_stats st;
    assert_int_equal(cg_read_stats(l->step, &st), 0);
    assert_int_equal(st.pids_current, (uint64_t)out[0] + 1);

    assert_int_equal(cg_kill_all(l->box), 0); /* from the box: reaches the step */
    assert_int_equal(cg_count_procs(l->step), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void spin_ms(long ms)
{
    struct timespec a, b;
    (void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    do
        (void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

/* escapees: new sessions, double forks, busy loops, SIGTERM ignored */
static void test_kill_all_escapees_and_poll_cpu(void **state)
{
    struct live *l = *state;
    make_box(l, "escape", 64 * MiB, 32);
    int go[2];
    pid_t pid = fork_waiting(go);
    if (pid == 0) {
        (void)signal(SIGTERM, SIG_IGN);
        for (int i = 0; i < 4; i++) {
            if (fork() == 0) {
                (void)setsid();
                if (fork() != 0)
                    _exit(0);
                for (;;)
                    spin_ms(1000);
            }
        }
        for (;;)
            spin_ms(1000);
    }
    release(go, pid, l->step);
    /* Until the five spinners (the first process and four escapees, whose
     * intermediate parents exit) are all in the group and it has used
     * 50 ms of CPU: the counter never goes back meanwhile. Bounded: under
     * a loaded host it takes longer, never forever. */
    uint64_t prev = 0, us = 0, dl = moat_test_deadline_ms(10000);
    int n = 0;
    do {
        assert_int_equal(cg_read_cpu_us(l->step, &us), 0);
        assert_true(us >= prev);
        prev = us;
        n = cg_count_procs(l->step);
    } while ((us < 50000 || n < 5) && moat_test_before(dl));
    print_message("cpu of %d spinners: %llu us\n", n, (unsigned long long)us);
    if (us < 50000 || n < 5)
        fail_msg("after 10 s: %d processes in the group (want 5), cpu %llu us (want 50000)", n,
                 (unsigned long long)us);
    uint64_t t0 = moat_now_ns();
    assert_int_equal(cg_kill_all(l->step), 0);
    print_message("kill_all took %llu us\n", (unsigned long long)(moat_now_ns() - t0) / 1000);
    assert_int_equal(cg_count_procs(l->step), 0);
    assert_int_equal(cg_count_procs(l->box), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_destroy_leaves_nothing(void **state)
{
    struct live *l = *state;
    make_box(l, "destroy", 64 * MiB, 8);
    struct cg_group *s2 = NULL;
    assert_int_equal(cg_create_child(l->box, "step2", &s2, NULL), 0);
    int go[2];
    pid_t pid = fork_waiting(go);
    if (pid == 0) {
        for (;;)
            pause();
    }
    release(go, pid, l->step);
    char box[CG__CTL_MAX][P], step[CG__CTL_MAX][P], step2[CG__CTL_MAX][P];
    paths_of(l->box, box);
    paths_of(l->step, step);
    paths_of(s2, step2);

    /* the box, with a live process in one step: all of it goes */
    assert_int_equal(cg_destroy(l->box), 0);
    l->box = NULL;
    assert_gone(step);
    assert_gone(step2);
    assert_gone(box);
    struct cg_group *g = NULL;
    assert_int_equal(cg_open(l->root, "destroy", &g), -ENOENT);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* stale handles of the steps: nothing left to do, no error */
    assert_int_equal(cg_destroy(s2), 0);
    assert_int_equal(cg_destroy(l->step), 0);
    l->step = NULL;
}

struct found {
    char names[4][32];
    size_t n;
};

static void found_cb(struct cg_root *root, const char *name, void *arg)
{
    struct found *f = arg;
    if (f->n < 4)
        (void)moat_strlcpy(f->names[f->n++], name, sizeof f->names[0]);
    struct cg_group *g = NULL;
    assert_int_equal(cg_open(root, name, &g), 0);
    assert_int_equal(cg_destroy(g), 0);
}

static void test_sweep_finds_leftovers(void **state)
{
    struct live *l = *state;
    struct cg_group *g = NULL, *s = NULL;
    assert_int_equal(cg_create(l->root, "leftover-a", &g, NULL), 0);
    assert_int_equal(cg_create_child(g, "step", &s, NULL), 0);
    char a[CG__CTL_MAX][P];
    paths_of(g, a);
    cg_close(s);
    cg_close(g); /* as after a crash: the directories stay */
    /* v1: a crash between mkdirs leaves a group in the last hierarchy only */
    char b[P];
    (void)snprintf(b, sizeof b, "%s/leftover-b", l->parents[l->nparents - 1]);
    assert_int_equal(mkdir(b, 0755), 0);
    assert_int_equal(cg_create(l->root, "kept", &g, NULL), 0);
    cg_close(g);

    struct found f = {0};
    assert_int_equal(cg_for_each(l->root, "leftover-", found_cb, &f), 0);
    assert_int_equal(f.n, 2);
    assert_true(strcmp(f.names[0], "leftover-a") == 0 || strcmp(f.names[1], "leftover-a") == 0);
    assert_true(strcmp(f.names[0], "leftover-b") == 0 || strcmp(f.names[1], "leftover-b") == 0);
    assert_gone(a);
    struct stat st;
    assert_int_equal(stat(b, &st), -1);
    assert_int_equal(cg_open(l->root, "kept", &g), 0);
    assert_int_equal(cg_destroy(g), 0);
}

/* A host whose cgroup v1 hierarchies hold every controller may mount no
 * cgroup2 at all, yet its kernel has one: mount it, in a mount namespace
 * of the test's own (private, so nothing reaches the host's table and the
 * mount dies with the process at worst). -1 with a skip noted when the
 * kernel has no cgroup2 (ENODEV); any other failure fails the test. */
static int mount_own_cgroup2(struct live *l, char *mnt, size_t size)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fail_msg("private mount namespace for a cgroup2 mount: %s", strerror(errno));
    (void)snprintf(l->v2_mount, sizeof l->v2_mount, "/tmp/moat-test-cg2-%d", (int)getpid());
    assert_int_equal(mkdir(l->v2_mount, 0700), 0);
    if (mount("cgroup2", l->v2_mount, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        int e = errno;
        (void)rmdir(l->v2_mount);
        l->v2_mount[0] = '\0';
        if (e != ENODEV)
            fail_msg("no cgroup2 mount on this host, and mounting one failed: %s", strerror(e));
        moat_test_skip_case("the kernel has no cgroup2 filesystem: v2 kill path not checked");
        return -1;
    }
    (void)moat_strlcpy(mnt, l->v2_mount, size);
    return 0;
}

/* The v2 kill path (cgroup.kill, cgroup.events) and cpu.stat need no
 * controller, so they can be checked on any cgroup2 mount, including the
 * controller-less one of a hybrid host. The root is built by hand because
 * cg_root_open rightly refuses a mount without memory and pids. */
static void test_v2_kill_without_controllers(void **state)
{
    struct live *l = *state;
    char mnt[256];
    if (cg_v2_find_mount("/sys/fs/cgroup", "/proc/self/mountinfo", mnt, sizeof mnt) < 0 &&
        mount_own_cgroup2(l, mnt, sizeof mnt) < 0)
        return; /* the kernel has no cgroup2: noted as a skip */
    struct cg_root *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->c.be = &cg_v2_backend;
    r->c.nhier = 1;
    for (unsigned h = 0; h < CG_HIER_MAX; h++)
        r->parent_fd[h] = -1;
    int mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(mfd >= 0);
    int rc = cg_mkdir_open(mfd, l->name, false, &r->parent_fd[0]);
    (void)close(mfd);
    assert_int_equal(rc, 0);
    (void)snprintf(l->v2_parent, sizeof l->v2_parent, "%s/%s", mnt, l->name);

    struct cg_group *box = NULL, *step = NULL;
    assert_int_equal(cg_create(r, "box", &box, NULL), 0);
    assert_int_equal(cg_create_child(box, "step", &step, NULL), 0);
    int go[2];
    pid_t pid = fork_waiting(go);
    if (pid == 0) {
        for (int i = 0; i < 3; i++)
            if (fork() == 0)
                break;
        for (;;)
            spin_ms(1000);
    }
    release(go, pid, step);
    /* Until the four spinners are in and have used 10 ms of CPU. */
    uint64_t us = 0, dl = moat_test_deadline_ms(10000);
    int n = 0;
    do {
        assert_int_equal(cg_read_cpu_us(step, &us), 0);
        n = cg_count_procs(box);
    } while ((us <= 10000 || n < 4) && moat_test_before(dl));
    print_message("v2 at %s: %d processes, cpu %llu us\n", mnt, n, (unsigned long long)us);
    if (us <= 10000 || n < 4)
        fail_msg("after 10 s: %d processes in the box (want 4), cpu %llu us (want 10000)", n,
                 (unsigned long long)us);
    assert_int_equal(cg_kill_all(box), 0);
    assert_int_equal(cg_count_procs(box), 0);
    assert_int_equal(cg_count_procs(step), 0);
    char path[P];
    assert_int_equal(path_of_fd(cg_dirfd(step, "pids"), path, sizeof path), 0);
    assert_int_equal(cg_destroy(box), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(cg_destroy(step), 0);
    cg_root_free(r);
    assert_int_equal(rmdir(l->v2_parent) == 0 || errno == ENOENT, 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

int main(void)
{
    if (!moat_test_have_root("live cgroup"))
        return MOAT_TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_oom_kill_and_stats, test_teardown),
        cmocka_unit_test_teardown(test_pids_limit_and_kill_all, test_teardown),
        cmocka_unit_test_teardown(test_kill_all_escapees_and_poll_cpu, test_teardown),
        cmocka_unit_test_teardown(test_destroy_leaves_nothing, test_teardown),
        cmocka_unit_test_teardown(test_sweep_finds_leftovers, test_teardown),
        cmocka_unit_test_teardown(test_v2_kill_without_controllers, test_teardown),
    };
    return moat_test_result(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
