/*
 * Cold boxes end to end through the public API: real programs, every
 * verdict, stdin and files, what survives between steps of one box, what
 * a step and a freed box leave behind on the host (processes, cgroups,
 * leases), cancel from another thread, several boxes at once, and each
 * protection of a running program read from the host (pids.max,
 * RLIMIT_NPROC, capabilities, no_new_privs, seccomp, read-only mounts).
 *
 * Needs root; returns 77 (skipped) without it. Everything lives under a
 * context of its own (uid range, run directory, parent cgroup
 * "moat-ut-<pid>") that the group teardown removes even after a failed
 * assertion. Box creation forks, so every thread a test starts is joined
 * before the next box is made.
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
#define NBOX 6

struct fx {
    struct sbx_test_fx x;
    struct sbx_box *boxes[NBOX]; /* of the running test, freed by its teardown */
    struct sbx_result res;       /* likewise released */
    char *scratch;               /* likewise freed */
};

static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};

/* ---- helpers ---- */

static struct sbx_limits limits(void)
{
    return (struct sbx_limits){.cpu_ms = 5000,
                               .wall_ms = 10000,
                               .memory_bytes = 256 * MiB,
                               .max_procs = 32,
                               .output_bytes = 4 * MiB,
                               .file_bytes = 16 * MiB,
                               .open_files = 64,
                               .stack_bytes = 8 * MiB};
}

static struct sbx_box *new_box(struct fx *f, size_t slot)
{
    struct moat_err err = {0};
    int r = sbx_box_new(f->x.ctx, &f->boxes[slot], &err);
    if (r < 0)
        fail_msg("sbx_box_new: %s (%d)", err.msg, r);
    assert_true(sbx_box_uid(f->boxes[slot]) >= f->x.ctx->cfg.first_uid);
    assert_true(sbx_box_uid(f->boxes[slot]) < f->x.ctx->cfg.first_uid + f->x.ctx->cfg.uid_count);
    return f->boxes[slot];
}

struct run {
    const char *const *argv;
    struct sbx_limits lim;
    const void *in;
    size_t inlen;
    const struct sbx_file *files;
    size_t nfiles;
};

/* One step, res released first: what sbx_box_run returns. No cmocka
 * assertion, for the tests that look at the step from the host while it
 * runs: none may leave before the thread that watches it ends. */
static int run_quiet(struct sbx_box *box, const struct run *rn, struct sbx_result *res,
                     struct moat_err *err)
{
    struct sbx_step step = {.argv = rn->argv,
                            .envp = env,
                            .limits = rn->lim,
                            .stdin_data = rn->in,
                            .stdin_len = rn->inlen,
                            .files = rn->files,
                            .nfiles = rn->nfiles};
    sbx_result_release(res);
    sbx_result_init(res);
    return sbx_box_run(box, &step, res, err);
}

/* One step that the box must survive (sbx_box_run returns 0). */
static void run(struct sbx_box *box, const struct run *rn, struct sbx_result *res)
{
    struct moat_err err = {0};
    int r = run_quiet(box, rn, res, &err);
    if (r < 0)
        fail_msg("sbx_box_run: %s (%d)", err.msg, r);
    if (res->verdict == SBX_VERDICT_INTERNAL_ERROR)
        assert_int_equal(err.code, -EIO); /* the message is passed on in err too */
}

static void run_sh(struct sbx_box *box, const char *script, const struct sbx_limits *lim,
                   struct sbx_result *res)
{
    const char *argv[] = {"/usr/bin/sh", "-c", script, NULL};
    struct run rn = {.argv = argv, .lim = lim ? *lim : limits()};
    run(box, &rn, res);
}

/* Printable form of program output for failure messages. */
static const char *show(const struct buf *b)
{
    static char text[512];
    size_t o = 0;
    for (size_t i = 0; i < b->len && o + 5 < sizeof text; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            text[o++] = (char)c;
        else
            o += (size_t)snprintf(text + o, sizeof text - o, "\\x%02x", c);
    }
    text[o] = '\0';
    return text;
}

static void expect(const struct sbx_result *res, enum sbx_verdict v)
{
    if (res->verdict != v)
        fail_msg("verdict %s, expected %s (exit %d, signal %d, message \"%s\", stderr \"%s\")",
                 sbx_verdict_name(res->verdict), sbx_verdict_name(v), res->exit_code, res->signal,
                 res->message, show(&res->err));
}

static void expect_bytes(const struct sbx_result *res, const char *want, size_t n)
{
    if (res->out.len != n || memcmp(res->out.data, want, n) != 0)
        fail_msg("stdout \"%s\" (%zu bytes), expected %zu bytes", show(&res->out), res->out.len, n);
}

static void expect_out(const struct sbx_result *res, const char *want)
{
    size_t n = strlen(want);
    if (res->out.len != n || memcmp(res->out.data, want, n) != 0)
        fail_msg("stdout \"%s\", expected \"%s\"", show(&res->out), want);
}

/* Host processes matching by and id (sbx_test_scan_procs), the first max
 * in out; fails the test when /proc cannot be listed. */
static size_t procs_where(enum sbx_test_match by, uint32_t id, struct sbx_test_proc *out,
                          size_t max)
{
    size_t n = sbx_test_scan_procs(by, id, NULL, out, max);
    if (n == SIZE_MAX)
        fail_msg("cannot list /proc: %s", strerror(errno));
    return n;
}

/* Between steps a box holds at most one process besides its init: the next
 * step's program, pre-forked by box init (and named after it) but not
 * started; box init makes it just after sending the result, so it may not
 * exist yet, or still be root. Nothing else may run as the box's uid or be
 * a child of its init: every process of the step was killed and reaped
 * before the result was sent. */
