/*
 * The warm pool through the public API: boxes taken one after another and
 * from several threads at once, the counters, a pool whose spawner died,
 * and what sbx_pool_stop leaves behind (nothing: no process of a box uid,
 * no box cgroup).
 *
 * Needs root; returns 77 (skipped) without it. The context (uid range, run
 * directory, parent cgroup "moat-ut-pool-<pid>") is the group's; its
 * teardown sweeps and removes everything even after a failed assertion.
 * sbx_pool_start forks: it is only called while no test thread runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "box-internal.h"
#include "cgroup-internal.h"
#include "sbx_test.h"

#define MiB (1ull << 20)
#define NTHREADS 4
#define PER_THREAD 25
#define NSEQ 20

struct fx {
    struct sbx_test_fx x;
    struct sbx_pool *pool; /* of the running test, stopped by its teardown */
    struct sbx_box *box;   /* likewise freed */
};

static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
static const char *const true_argv[] = {"/usr/bin/true", NULL};

static struct sbx_step true_step(void)
{
    return (struct sbx_step){.argv = true_argv,
                             .envp = env,
                             .limits = {.cpu_ms = 2000,
                                        .wall_ms = 10000,
                                        .memory_bytes = 64 * MiB,
                                        .max_procs = 8,
                                        .output_bytes = 4096,
                                        .file_bytes = MiB,
                                        .open_files = 32,
                                        .stack_bytes = 8 * MiB}};
}

/* Host processes running as one of the context's box uids (any of real,
 * effective, saved, fs: /proc/<pid> of a non-dumpable process is root's). */
static size_t box_uid_procs(const struct fx *f, pid_t *first)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    size_t n = 0;
    uint32_t lo = f->x.ctx->cfg.first_uid, hi = lo + f->x.ctx->cfg.uid_count;
    pid_t pid;
    char text[4096];
    while (sbx_test_next_proc(d, &pid, text, sizeof text)) {
        const char *l = strstr(text, "\nUid:");
        unsigned u[4];
        if (!l || sscanf(l + 1, "Uid: %u %u %u %u", &u[0], &u[1], &u[2], &u[3]) != 4)
            continue;
        bool mine = false;
        for (int i = 0; i < 4; i++)
            mine |= u[i] >= lo && u[i] < hi;
        if (mine && n++ == 0 && first)
            *first = pid;
    }
    (void)closedir(d);
    return n;
}

/* box-* directories under the parent groups. */
static size_t box_cgroups(const struct fx *f, char *first, size_t size)
{
    size_t n = 0;
    for (unsigned h = 0; h < f->x.nparents; h++) {
        DIR *d = opendir(f->x.parents[h]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!str_has_prefix(e->d_name, "box-"))
                continue;
            if (n++ == 0 && first)
                (void)snprintf(first, size, "%s/%s", f->x.parents[h], e->d_name);
        }
        (void)closedir(d);
    }
    return n;
}

static void assert_nothing_left(const struct fx *f)
{
    pid_t pid = 0;
    size_t n = box_uid_procs(f, &pid);
    if (n)
        fail_msg("%zu process(es) of a box uid left, e.g. pid %d", n, (int)pid);
    char cg[PATH_MAX + 300] = "";
    n = box_cgroups(f, cg, sizeof cg);
    if (n)
        fail_msg("%zu box cgroup(s) left, e.g. %s", n, cg);
}

/* The pool's spawner: the test process's child named moat-spawner. */
static pid_t find_spawner(void)
{
    DIR *d = opendir("/proc");
    pid_t found = -1;
    if (!d)
        return -1;
    pid_t pid;
    char text[4096];
    while (sbx_test_next_proc(d, &pid, text, sizeof text)) {
        const char *pp = strstr(text, "\nPPid:");
        int ppid;
        if (str_has_prefix(text, "Name:\tmoat-spawner\n") && pp &&
            sscanf(pp + 1, "PPid: %d", &ppid) == 1 && ppid == getpid()) {
            found = pid; /* one pool at a time */
        }
    }
    (void)closedir(d);
    return found;
}

static void start_pool(struct fx *f, uint32_t warm)
{
    struct moat_err err = {0};
    int r = sbx_pool_start(f->x.ctx, warm, &f->pool, &err);
    if (r < 0)
        fail_msg("sbx_pool_start: %s (%d)", err.msg, r);
}

/* Takes a box, runs /usr/bin/true, frees the box: 0 or a negative errno
 * with the reason in msg (threads cannot use cmocka's assertions). */
