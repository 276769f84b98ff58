/*
 * The program process of one step. Box init forks it ahead of time into a
 * new user namespace, attaches it to the step's cgroup and writes its id
 * maps; the process then drops everything it can drop while nothing hostile
 * runs yet (cgroup namespace, session, groups, uid, capabilities,
 * no_new_privs, the Landlock ruleset) and blocks on a pipe. A step then costs
 * one message: rlimits, stdio, Landlock, seccomp, execve.
 *
 * It is a fork of the single-threaded box init, so ordinary libc calls are
 * safe before the message arrives; after it only the async-signal-safe tail
 * runs. Failures are reported as an errno on a CLOEXEC pipe: nothing of the
 * program's own is written there, and an execve that works closes it.
 */
#include "box-internal.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

struct exec_report {
    int32_t stage; /* which step failed */
    int32_t err;   /* errno */
};

static __attribute__((noreturn)) void child_fail(int fd, enum program_stage stage)
{
    struct exec_report rep = {.stage = (int32_t)stage, .err = errno};
    (void)!write(fd, &rep, sizeof(rep));
    _exit(127);
}

/*
 * A time namespace whose monotonic and boot clocks start at 0 now: uptime
 * (/proc/uptime, sysinfo), the boot time in /proc/stat and CLOCK_BOOTTIME
 * are the box's own, not the host's (how long it has been up, when it
 * booted: a fact that also tells two boxes they share a host). The program
 * enters it at execve. Kernels without time namespaces (before 5.6, or
 * built without them) keep the host's clocks.
 */