static void assert_only_prefork(struct sbx_box *box)
{
    struct sbx_test_proc p[8] = {0};
    size_t n = procs_where(SBX_TEST_BY_UID, sbx_box_uid(box), p, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (p[i].ppid != sbx_box_init_pid(box) || strcmp(p[i].name, "moat-box") != 0)
            fail_msg("process %d (%s, parent %d) of uid %u outlived its step", (int)p[i].pid,
                     p[i].name, (int)p[i].ppid, sbx_box_uid(box));
    assert_true(n <= 1);
    n = procs_where(SBX_TEST_BY_PARENT, (uint32_t)sbx_box_init_pid(box), p, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp(p[i].name, "moat-box") != 0)
            fail_msg("process %d (%s) of box init %d outlived its step", (int)p[i].pid, p[i].name,
                     (int)sbx_box_init_pid(box));
    assert_true(n <= 1);
}

static void box_cg_path(const struct fx *f, unsigned h, uint32_t uid, char *out, size_t size)
{
    (void)snprintf(out, size, "%s/box-%u", f->x.parents[h], uid);
}

/* After sbx_box_free: no process, no cgroup directory, a free lease. */
static void assert_box_gone(struct fx *f, uint32_t uid)
{
    struct sbx_test_proc p[4] = {0};
    size_t n = procs_where(SBX_TEST_BY_UID, uid, p, 4);
    if (n)
        fail_msg("%zu process(es) of uid %u left, e.g. %d (%s)", n, uid, (int)p[0].pid, p[0].name);
    for (unsigned h = 0; h < f->x.nparents; h++) {
        char path[PATH_MAX + 32];
        box_cg_path(f, h, uid, path, sizeof path);
        if (access(path, F_OK) == 0)
            fail_msg("cgroup %s left", path);
        assert_int_equal(errno, ENOENT);
    }
    int fd = lease_try(f->x.ctx, uid);
    if (fd < 0)
        fail_msg("lease of uid %u still held: %s", uid, strerror(-fd));
    (void)close(fd);
}

static void free_box(struct fx *f, size_t slot)
{
    sbx_box_free(f->boxes[slot]);
    f->boxes[slot] = NULL;
}

/* ---- verdicts ---- */

static void test_ok_exact_stdout(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    struct sbx_result *res = &f->res;
    run_sh(box, "printf 'hello\\n'; printf 'x\\0y'", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_bytes(res, "hello\nx\0y", 9);
    assert_int_equal(res->err.len, 0);
    assert_int_equal(res->exit_code, 0);
    assert_int_equal(res->signal, 0);
    assert_false(res->cpu_exceeded || res->wall_exceeded || res->oom_killed ||
                 res->output_exceeded || res->out_truncated || res->err_truncated);
    assert_string_equal(res->message, "");
    assert_true(res->wall_us > 0 && res->wall_us < 5000000);
    assert_true(res->memory_kb > 0);
    sbx_result_release(res);
}

static void test_stdin_exact(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    size_t len = MiB;
    free(f->scratch);
    unsigned char *in = malloc(len);
    f->scratch = (char *)in;
    assert_non_null(in);
    for (size_t i = 0; i < len; i++)
        in[i] = (unsigned char)((i * 7 + i / 251) & 0xff); /* NULs included */
    const char *argv[] = {"/usr/bin/cat", NULL};
    struct run rn = {.argv = argv, .lim = limits(), .in = in, .inlen = len};
    struct sbx_result *res = &f->res;
    run(box, &rn, res);
    expect(res, SBX_VERDICT_OK);
    assert_int_equal(res->out.len, len);
    assert_memory_equal(res->out.data, in, len);
    sbx_result_release(res);

    /* stdin is exactly the bytes, then EOF: also when there are none. */
    const char *argv2[] = {"/usr/bin/wc", "-c", NULL};
    struct run rn2 = {.argv = argv2, .lim = limits()};
    run(box, &rn2, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "0\n");
    sbx_result_release(res);
}

static void test_exit_code(void **state)
{
    struct fx *f = *state;
    struct sbx_result *res = &f->res;
    run_sh(new_box(f, 0), "echo before; exit 3", NULL, res);
    expect(res, SBX_VERDICT_RUNTIME_ERROR);
    assert_int_equal(res->exit_code, 3);
    assert_int_equal(res->signal, 0);
    expect_out(res, "before\n");
    sbx_result_release(res);
}

static void test_signal(void **state)
{
    struct fx *f = *state;
    struct sbx_result *res = &f->res;
    run_sh(new_box(f, 0), "kill -SEGV $$", NULL, res);
    expect(res, SBX_VERDICT_RUNTIME_ERROR);
    assert_int_equal(res->signal, SIGSEGV);
    assert_int_equal(res->exit_code, 128 + SIGSEGV);
    sbx_result_release(res);
}

static void test_cpu_limit(void **state)
{
    struct fx *f = *state;
    struct sbx_limits lim = limits();
    lim.cpu_ms = 300;
    struct sbx_result *res = &f->res;
    run_sh(new_box(f, 0), "while :; do :; done", &lim, res);
    expect(res, SBX_VERDICT_TIME_LIMIT);
    assert_int_equal(res->exit_code, 124);
    assert_int_equal(res->signal, 0);
    assert_true(res->cpu_exceeded);
    assert_false(res->wall_exceeded);
    if (res->cpu_us < 300000 || res->cpu_us > 2000000)
        fail_msg("cpu_us %llu for a 300 ms limit", (unsigned long long)res->cpu_us);
    sbx_result_release(res);
}

static void test_wall_limit(void **state)
{
    struct fx *f = *state;
    struct sbx_limits lim = limits();
    lim.wall_ms = 300;
    struct sbx_result *res = &f->res;
    uint64_t t0 = moat_now_ns();
    run_sh(new_box(f, 0), "exec /usr/bin/sleep 30", &lim, res);
    uint64_t took_ms = (moat_now_ns() - t0) / 1000000;
    expect(res, SBX_VERDICT_TIME_LIMIT);
    assert_int_equal(res->exit_code, 124);
    assert_true(res->wall_exceeded);
    assert_false(res->cpu_exceeded);
    if (res->cpu_us > 100000)
        fail_msg("cpu_us %llu while sleeping", (unsigned long long)res->cpu_us);
    if (res->wall_us < 300000 || res->wall_us > 2000000 || took_ms > 3000)
        fail_msg("wall_us %llu, sbx_box_run took %llu ms for a 300 ms limit",
                 (unsigned long long)res->wall_us, (unsigned long long)took_ms);
    sbx_result_release(res);
}

static void test_memory_limit(void **state)
{
    struct fx *f = *state;
    struct sbx_limits lim = limits();
    lim.memory_bytes = 64 * MiB;
    const char *argv[] = {"/usr/bin/python3", "-c",
                          "b = bytearray(b'x') * (512 << 20)\nprint(len(b))", NULL};
    struct run rn = {.argv = argv, .lim = lim};
    struct sbx_result *res = &f->res;
    run(new_box(f, 0), &rn, res);
    expect(res, SBX_VERDICT_MEMORY_LIMIT);
    assert_true(res->oom_killed);
    assert_int_equal(res->signal, SIGKILL);
    assert_int_equal(res->exit_code, 128 + SIGKILL);
    assert_int_equal(res->out.len, 0);
    /* the peak is the cgroup's: near the limit, never above it */
    if (res->memory_kb < 32 * 1024 || res->memory_kb > 64 * 1024)
        fail_msg("memory_kb %llu for a 64 MiB limit", (unsigned long long)res->memory_kb);
    sbx_result_release(res);
}

static void test_output_limit(void **state)
{
    struct fx *f = *state;
    struct sbx_limits lim = limits();
    lim.output_bytes = 10001; /* odd: the cut falls inside a "y\n" */
    struct sbx_result *res = &f->res;
    run_sh(new_box(f, 0), "exec /usr/bin/yes", &lim, res);
    expect(res, SBX_VERDICT_OUTPUT_LIMIT);
    assert_true(res->output_exceeded);
    assert_true(res->out_truncated);
    assert_false(res->err_truncated);
    assert_int_equal(res->out.len, 10001);
    for (size_t i = 0; i < res->out.len; i++)
        assert_int_equal(res->out.data[i], i % 2 ? '\n' : 'y');
    sbx_result_release(res);

    /* The cap is per stream, and stderr has its own. */
    run_sh(f->boxes[0], "printf 0123456789 >&2; printf abc", &lim, res);
    expect(res, SBX_VERDICT_OK);
    lim.output_bytes = 4;
    sbx_result_release(res);
    run_sh(f->boxes[0], "printf abc; printf 0123456789 >&2", &lim, res);
    expect(res, SBX_VERDICT_OUTPUT_LIMIT);
    expect_out(res, "abc");
    assert_int_equal(res->err.len, 4);
    assert_memory_equal(res->err.data, "0123", 4);
    assert_true(res->err_truncated);
    assert_false(res->out_truncated);
    sbx_result_release(res);
}

static void test_stderr_separate(void **state)
{
    struct fx *f = *state;
    struct sbx_result *res = &f->res;
    run_sh(new_box(f, 0), "echo out1; echo err1 >&2; echo out2; echo err2 >&2", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "out1\nout2\n");
    assert_int_equal(res->err.len, 10);
    assert_memory_equal(res->err.data, "err1\nerr2\n", 10);
    sbx_result_release(res);
}

static void test_exec_failure(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/usr/bin/no-such-program", NULL};
    struct run rn = {.argv = argv, .lim = limits()};
    struct sbx_result *res = &f->res;
    run(new_box(f, 0), &rn, res);
    expect(res, SBX_VERDICT_INTERNAL_ERROR);
    if (!strstr(res->message, "execve") || !strstr(res->message, "no-such-program"))
        fail_msg("message \"%s\"", res->message);
    sbx_result_release(res);
    /* the box survives */
    run_sh(f->boxes[0], "echo fine", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "fine\n");
    sbx_result_release(res);
}

/* ---- files ---- */

static void test_files(void **state)
{
    struct fx *f = *state;
    static const char script[] = "#!/bin/sh\necho ran $(id -u)\n";
    const struct sbx_file files[] = {
        {.name = "a/b/c.txt", .data = "nested\0bytes", .len = 12},
        {.name = "run.sh", .data = script, .len = sizeof script - 1, .executable = true},
        {.name = "empty", .data = "", .len = 0},
    };
    const char *argv[] = {"/usr/bin/sh", "-c",
                          "cat a/b/c.txt; echo; ./run.sh; test -x a/b/c.txt || echo not-exec; "
                          "stat -c '%n %a %u %s' run.sh a/b/c.txt empty; "
                          "stat -c '%n %a %u' a/b a; pwd",
                          NULL};
    struct run rn = {.argv = argv, .lim = limits(), .files = files, .nfiles = 3};
    struct sbx_result *res = &f->res;
    run(new_box(f, 0), &rn, res);
    expect(res, SBX_VERDICT_OK);
    static const char want[] = "nested\0bytes\nran 1000\nnot-exec\n"
                               "run.sh 755 1000 28\na/b/c.txt 644 1000 12\nempty 644 1000 0\n"
                               "a/b 755 1000\na 755 1000\n/box\n";
    expect_bytes(res, want, sizeof want - 1);
    sbx_result_release(res);
}

/* A rejected file fails the step with internal_error before the program
 * runs; the box itself survives and runs the next step. */
static void expect_file_refused(struct fx *f, struct sbx_box *box, const char *name,
                                const char *msg)
{
    const struct sbx_file files[] = {{.name = name, .data = "x", .len = 1}};
    const char *argv[] = {"/usr/bin/sh", "-c", "echo ran; touch /box/ran", NULL};
    struct run rn = {.argv = argv, .lim = limits(), .files = files, .nfiles = 1};
    struct sbx_result *res = &f->res;
    run(box, &rn, res);
    expect(res, SBX_VERDICT_INTERNAL_ERROR);
    if (!strstr(res->message, msg))
        fail_msg("file \"%s\": message \"%s\", expected \"%s\"", name, res->message, msg);
    assert_int_equal(res->out.len, 0); /* the program never started */
    sbx_result_release(res);
}

static void test_bad_file_names(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    static const char *const bad[] = {
        "../x", "/abs", "a//b", "",       "a/../b",    "./x",  "a/",
        "a/.",  "..",   ".",    "sp ace", "new\nline", "a\\b",
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++)
        expect_file_refused(f, box, bad[i], "invalid file name");
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    expect_file_refused(f, box, longname, "invalid file name");

    /* After all that the box is whole, and nothing was written or run. */
    struct sbx_result *res = &f->res;
    run_sh(box, "ls -A /box; ls / | grep -cx x; echo done", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "0\ndone\n");
    sbx_result_release(res);
}

/* Files are created, never opened: a name the program planted (a file, a
 * symlink, a symlinked directory) fails the next step's write. */
static void test_planted_names(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    struct sbx_result *res = &f->res;
    run_sh(box, "echo mine > taken; ln -s /tmp link; ln -s /etc/passwd plink; echo ok", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "ok\n");
    sbx_result_release(res);
    expect_file_refused(f, box, "taken", "create taken: File exists");
    expect_file_refused(f, box, "plink", "create plink: File exists");
    expect_file_refused(f, box, "link/x", "open directory link");
    run_sh(box, "cat taken; ls -A /tmp; readlink plink", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "mine\n/etc/passwd\n");
    sbx_result_release(res);
}

/* ---- steps of one box ---- */

/* The names of the step's processes, listed from inside by the shell
 * alone: the glob and `read` are builtins, so the listing is the shell
 * and whatever else of the step still lives. An `ls /proc | grep -c`
 * pipeline instead counts whichever of its own two ends exist when ls
 * reads /proc, 2 or 3 (grep may not be forked yet). */
#define LIST_PROCS "for p in /proc/[0-9]*; do read -r n < $p/comm && echo $n; done"

static void test_two_steps(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    assert_only_prefork(box);
    struct sbx_result *res = &f->res;
    /* no fork in this step: it is the namespace's second process */
    run_sh(box, "echo one > made.txt; echo pid $$ ppid $PPID", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "pid 2 ppid 1\n");
    sbx_result_release(res);
    assert_only_prefork(box);

    /* The next step sees the files; the pid namespace is the same one (box
     * init's), so its program gets a later pid, not 2 again: 3 went to the
     * attacher box init forked to move the first program into its cgroup
     * while it built the root. */
    run_sh(box,
           "cat made.txt; echo pid $$ ppid $PPID; cat /proc/1/status 2>&1 | head -c 0; " LIST_PROCS,
           NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "one\npid 4 ppid 1\nsh\n"); /* the shell alone: pid 1 hidden */
    sbx_result_release(res);
    assert_only_prefork(box);
}

static void test_orphan_killed(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    struct sbx_result *res = &f->res;
    uint64_t t0 = moat_now_ns();
    run_sh(box,
           "/usr/bin/sleep 100 & /usr/bin/sleep 100 </dev/null >/dev/null 2>&1 & "
           "(setsid /usr/bin/sleep 100 &) ; echo started",
           NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "started\n");
    assert_true((moat_now_ns() - t0) / 1000000 < 3000);
    sbx_result_release(res);
    assert_only_prefork(box);
    run_sh(box, LIST_PROCS, NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "sh\n"); /* the shell alone: no sleep survived inside either */
    sbx_result_release(res);
}

struct canceller {
    struct sbx_box *box;
    uint64_t cancelled_ns; /* when the cancel went out; 0: the program never showed */
};

/* Cancels the step once its program runs (a sleep of the box's uid): a
 * cancel sent before the step starts has no step to end. */
static void *cancel_when_running(void *arg)
{
    struct canceller *c = arg;
    if (sbx_test_wait_proc(SBX_TEST_BY_UID, sbx_box_uid(c->box), "sleep", 10000) > 0) {
        c->cancelled_ns = moat_now_ns();
        sbx_box_cancel(c->box);
    }
    return NULL;
}

static void test_cancel(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    struct canceller c = {.box = box};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_when_running, &c), 0);
    struct sbx_result *res = &f->res;
    const char *argv[] = {"/usr/bin/sh", "-c", "/usr/bin/sleep 30", NULL};
    struct run rn = {.argv = argv, .lim = limits()}; /* the wall limit (10 s) ends it otherwise */
    struct moat_err err = {0};
    int r = run_quiet(box, &rn, res, &err);
    uint64_t end_ns = moat_now_ns();
    assert_int_equal(pthread_join(t, NULL), 0);
    if (r < 0)
        fail_msg("sbx_box_run: %s (%d)", err.msg, r);
    if (c.cancelled_ns == 0)
        fail_msg("the step's sleep never showed on the host (verdict %s)",
                 sbx_verdict_name(res->verdict));
    expect(res, SBX_VERDICT_CANCELLED);
    uint64_t took_ms = (end_ns - c.cancelled_ns) / 1000000;
    if (took_ms > 2000)
        fail_msg("the step ended %llu ms after its cancel", (unsigned long long)took_ms);
    sbx_result_release(res);
    /* a cancel ends the step, not the box */
    run_sh(box, "echo again", NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "again\n");
    sbx_result_release(res);
}