static int take_run_free(struct sbx_pool *pool, char *msg, size_t size)
{
    struct moat_err err = {0};
    struct sbx_box *box = NULL;
    int r = sbx_pool_take(pool, 20000, &box, &err);
    if (r < 0) {
        (void)snprintf(msg, size, "take: %s", err.msg);
        return r;
    }
    struct sbx_step step = true_step();
    struct sbx_result res;
    sbx_result_init(&res);
    r = sbx_box_run(box, &step, &res, &err);
    if (r < 0)
        (void)snprintf(msg, size, "run: %s", err.msg);
    if (r == 0 &&
        (res.verdict != SBX_VERDICT_OK || res.exit_code != 0 || res.out.len || res.err.len)) {
        (void)snprintf(msg, size, "verdict %s exit %d: %s", sbx_verdict_name(res.verdict),
                       res.exit_code, res.message);
        r = -EIO;
    }
    sbx_result_release(&res);
    sbx_box_free(box);
    return r;
}

struct worker {
    struct sbx_pool *pool;
    int failures;
    char msg[300];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char msg[300];
        if (take_run_free(w->pool, msg, sizeof msg) < 0 && w->failures++ == 0)
            moat_strlcpy(w->msg, msg, sizeof w->msg);
    }
    return NULL;
}

/* ---- tests ---- */

static void test_take_sequential_and_threads(void **state)
{
    struct fx *f = *state;
    start_pool(f, 2);
    for (int i = 0; i < NSEQ; i++) {
        char msg[300];
        if (take_run_free(f->pool, msg, sizeof msg) < 0)
            fail_msg("box %d: %s", i, msg);
    }
    struct sbx_pool_stats st;
    sbx_pool_stats(f->pool, &st);
    assert_true(st.made >= NSEQ);
    assert_int_equal(st.busy, 0);

    struct worker w[NTHREADS] = {0};
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].pool = f->pool;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        if (w[i].failures)
            fail_msg("thread %d: %d of %d failed, first: %s", i, w[i].failures, PER_THREAD,
                     w[i].msg);

    sbx_pool_stats(f->pool, &st);
    if (st.made < NSEQ + NTHREADS * PER_THREAD || st.busy != 0 || st.failed != 0)
        fail_msg("made %llu busy %u failed %llu warm %u", (unsigned long long)st.made, st.busy,
                 (unsigned long long)st.failed, st.warm);
    assert_true(st.warm <= 2);

    /* a box taken and not freed is busy, and the pool still stops cleanly */
    struct sbx_box *box = NULL;
    struct moat_err err = {0};
    assert_int_equal(sbx_pool_take(f->pool, 20000, &box, &err), 0);
    sbx_pool_stats(f->pool, &st);
    assert_int_equal(st.busy, 1);
    sbx_box_free(box);
    sbx_pool_stats(f->pool, &st);
    assert_int_equal(st.busy, 0);

    sbx_pool_stop(f->pool);
    f->pool = NULL;
    assert_nothing_left(f);
}

static void wait_warm(struct fx *f, uint32_t warm)
{
    struct sbx_pool_stats st = {0};
    for (int i = 0; i < 1000; i++) {
        sbx_pool_stats(f->pool, &st);
        if (st.warm == warm)
            return;
        (void)usleep(10000);
    }
    fail_msg("%u warm boxes after 10 s, expected %u", st.warm, warm);
}

static void test_take_times_out(void **state)
{
    struct fx *f = *state;
    start_pool(f, 1);
    wait_warm(f, 1);
    /* A stopped spawner makes no box: the queued one is taken, the next
     * take waits its timeout out and fails. */
    pid_t sp = find_spawner();
    assert_true(sp > 0);
    assert_int_equal(kill(sp, SIGSTOP), 0);
    struct moat_err err = {0};
    struct sbx_box *a = NULL, *b = NULL;
    assert_int_equal(sbx_pool_take(f->pool, 0, &a, &err), 0);
    uint64_t t0 = moat_now_ns();
    assert_int_equal(sbx_pool_take(f->pool, 300, &b, &err), -ETIMEDOUT);
    uint64_t took_ms = (moat_now_ns() - t0) / 1000000;
    if (took_ms < 290 || took_ms > 1500)
        fail_msg("a 300 ms take timed out after %llu ms", (unsigned long long)took_ms);
    assert_int_equal(err.code, -ETIMEDOUT);
    t0 = moat_now_ns();
    assert_int_equal(sbx_pool_take(f->pool, 0, &b, &err), -ETIMEDOUT);
    assert_true((moat_now_ns() - t0) / 1000000 < 100);
    struct sbx_pool_stats st;
    sbx_pool_stats(f->pool, &st);
    assert_int_equal(st.busy, 1);
    assert_int_equal(kill(sp, SIGCONT), 0);
    /* `warm` counts the boxes alive: the next one is made when one is
     * freed, not when it is taken. */
    sbx_box_free(a);
    assert_int_equal(sbx_pool_take(f->pool, 20000, &b, &err), 0);
    sbx_box_free(b);
    sbx_pool_stop(f->pool);
    f->pool = NULL;
    assert_nothing_left(f);
}