static int enter_own_time(void)
{
    if (unshare(CLONE_NEWTIME) < 0)
        return errno == EINVAL ? 0 : -1;
    struct timespec mono, boot;
    if (clock_gettime(CLOCK_MONOTONIC, &mono) < 0 || clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
        return -1;
    char offsets[96];
    int n = snprintf(offsets, sizeof(offsets), "monotonic %lld 0\nboottime %lld 0\n",
                     -(long long)mono.tv_sec, -(long long)boot.tv_sec);
    int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = write_full(fd, offsets, (size_t)n);
    (void)close(fd);
    if (r < 0)
        errno = -r;
    return r < 0 ? -1 : 0;
}

/* Warm-time setup, in the new user namespace, before anything hostile. */
static void child_prepare(const struct sbx_ctx *ctx, int ready_r, int report_w, int *ruleset)
{
    char c;
    if (read(ready_r, &c, 1) != 1)
        _exit(127); /* box init went away */
    (void)close(ready_r);
    /* Forked before box init built the root, the pivot moved our root but
     * not necessarily our working directory. */
    if (chdir("/box") < 0)
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    /* Box init blocks the signals it reads through a signalfd and ignores
     * none, but make the program's start state explicit: default
     * dispositions (inherited across execve when ignored) and no mask. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    /* Own cgroup namespace now that box init put us in the step's group:
     * /proc/self/cgroup shows "/" and nothing of the host's tree. */
    if (unshare(CLONE_NEWCGROUP) < 0 || setsid() < 0)
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    if (enter_own_time() < 0)
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    if (setgroups(0, NULL) < 0 || setresgid(SBX_BOX_UID, SBX_BOX_UID, SBX_BOX_UID) < 0 ||
        setresuid(SBX_BOX_UID, SBX_BOX_UID, SBX_BOX_UID) < 0)
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    /* Our old uid (host root) is unmapped in this namespace, so the uid
     * change did not clear capabilities: drop them all, bounding set too. */
    if (sbx_drop_caps() < 0)
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    /* Set after the credential changes, which clear it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != 1)
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    *ruleset = -1;
    if (ctx->landlock_abi > 0) {
        *ruleset = sbx_landlock_prepare(ctx->landlock_abi);
        if (*ruleset < 0) {
            errno = -*ruleset;
            child_fail(report_w, PROGRAM_STAGE_LANDLOCK);
        }
    }
    /* The filter goes on now, while the box is warm: the kernel compiles
     * it to native code on load (a few hundred microseconds for this
     * policy). What the step still does before execve (read the message,
     * setrlimit, landlock_restrict_self, dup2, close_range) is allowed. */
    if (sbx_seccomp_apply(&ctx->filter) < 0)
        child_fail(report_w, PROGRAM_STAGE_SECCOMP);
}

static void set_limit(int fd, int resource, uint64_t soft, uint64_t hard)
{
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    if (setrlimit(resource, &rl) < 0)
        child_fail(fd, PROGRAM_STAGE_LIMITS);
}

static void apply_limits(int fd, const struct sbx_limits *l)
{
    /* RLIMIT_CPU backs up the cgroup's CPU accounting per process: the
     * supervisor normally kills first. */
    uint64_t cpu_s = l->cpu_ms / 1000 + 2;
    set_limit(fd, RLIMIT_CPU, cpu_s, cpu_s + 1);
    set_limit(fd, RLIMIT_FSIZE, l->file_bytes, l->file_bytes);
    set_limit(fd, RLIMIT_NOFILE, l->open_files, l->open_files);
    set_limit(fd, RLIMIT_STACK, l->stack_bytes, l->stack_bytes);
    set_limit(fd, RLIMIT_CORE, 0, 0);
    set_limit(fd, RLIMIT_MEMLOCK, 64 << 10, 64 << 10);
    set_limit(fd, RLIMIT_MSGQUEUE, 0, 0);
    set_limit(fd, RLIMIT_NICE, 0, 0); /* no way back above a priority given up */
    /* Queued signals and POSIX timers (each holds a queued signal): kernel
     * objects that kernels before 5.14 do not charge to the memory cgroup.
     * The default is the host's thread limit, ~100,000 here. */
    set_limit(fd, RLIMIT_SIGPENDING, SBX_SIGPENDING_MAX, SBX_SIGPENDING_MAX);
    /* The uid is this box's alone, so the per-user process count is a
     * per-box one: a second line behind pids.max. */
    set_limit(fd, RLIMIT_NPROC, l->max_procs, l->max_procs);
}

/* The step: from the message to execve. */
static __attribute__((noreturn)) void child_run(int go_r,
                                                int report_w, int ruleset, int stdin_fd,
                                                int out_w, int err_w)
{
    uint64_t len;
    if (read_full(go_r, &len, sizeof(len)) < 0 || len > WIRE_MAX_PAYLOAD)
        _exit(127);
    char *payload = malloc(len ? (size_t)len : 1);
    if (!payload || read_full(go_r, payload, (size_t)len) < 0)
        _exit(127);
    struct wire_reader rd = {.p = payload, .left = (size_t)len};
    struct wire_step s;
    if (wire_get_step(&rd, &s) < 0) {
        errno = EPROTO;
        child_fail(report_w, PROGRAM_STAGE_SETUP);
    }
    apply_limits(report_w, &s.limits);
    if (ruleset >= 0 && sbx_landlock_enforce(ruleset) < 0)
        child_fail(report_w, PROGRAM_STAGE_LANDLOCK);
    if (dup2(stdin_fd, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        child_fail(report_w, PROGRAM_STAGE_STDIO);
    /* Only stdio and the report pipe (CLOEXEC) survive into the program:
     * no fd of box init, the host, or a cgroup directory leaks (E5). */
    int keep = report_w;
    if (keep > 3)
        (void)syscall(SYS_close_range, 3, keep - 1, 0);
    (void)syscall(SYS_close_range, keep + 1, ~0U, 0);
    execve(s.argv[0], s.argv, s.envp);
    child_fail(report_w, PROGRAM_STAGE_EXEC);
}

static void close_pair(int p[2])
{
    if (p[0] >= 0)
        (void)close(p[0]);
    if (p[1] >= 0)
        (void)close(p[1]);
    p[0] = p[1] = -1;
}

static int write_id_maps(pid_t pid, uint32_t uid)
{
    char path[64], map[64];
    (void)snprintf(map, sizeof(map), "%u %u 1\n", SBX_BOX_UID, uid);
    (void)snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
    int r = write_file_at(AT_FDCWD, path, map);
    if (r == 0) {
        (void)snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
        r = write_file_at(AT_FDCWD, path, map);
    }
    return r;
}

/*
 * Moving a process into a cgroup waits, on cgroup v1, for an RCU grace
 * period when no migration happened recently (5-10 ms on this kind of VM).
 * For a new box that wait overlaps with building its root: a forked
 * attacher moves the program process while box init mounts. With
 * favordynmods on a hierarchy there is no wait, and box init moves it
 * itself (one process fewer per box).
 */
static int attach_during(struct program *p, const struct prefork_hook *hook,
                         struct moat_err *err)
{
    pid_t attacher = fork();
    if (attacher < 0)
        return moat_err_set(err, -errno, "fork attacher: %s", strerror(errno));
    if (attacher == 0)
        _exit(cg_attach(p->cg, p->pid) < 0 ? 1 : 0);
    int r = hook->fn(hook->arg, err);
    int st = 0;
    while (waitpid(attacher, &st, 0) < 0 && errno == EINTR)
        ;
    if (r == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        r = moat_err_set(err, -EIO, "attach the program process to its cgroup failed");
    return r;
}

/*
 * The group a step's program runs in. The first step runs in the box's own
 * group: nothing ran in it before (a box group is new, or recycled: empty,
 * reclaimed, limits lifted), and the step's figures are read against the
 * counters at its start (cg_step_begin), so a group of its own would only
 * cost a mkdir and an rmdir in every hierarchy. A later step gets a child
 * group: what earlier steps left in /box (a compiler's output) stays
 * charged to the box's group, not to this step's limit and peak; the box's
 * group loses the first step's limits so that they do not cap it.
 */
static int step_group(struct cg_group *box_cg, unsigned step_no, struct program *p,
                      struct moat_err *err)
{
    if (step_no == 1) {
        p->cg = box_cg;
        p->cg_owned = false;
        return 0;
    }
    int r = cg_set_limits(box_cg, 0, 0);
    if (r < 0)
        return moat_err_set(err, r, "lift the box's limits: %s", strerror(-r));
    char name[16];
    (void)snprintf(name, sizeof(name), "s%u", step_no);
    r = cg_create_child(box_cg, name, &p->cg, err);
    p->cg_owned = r == 0;
    return r;
}

/* The program process, born in its user namespace; on cgroup v2 also born
 * in its group (clone3 CLONE_INTO_CGROUP: no migration). *attached says
 * which. The child returns 0, as from fork. */
static pid_t clone_program(const struct program *p, bool *attached)
{
    int cgfd = cg_clone_fd(p->cg);
    *attached = false;
    if (cgfd >= 0) {
        struct clone_args a = {.flags = (__u64)CLONE_NEWUSER | (__u64)CLONE_INTO_CGROUP,
                               .exit_signal = (__u64)SIGCHLD,
                               .cgroup = (__u64)(unsigned)cgfd};
        pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
        if (pid >= 0) {
            *attached = true;
            return pid;
        }
        /* before 5.7 (ENOSYS, E2BIG) or refused: move it in afterwards */
    }
    return (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, NULL, NULL, 0);
}

int program_prefork(struct sbx_ctx *ctx, uint32_t uid, struct cg_group *box_cg,
                    unsigned step_no, const struct prefork_hook *hook, struct program *p,
                    struct moat_err *err)
{
    int ready[2] = {-1, -1}, go[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1},
        rep[2] = {-1, -1};
    int r = 0;
    *p = (struct program){.pid = -1, .go_w = -1, .out_r = -1, .err_r = -1, .stdin_fd = -1,
                          .exec_err_r = -1};
    r = step_group(box_cg, step_no, p, err);
    if (r < 0)
        return r;
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(errp, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
        r = moat_err_set(err, -errno, "pipe: %s", strerror(errno));
        goto fail;
    }
    /* stdin is a file holding exactly the given bytes: EOF comes at once,
     * no writer can block, and the program gets a read-only descriptor. */
    p->stdin_fd = memfd_create("stdin", MFD_CLOEXEC);
    int stdin_ro = -1;
    if (p->stdin_fd >= 0) {
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", p->stdin_fd);
        stdin_ro = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (stdin_ro < 0) {
        r = moat_err_set(err, -errno, "stdin memfd: %s", strerror(errno));
        goto fail;
    }
    bool attached = false;
    pid_t pid = clone_program(p, &attached);
    if (pid < 0) {
        r = moat_err_set(err, -errno, "clone program: %s", strerror(errno));
        (void)close(stdin_ro);
        goto fail;
    }
    if (pid == 0) {
        (void)close(ready[1]);
        (void)close(go[1]);
        (void)close(out[0]);
        (void)close(errp[0]);
        (void)close(rep[0]);
        int ruleset;
        child_prepare(ctx, ready[0], rep[1], &ruleset);
        child_run(go[0], rep[1], ruleset, stdin_ro, out[1], errp[1]);
    }
    (void)close(stdin_ro);
    p->pid = pid;
    if (attached) {
        r = hook ? hook->fn(hook->arg, err) : 0; /* born in its group (v2) */
    } else if (hook && !ctx->cg_fast_attach) {
        r = attach_during(p, hook, err);
    } else {
        r = cg_attach(p->cg, pid);
        if (r == 0 && hook)
            r = hook->fn(hook->arg, err);
    }
    if (r == 0)
        r = write_id_maps(pid, uid);
    if (r == 0)
        r = write_full(ready[1], "g", 1);
    if (r < 0) {
        moat_err_set(err, r, "prepare program process: %s", strerror(-r));
        goto fail;
    }
    (void)close(ready[0]);
    (void)close(ready[1]);
    (void)close(go[0]);
    (void)close(out[1]);
    (void)close(errp[1]);
    (void)close(rep[1]);
    p->go_w = go[1];
    p->out_r = out[0];
    p->err_r = errp[0];
    p->exec_err_r = rep[0];
    return 0;
fail:
    close_pair(ready);
    close_pair(go);
    close_pair(out);
    close_pair(errp);
    close_pair(rep);
    program_discard(p);
    return r;
}

void program_discard(struct program *p)
{
    if (p->pid > 0) {
        (void)kill(p->pid, SIGKILL);
        (void)waitpid(p->pid, NULL, 0);
        p->pid = -1;
    }
    int *fds[] = {&p->go_w, &p->out_r, &p->err_r, &p->stdin_fd, &p->exec_err_r};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(fds); i++) {
        if (*fds[i] >= 0)
            (void)close(*fds[i]);
        *fds[i] = -1;
    }
    if (p->cg && p->cg_owned)
        (void)cg_destroy(p->cg);
    p->cg = NULL;
    p->cg_owned = false;
}

int program_go(struct program *p, const struct wire_step *s)
{
    /* Prepared at the spawner's nice value; the step runs at 0 (box init
     * too: it supervises). RLIMIT_NICE allows it; without it (spawner_nice
     * 0) both are at 0 already. */
    (void)setpriority(PRIO_PROCESS, 0, 0);
    (void)setpriority(PRIO_PROCESS, (id_t)p->pid, 0);
    /* Re-encode the decoded step for the program: it needs argv, envp and
     * limits only (files are written and stdin filled by box init). */
    struct buf b;
    buf_init(&b, WIRE_MAX_PAYLOAD);
    struct sbx_step step = {.argv = (const char *const *)s->argv,
                            .envp = (const char *const *)s->envp,
                            .limits = s->limits};
    uint64_t len = 0;
    int r = buf_append(&b, &len, sizeof(len));
    if (r == 0)
        r = wire_put_step(&b, &step);
    if (r == 0) {
        len = b.len - sizeof(len);
        memcpy(b.data, &len, sizeof(len));
        r = write_full(p->go_w, b.data, b.len);
    }
    buf_release(&b);
    (void)close(p->go_w);
    p->go_w = -1;
    return r;
}