static void test_free_leaves_nothing(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    uint32_t uid = sbx_box_uid(box);
    pid_t init = sbx_box_init_pid(box);
    assert_int_equal(lease_try(f->x.ctx, uid), -EWOULDBLOCK);
    for (unsigned h = 0; h < f->x.nparents; h++) {
        char path[PATH_MAX + 32];
        box_cg_path(f, h, uid, path, sizeof path);
        if (access(path, F_OK) < 0)
            fail_msg("no cgroup %s while the box lives", path);
    }
    struct sbx_result *res = &f->res;
    run_sh(box, "/usr/bin/sleep 100 & echo bg", NULL, res);
    expect(res, SBX_VERDICT_OK);
    sbx_result_release(res);
    free_box(f, 0);
    assert_int_equal(kill(init, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_box_gone(f, uid);
}

/* A box whose init died is broken: the step fails with an error (never a
 * hang), later steps are refused, and freeing it still removes everything.
 * SIGPIPE keeps its default action: sending to the dead init must be an
 * error, not a signal that kills the caller. */
static void test_init_killed(void **state)
{
    struct fx *f = *state;
    struct sbx_box *box = new_box(f, 0);
    uint32_t uid = sbx_box_uid(box);
    assert_int_equal(kill(sbx_box_init_pid(box), SIGKILL), 0);
    struct sbx_step step = {
        .argv = (const char *const[]){"/usr/bin/true", NULL}, .envp = env, .limits = limits()};
    struct moat_err err = {0};
    sbx_result_release(&f->res);
    sbx_result_init(&f->res);
    int r = sbx_box_run(box, &step, &f->res, &err);
    assert_true(r < 0);
    assert_int_equal(err.code, r);
    assert_int_equal(f->res.verdict, SBX_VERDICT_INTERNAL_ERROR);
    assert_true(f->res.message[0] != '\0');
    r = sbx_box_run(box, &step, &f->res, &err);
    assert_int_equal(r, -EIO);
    assert_string_equal(err.msg, "box is broken");
    free_box(f, 0);
    assert_box_gone(f, uid);
}

static void test_box_count_and_isolation(void **state)
{
    struct fx *f = *state;
    uint32_t uids[NBOX];
    for (size_t i = 0; i < NBOX; i++) {
        uids[i] = sbx_box_uid(new_box(f, i));
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(uids[i], uids[j]);
    }
    for (size_t i = 0; i < NBOX; i++) {
        char name[16], data[16];
        (void)snprintf(name, sizeof name, "mine-%zu", i);
        (void)snprintf(data, sizeof data, "box %zu", i);
        const struct sbx_file files[] = {{.name = name, .data = data, .len = strlen(data)}};
        const char *argv[] = {"/usr/bin/python3", "-c",
                              "import os, socket\n"
                              "procs = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
                              "print(procs == [os.getpid()], socket.gethostname(), os.getuid(),\n"
                              "      sorted(os.listdir('/box')), sorted(os.listdir('/tmp')))\n"
                              "open('/tmp/t', 'w').write('x')\n",
                              NULL};
        struct run rn = {.argv = argv, .lim = limits(), .files = files, .nfiles = 1};
        struct sbx_result *res = &f->res;
        run(f->boxes[i], &rn, res);
        expect(res, SBX_VERDICT_OK);
        char want[128];
        (void)snprintf(want, sizeof want, "True box 1000 ['mine-%zu'] []\n", i);
        expect_out(res, want);
        sbx_result_release(res);
    }
    /* Freed oldest first: a box's init must not hold the leases of boxes
     * made before it (box_spawn closes what its parent holds), so each uid
     * is free as soon as its own box is gone. */
    for (size_t i = 0; i < NBOX; i++) {
        free_box(f, i);
        assert_box_gone(f, uids[i]);
    }
}

/* ---- each protection, seen from the host while a program runs ----
 *
 * The layers back each other up (RLIMIT_NPROC stops a fork bomb at the
 * count pids.max would; a file the seccomp policy refuses may also be on a
 * read-only mount), so a test of what a program can do passes with one
 * layer gone. These read each layer itself from the host: removing any one
 * of them fails its test. */

/* A max_procs no default has: what pids.max and RLIMIT_NPROC must say. */
#define VIEW_MAX_PROCS 19

/* What the host reads of a step's program (a sleep) while it runs. */
struct program_view {
    pid_t pid;    /* host pid of the program */
    pid_t init;   /* and of its box's init */
    uint32_t uid; /* the box's host uid */
    char status[4096];
    char limits[4096];
    char cgroup[1024];
    char mountinfo[64 << 10];
    /* pids.max of the step's group in each hierarchy that has one */
    char pids_max_path[SBX_TEST_MAX_PARENTS][PATH_MAX];
    char pids_max[SBX_TEST_MAX_PARENTS][32];
    unsigned npids_max;
    struct stat empty; /* the box's /dev/.empty, source of the /proc directory masks */
};

/* The pids.max files of the program's groups: each line of its cgroup
 * file under the context's parent group ("N:pids:/<cg_name>/box-U/sK",
 * "0::/<cg_name>/...") joined to each parent directory. */
static void read_pids_max(const struct fx *f, struct program_view *v)
{
    char text[sizeof v->cgroup];
    moat_strlcpy(text, v->cgroup, sizeof text);
    char prefix[80];
    (void)snprintf(prefix, sizeof prefix, "/%s/", f->x.cg_name);
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *rel = strstr(l, prefix); /* the path after "N:controllers:" */
        if (!rel)
            continue;
        rel += strlen(prefix) - 1;
        for (unsigned h = 0; h < f->x.nparents && v->npids_max < SBX_TEST_MAX_PARENTS; h++) {
            char path[PATH_MAX];
            if ((size_t)snprintf(path, sizeof path, "%s%s/pids.max", f->x.parents[h], rel) >=
                sizeof path)
                continue;
            bool seen = false;
            for (unsigned i = 0; i < v->npids_max; i++)
                seen |= strcmp(v->pids_max_path[i], path) == 0;
            char val[32];
            if (seen || read_small_file_at(AT_FDCWD, path, val, sizeof val) <= 0)
                continue;
            val[strcspn(val, "\n")] = '\0';
            moat_strlcpy(v->pids_max_path[v->npids_max], path, PATH_MAX);
            moat_strlcpy(v->pids_max[v->npids_max++], val, sizeof v->pids_max[0]);
        }
    }
}

struct stepper {
    struct sbx_box *box;
    struct run rn;
    struct sbx_result res;
    struct moat_err err;
    int r;
};

static void *stepper_main(void *arg)
{
    struct stepper *st = arg;
    st->r = run_quiet(st->box, &st->rn, &st->res, &st->err);
    return NULL;
}

/* Runs `sleep 30` as the program of a step in a new box (max_procs
 * VIEW_MAX_PROCS) on a thread, reads what the host sees of it once it
 * runs, then cancels the step. Fails when the program never showed or the
 * step did not end cancelled. The view is f->scratch. */
static struct program_view *observe_program(struct fx *f)
{
    free(f->scratch);
    struct program_view *v = calloc(1, sizeof *v);
    f->scratch = (char *)v;
    assert_non_null(v);
    struct sbx_box *box = new_box(f, 0);
    v->init = sbx_box_init_pid(box);
    v->uid = sbx_box_uid(box);
    static const char *const argv[] = {"/usr/bin/sleep", "30", NULL};
    struct stepper st = {.box = box, .rn = {.argv = argv, .lim = limits()}};
    st.rn.lim.max_procs = VIEW_MAX_PROCS;
    st.rn.lim.wall_ms = 20000;
    sbx_result_init(&st.res);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stepper_main, &st), 0);
    /* No assertion until the thread is joined: the step uses the box. The
     * program is box init's child; named sleep once its execve is done,
     * which is after every limit and drop it applies to itself. */
    v->pid = sbx_test_wait_proc(SBX_TEST_BY_PARENT, (uint32_t)v->init, "sleep", 10000);
    bool whole = v->pid > 0 && sbx_test_read_proc(v->pid, "status", v->status, sizeof v->status) &&
                 sbx_test_read_proc(v->pid, "limits", v->limits, sizeof v->limits) &&
                 sbx_test_read_proc(v->pid, "cgroup", v->cgroup, sizeof v->cgroup) &&
                 sbx_test_read_proc(v->pid, "mountinfo", v->mountinfo, sizeof v->mountinfo);
    if (whole) {
        read_pids_max(f, v);
        char path[64];
        (void)snprintf(path, sizeof path, "/proc/%d/root/dev/.empty", (int)v->pid);
        whole = stat(path, &v->empty) == 0;
    }
    /* still the program: the step ends only at the cancel below */
    bool alive = v->pid > 0 && kill(v->pid, 0) == 0;
    sbx_box_cancel(box);
    assert_int_equal(pthread_join(t, NULL), 0);

    enum sbx_verdict verdict = st.res.verdict;
    sbx_result_release(&st.res);
    if (st.r < 0)
        fail_msg("sbx_box_run: %s (%d)", st.err.msg, st.r);
    if (v->pid <= 0)
        fail_msg("the program never showed as a child of box init %d (verdict %s)", (int)v->init,
                 sbx_verdict_name(verdict));
    if (!whole || !alive)
        fail_msg("could not read /proc/%d while it ran", (int)v->pid);
    assert_int_equal(verdict, SBX_VERDICT_CANCELLED);
    return v;
}