static void test_spawner_killed(void **state)
{
    struct fx *f = *state;
    start_pool(f, 2);
    wait_warm(f, 2); /* so that boxes are queued to us */
    pid_t sp = find_spawner();
    assert_true(sp > 0);
    assert_int_equal(kill(sp, SIGKILL), 0);
    /* Its exit, once it is a zombie, has sent the boxes' inits their
     * PR_SET_PDEATHSIG; before, a queued box may still work. */
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)sp, &si, WEXITED | WNOWAIT), 0);

    /* Boxes already queued may still be handed out, but their init died with
     * the spawner (PR_SET_PDEATHSIG): running a step fails, never hangs. The
     * take after them fails at once. SIGPIPE keeps its default action: a
     * dead init is an error, not a signal. */
    uint64_t t0 = moat_now_ns();
    int r = 0, taken = 0;
    while (taken < 10) {
        struct moat_err err = {0};
        r = sbx_pool_take(f->pool, 5000, &f->box, &err);
        if (r < 0) {
            assert_true(err.msg[0] != '\0');
            break;
        }
        taken++;
        struct sbx_step step = true_step();
        struct sbx_result res;
        sbx_result_init(&res);
        int rr = sbx_box_run(f->box, &step, &res, &err);
        sbx_result_release(&res);
        assert_true(rr < 0);
        assert_int_equal(res.verdict, SBX_VERDICT_INTERNAL_ERROR);
        sbx_box_free(f->box);
        f->box = NULL;
    }
    /* EOF, or a reset when credits we sent were still unread */
    if (r != -EPIPE && r != -ECONNRESET)
        fail_msg("take after the spawner died: %d (%s) after %d boxes", r, strerror(-r), taken);
    assert_true(taken <= 2);
    uint64_t took_ms = (moat_now_ns() - t0) / 1000000;
    if (took_ms > 3000)
        fail_msg("took %llu ms to fail", (unsigned long long)took_ms);

    /* The boxes' processes died with the spawner... */
    for (int i = 0; i < 200 && box_uid_procs(f, NULL) > 0; i++)
        (void)usleep(10000);
    assert_int_equal(box_uid_procs(f, NULL), 0);
    sbx_pool_stop(f->pool); /* reaps the spawner */
    f->pool = NULL;
    /* ...their cgroups stayed (nobody was left to remove them) until the
     * next sweep, which finds their leases free. */
    assert_true(box_cgroups(f, NULL, 0) > 0);
    lease_sweep(f->x.ctx);
    assert_nothing_left(f);
}

/* ---- fixtures ---- */

/* The lean moat binary the spawner re-executes (ctest sets it). */
static const char *lean_exe(void)
{
    const char *lean = getenv("MOAT_TEST_LEAN");
    if (!lean || !*lean)
        fail_msg("MOAT_TEST_LEAN is not set (run through ctest)");
    return lean;
}

/* A spawner re-executed in a lean binary (sbx_config.spawner_exe) serves
 * boxes the same way, and its boxes fork from its small address space. */
static void test_reexecuted_spawner(void **state)
{
    struct fx *f = *state;
    const char *lean = lean_exe();
    f->x.ctx->cfg.spawner_exe = lean;
    start_pool(f, 2);
    f->x.ctx->cfg.spawner_exe = NULL;
    wait_warm(f, 2);
    pid_t sp = find_spawner();
    assert_true(sp > 0);
    char path[64], exe[PATH_MAX];
    (void)snprintf(path, sizeof path, "/proc/%d/exe", (int)sp);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    char want[PATH_MAX];
    assert_non_null(realpath(lean, want));
    assert_string_equal(exe, want);
    for (int i = 0; i < 6; i++) {
        char msg[300];
        if (take_run_free(f->pool, msg, sizeof msg) < 0)
            fail_msg("box %d from the re-executed spawner: %s", i, msg);
    }
    struct sbx_pool_stats st;
    sbx_pool_stats(f->pool, &st);
    assert_true(st.made >= 6);
    assert_int_equal(st.failed, 0);
    sbx_pool_stop(f->pool);
    f->pool = NULL;
    assert_nothing_left(f);
}