/* (a) The step's own cgroup limits its tasks: pids.max is max_procs in
 * the pids hierarchy (v1) or the unified one (v2). RLIMIT_NPROC, the other
 * line, is test_rlimit_nproc's. */
static void test_pids_max(void **state)
{
    struct fx *f = *state;
    struct program_view *v = observe_program(f);
    if (v->npids_max == 0)
        fail_msg("no pids.max for the program's groups:\n%s", v->cgroup);
    char want[16];
    (void)snprintf(want, sizeof want, "%d", VIEW_MAX_PROCS);
    for (unsigned i = 0; i < v->npids_max; i++)
        if (strcmp(v->pids_max[i], want) != 0)
            fail_msg("%s is \"%s\", max_procs %s", v->pids_max_path[i], v->pids_max[i], want);
}

/* (d) RLIMIT_NPROC is max_procs, soft and hard: the uid is the box's
 * alone, so it bounds the box even where pids.max would not. */
static void test_rlimit_nproc(void **state)
{
    struct fx *f = *state;
    struct program_view *v = observe_program(f);
    const char *line = strstr(v->limits, "Max processes");
    char soft[32] = "", hard[32] = "";
    if (!line || sscanf(line, "Max processes %31s %31s", soft, hard) != 2)
        fail_msg("no \"Max processes\" in /proc/%d/limits:\n%s", (int)v->pid, v->limits);
    char want[16];
    (void)snprintf(want, sizeof want, "%d", VIEW_MAX_PROCS);
    if (strcmp(soft, want) != 0 || strcmp(hard, want) != 0)
        fail_msg("RLIMIT_NPROC %s/%s, max_procs %s", soft, hard, want);
}

/* (c) The program holds no capability in any set, cannot gain privileges
 * by execve, runs under a seccomp filter, and as the box's host uid. */
static void test_creds(void **state)
{
    struct fx *f = *state;
    struct program_view *v = observe_program(f);
    static const struct {
        const char *field, *want;
    } fields[] = {{"CapInh", "0000000000000000"},
                  {"CapPrm", "0000000000000000"},
                  {"CapEff", "0000000000000000"},
                  {"CapBnd", "0000000000000000"},
                  {"CapAmb", "0000000000000000"},
                  {"NoNewPrivs", "1"},
                  {"Seccomp", "2"}};
    char got[128];
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(fields); i++)
        if (strcmp(sbx_test_status_field(v->status, fields[i].field, got, sizeof got),
                   fields[i].want))
            fail_msg("%s \"%s\", expected \"%s\"", fields[i].field, got, fields[i].want);
    char want[64];
    (void)snprintf(want, sizeof want, "%u\t%u\t%u\t%u", v->uid, v->uid, v->uid, v->uid);
    static const char *const ids[] = {"Uid", "Gid"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(ids); i++)
        if (strcmp(sbx_test_status_field(v->status, ids[i], got, sizeof got), want) != 0)
            fail_msg("%s \"%s\", expected the box's %u", ids[i], got, v->uid);
}