/* The nice value of pid (field 19 of /proc/pid/stat), or 100 when unread. */
static int nice_of(pid_t pid)
{
    char path[64], buf[1024];
    (void)snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return 100;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    (void)fclose(fp);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    int nice = 100;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime priority nice */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %d",
                     &nice) != 1)
        return 100;
    return nice;
}

/* Boxes are prepared at spawner_nice (the re-executed spawner gets it as
 * an argument), yet a step's program runs at 0 and cannot get back above a
 * priority it gives up. */
static void test_spawner_nice(void **state)
{
    struct fx *f = *state;
    f->x.ctx->cfg.spawner_exe = lean_exe();
    f->x.ctx->cfg.spawner_nice = 7;
    start_pool(f, 2);
    f->x.ctx->cfg.spawner_exe = NULL;
    f->x.ctx->cfg.spawner_nice = 0;
    wait_warm(f, 2);
    pid_t sp = find_spawner();
    assert_true(sp > 0);
    assert_int_equal(nice_of(sp), 7);

    struct moat_err err = {0};
    assert_int_equal(sbx_pool_take(f->pool, 20000, &f->box, &err), 0);
    assert_int_equal(sbx_box_wait_ready(f->box, &err), 0);
    static const char *const argv[] = {
        "/bin/sh", "-c",
        "/usr/bin/nice; /usr/bin/nice -n 5 /usr/bin/nice -n -5 /usr/bin/nice 2>/dev/null; "
        "/usr/bin/nice",
        NULL};
    struct sbx_step step = true_step();
    step.argv = argv;
    struct sbx_result res;
    sbx_result_init(&res);
    assert_int_equal(sbx_box_run(f->box, &step, &res, &err), 0);
    /* 0 at the start; "nice -n 5 nice -n -5 nice" stays at 5 (no way back
     * to 0 once given up, RLIMIT_NICE 0: GNU nice warns and runs it
     * anyway); the shell itself is still at 0 */
    if (res.verdict != SBX_VERDICT_OK || res.out.len != 6 || memcmp(res.out.data, "0\n5\n0\n", 6))
        fail_msg("verdict %s, out \"%.*s\"", sbx_verdict_name(res.verdict), (int)res.out.len,
                 res.out.data);
    sbx_result_release(&res);
    sbx_box_free(f->box);
    f->box = NULL;
    sbx_pool_stop(f->pool);
    f->pool = NULL;
    assert_nothing_left(f);
}

static int test_teardown(void **state)
{
    struct fx *f = *state;
    pid_t sp = f->pool ? find_spawner() : -1;
    if (sp > 0)
        (void)kill(sp, SIGCONT); /* a failed test may have stopped it */
    sbx_box_free(f->box);
    f->box = NULL;
    sbx_pool_stop(f->pool);
    f->pool = NULL;
    return 0;
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    /* Just enough uids for the boxes alive at once (4 busy, up to 4 warm,
     * and those being torn down): a lease must be free as soon as its box
     * is gone. */
    sbx_test_fx_init(&f->x, "pool", 3950000, 16);
    f->x.cfg.box_tmpfs_bytes = 16 * MiB;
    f->x.cfg.tmp_tmpfs_bytes = 16 * MiB;
    f->x.cfg.netns_pool = 2;
    if (sbx_test_fx_start(&f->x) < 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0; /* group_setup failed, and said so (cmocka still calls this) */
    /* whatever a failed test left, once its processes are gone */
    for (int i = 0; i < 100; i++) {
        lease_sweep(f->x.ctx);
        if (box_cgroups(f, NULL, 0) == 0)
            break;
        (void)usleep(20000);
    }
    int ret = sbx_test_fx_stop(&f->x);
    free(f);
    return ret;
}

int main(void)
{
    if (!sbx_test_have_root("pool"))
        return MOAT_TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_take_sequential_and_threads, test_teardown),
        cmocka_unit_test_teardown(test_take_times_out, test_teardown),
        cmocka_unit_test_teardown(test_spawner_killed, test_teardown),
        cmocka_unit_test_teardown(test_reexecuted_spawner, test_teardown),
        cmocka_unit_test_teardown(test_spawner_nice, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