/* (b) Every host file the box sees sits on a read-only, nosuid mount, and
 * a nodev one unless it is a device node: the host's trees (/usr, ...),
 * the device nodes, /proc/sys and the /dev/null masks over /proc. Writable
 * are only the box's own tmpfs (/box, /tmp, /dev/shm, /dev), its /proc and
 * the masks of /proc directories, binds of an empty root-owned directory of
 * its /dev. Read from the program's own mount table. */
static void test_mounts_read_only(void **state)
{
    struct fx *f = *state;
    struct program_view *v = observe_program(f);
    static struct sbx_test_mount m[512];
    size_t n = sbx_test_parse_mountinfo(v->mountinfo, m, MOAT_ARRAY_SIZE(m));

    /* what must be there (else the rules below could hold of nothing) */
    static const char *const required[] = {"/",
                                           "/usr",
                                           "/dev",
                                           "/dev/null",
                                           "/dev/zero",
                                           "/dev/full",
                                           "/dev/random",
                                           "/dev/urandom",
                                           "/proc",
                                           "/proc/sys",
                                           "/proc/sys/kernel/random/boot_id",
                                           "/box",
                                           "/tmp",
                                           "/dev/shm"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(required); i++)
        if (!sbx_test_mount_at(m, n, required[i]))
            fail_msg("no mount at %s in the box:\n%s", required[i], v->mountinfo);
    /* host paths mirrored as binds when the host has them as such */
    static const char *const host[] = {"/bin", "/lib", "/lib64", "/etc/ld.so.cache"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(host); i++) {
        struct stat st;
        if (lstat(host[i], &st) == 0 && !S_ISLNK(st.st_mode) && !sbx_test_mount_at(m, n, host[i]))
            fail_msg("host %s is not bound into the box", host[i]);
    }
    const struct sbx_test_mount *dev = sbx_test_mount_at(m, n, "/dev");
    const struct sbx_test_mount *null = sbx_test_mount_at(m, n, "/dev/null");
    /* the directory masks may stay writable mounts: nobody in the box may
     * write the directory they show */
    if (!S_ISDIR(v->empty.st_mode) || (v->empty.st_mode & 07777) != 0555 || v->empty.st_uid != 0)
        fail_msg("/dev/.empty: mode %o, owner %u", (unsigned)v->empty.st_mode,
                 (unsigned)v->empty.st_uid);

    static const struct {
        const char *point, *fstype;
    } writable[] = {{"/box", "tmpfs"},
                    {"/tmp", "tmpfs"},
                    {"/dev/shm", "tmpfs"},
                    {"/dev", "tmpfs"},
                    {"/proc", "proc"}};
    for (size_t i = 0; i < n; i++) {
        const struct sbx_test_mount *e = &m[i];
        bool own = false;
        for (size_t k = 0; k < MOAT_ARRAY_SIZE(writable); k++)
            own |= strcmp(e->point, writable[k].point) == 0 &&
                   strcmp(e->fstype, writable[k].fstype) == 0 && strcmp(e->root, "/") == 0;
        /* a mask of a /proc directory: the box's /dev/.empty */
        bool dir_mask = str_has_prefix(e->point, "/proc/") && strcmp(e->dev, dev->dev) == 0 &&
                        strcmp(e->root, "/.empty") == 0;
        /* device nodes keep their device semantics: the nodes themselves
         * and the /dev/null masks (same device and node as /dev/null) */
        bool node = str_has_prefix(e->point, "/dev/") && strcmp(e->dev, null->dev) == 0;
        node |= strcmp(e->dev, null->dev) == 0 && strcmp(e->root, null->root) == 0;
        if (!own && !dir_mask && !sbx_test_has_opt(e->opts, "ro"))
            fail_msg("%s (%s %s) is writable: %s", e->point, e->fstype, e->root, e->opts);
        if (!sbx_test_has_opt(e->opts, "nosuid"))
            fail_msg("%s (%s %s) allows set-id: %s", e->point, e->fstype, e->root, e->opts);
        if (!node && !dir_mask && strcmp(e->point, "/dev") != 0 &&
            !sbx_test_has_opt(e->opts, "nodev"))
            fail_msg("%s (%s %s) allows device nodes: %s", e->point, e->fstype, e->root, e->opts);
    }
}

/* ---- the mount template ---- */

/* The inode of the template's mount namespace, 0 when there is none. */
static ino_t template_ns(const struct fx *f)
{
    struct stat st;
    if (f->x.ctx->tmpl.nsfd < 0 || fstat(f->x.ctx->tmpl.nsfd, &st) < 0)
        return 0;
    return st.st_ino;
}

/* Boxes made from the template pass the same mount rules as a box that
 * built its own root, and every box shares one template until a host path
 * it binds changes: here the cache dir, absent for the first box and made
 * before the second. */
static void test_template(void **state)
{
    struct fx *f = *state;
    struct sbx_ctx *ctx = f->x.ctx;
    char cache[sizeof ctx->cache_dir];
    (void)snprintf(cache, sizeof cache, "%s-cache", f->x.run_dir);
    (void)rmdir(cache);
    moat_strlcpy(ctx->cache_dir, cache, sizeof ctx->cache_dir);
    ctx->cfg.cache_dir = ctx->cache_dir;
    ctx->cfg.mount_template = true;
    assert_int_equal(template_ns(f), 0);

    test_mounts_read_only(state);
    ino_t first = template_ns(f);
    assert_true(first != 0);
    /* held, so that a new namespace cannot take its inode number */
    int held = dup(ctx->tmpl.nsfd);
    assert_true(held >= 0);
    free_box(f, 0);

    struct sbx_result *res = &f->res;
    const char *probe = "ls /moat/cache 2>&1 || true; touch /dev/x 2>&1 || true";
    run_sh(new_box(f, 0), probe, NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "ls: cannot access '/moat/cache': No such file or directory\n"
                    "touch: cannot touch '/dev/x': Read-only file system\n");
    assert_int_equal(template_ns(f), first); /* nothing changed: the same template */
    free_box(f, 0);

    assert_int_equal(mkdir(cache, 0755), 0);
    int fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    int file = openat(fd, "hello", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(file >= 0);
    (void)close(file);
    (void)close(fd);
    run_sh(new_box(f, 0), probe, NULL, res);
    expect(res, SBX_VERDICT_OK);
    expect_out(res, "hello\ntouch: cannot touch '/dev/x': Read-only file system\n");
    ino_t second = template_ns(f);
    assert_true(second != 0 && second != first); /* rebuilt for the new cache dir */
    (void)close(held);
    free_box(f, 0);
    sbx_result_release(res);

    mounts_template_release(&ctx->tmpl);
    ctx->cfg.mount_template = false;
    ctx->cfg.cache_dir = NULL;
    ctx->cache_dir[0] = '\0';
    char path[sizeof cache + 8];
    (void)snprintf(path, sizeof path, "%s/hello", cache);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(cache), 0);
}

/* ---- fixtures ---- */

static int test_teardown(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < NBOX; i++)
        free_box(f, i);
    sbx_result_release(&f->res);
    free(f->scratch);
    f->scratch = NULL;
    return 0;
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sbx_test_fx_init(&f->x, "box", 3900000, 8);
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
    int ret = 0;
    sbx_ctx_free(f->x.ctx);
    f->x.ctx = NULL;
    for (unsigned h = 0; h < f->x.nparents; h++) {
        /* the last context using a parent group removes it */
        if (access(f->x.parents[h], F_OK) == 0) {
            print_error("sbx_ctx_free left %s\n", f->x.parents[h]);
            ret = -1;
        }
    }
    if (sbx_test_fx_stop(&f->x) < 0)
        ret = -1;
    free(f);
    return ret;
}

int main(void)
{
    if (!sbx_test_have_root("box"))
        return MOAT_TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ok_exact_stdout, test_teardown),
        cmocka_unit_test_teardown(test_stdin_exact, test_teardown),
        cmocka_unit_test_teardown(test_exit_code, test_teardown),
        cmocka_unit_test_teardown(test_signal, test_teardown),
        cmocka_unit_test_teardown(test_cpu_limit, test_teardown),
        cmocka_unit_test_teardown(test_wall_limit, test_teardown),
        cmocka_unit_test_teardown(test_memory_limit, test_teardown),
        cmocka_unit_test_teardown(test_output_limit, test_teardown),
        cmocka_unit_test_teardown(test_stderr_separate, test_teardown),
        cmocka_unit_test_teardown(test_exec_failure, test_teardown),
        cmocka_unit_test_teardown(test_files, test_teardown),
        cmocka_unit_test_teardown(test_bad_file_names, test_teardown),
        cmocka_unit_test_teardown(test_planted_names, test_teardown),
        cmocka_unit_test_teardown(test_two_steps, test_teardown),
        cmocka_unit_test_teardown(test_orphan_killed, test_teardown),
        cmocka_unit_test_teardown(test_cancel, test_teardown),
        cmocka_unit_test_teardown(test_free_leaves_nothing, test_teardown),
        cmocka_unit_test_teardown(test_init_killed, test_teardown),
        cmocka_unit_test_teardown(test_box_count_and_isolation, test_teardown),
        cmocka_unit_test_teardown(test_pids_max, test_teardown),
        cmocka_unit_test_teardown(test_rlimit_nproc, test_teardown),
        cmocka_unit_test_teardown(test_creds, test_teardown),
        cmocka_unit_test_teardown(test_mounts_read_only, test_teardown),
        cmocka_unit_test_teardown(test_template, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
