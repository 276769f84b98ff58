/*
 * Box init's supervision of one step: wall clock, CPU of the whole cgroup,
 * output caps, cancel, and the end of the step, after which no process of
 * the box is left (pid 1 of the namespace kills and reaps them all).
 */
#include "box-internal.h"

#include <endian.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

enum kill_reason { KILL_NONE, KILL_OUTPUT, KILL_CPU, KILL_WALL, KILL_CANCEL, KILL_HOST };

struct sup {
    struct program *p;
    const struct sbx_limits *lim;
    struct sbx_result *res;
    int ep;
    uint64_t t0, cpu0, cpu_used;
    uint64_t wall_end_ns;
    int ncpu;
    bool main_done;
    int main_status;
    uint64_t main_end_ns;
    enum kill_reason reason;
    bool host_gone;
    const char *argv0;
    bool order_full; /* SBX_ORDER_MAX entries noted: no more */
};

void boxinit_kill_all(void)
{
    /* kill(-1) from pid 1 reaches every other process of the namespace;
     * orphans are reparented to us, so ECHILD means none is left. Repeat:
     * a process may fork between the kill and the wait. */
    for (;;) {
        (void)kill(-1, SIGKILL);
        pid_t r = waitpid(-1, NULL, __WALL);
        if (r < 0 && errno == ECHILD)
            return;
    }
}

static void stop(struct sup *s, enum kill_reason why)
{
    if (s->reason == KILL_NONE)
        s->reason = why;
    (void)kill(-1, SIGKILL);
}

/* Notes n bytes kept of one stream in the result's order: the last entry
 * grows while the same stream goes on, so a program that writes one
 * stream costs one entry; past SBX_ORDER_MAX entries nothing more is
 * noted, not even in the last entry (the rest of both streams comes after
 * what the order covers). Only boundaries are kept: no copy of the bytes. */
static void note_order(struct sup *s, bool is_err, size_t n)
{
    if (s->order_full)
        return;
    struct buf *o = &s->res->order;
    uint32_t tag = is_err ? SBX_ORDER_STDERR : 0;
    if (o->len >= 4) {
        uint32_t last;
        memcpy(&last, o->data + o->len - 4, 4);
        last = le32toh(last);
        if ((last & SBX_ORDER_STDERR) == tag &&
            (uint64_t)(last & ~SBX_ORDER_STDERR) + n < SBX_ORDER_STDERR) {
            last = htole32(last + (uint32_t)n);
            memcpy(o->data + o->len - 4, &last, 4);
            return;
        }
    }
    uint32_t e = htole32(tag | (uint32_t)n);
    /* n is at most one read's chunk; full: the rest is not ordered */
    if (n >= SBX_ORDER_STDERR || buf_append(o, &e, 4) < 0)
        s->order_full = true;
}

/* Appends what the pipe holds, up to the stream's cap; past it, the step
 * ends with output_limit. Returns false at EOF. */
static bool drain(struct sup *s, int fd, struct buf *b, bool *truncated)
{
    bool is_err = b == &s->res->err;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN;
        }
        if (n == 0)
            return false;
        size_t room = s->lim->output_bytes > b->len ? (size_t)(s->lim->output_bytes - b->len) : 0;
        size_t take = (size_t)n < room ? (size_t)n : room;
        if (take && buf_append(b, chunk, take) == 0)
            note_order(s, is_err, take);
        if ((size_t)n > take) {
            *truncated = true;
            stop(s, KILL_OUTPUT);
        }
    }
}

static void reap(struct sup *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
        if (pid == s->p->pid && !s->main_done) {
            s->main_done = true;
            s->main_status = st;
            s->main_end_ns = moat_now_ns();
        }
    }
}

static void on_signal(struct sup *s, int sigfd)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap(s);
        else if (si.ssi_signo == SIGUSR1)
            stop(s, KILL_CANCEL);
        else
            stop(s, KILL_HOST); /* SIGTERM/SIGINT/SIGHUP: the host wants us gone */
    }
    reap(s); /* SIGCHLDs coalesce */
}

/* When the CPU limit can be reached at the earliest: the whole cgroup burns
 * at most ncpu seconds per second, so there is no need to poll before. */
static int next_timeout_ms(struct sup *s)
{
    uint64_t now = moat_now_ns();
    uint64_t limit_us = s->lim->cpu_ms * 1000;
    uint64_t left_us = limit_us > s->cpu_used ? limit_us - s->cpu_used : 0;
    uint64_t cpu_wait_ns = left_us * 1000 / (uint64_t)s->ncpu;
    if (cpu_wait_ns < 1000000)
        cpu_wait_ns = 1000000;
    if (cpu_wait_ns > 250000000)
        cpu_wait_ns = 250000000;
    uint64_t wall_wait_ns = s->wall_end_ns > now ? s->wall_end_ns - now : 0;
    uint64_t wait = cpu_wait_ns < wall_wait_ns ? cpu_wait_ns : wall_wait_ns;
    return (int)((wait + 999999) / 1000000);
}

static void check_limits(struct sup *s)
{
    uint64_t cpu;
    if (cg_read_cpu_us(s->p->cg, &cpu) == 0)
        s->cpu_used = cpu > s->cpu0 ? cpu - s->cpu0 : 0;
    if (s->cpu_used >= s->lim->cpu_ms * 1000)
        stop(s, KILL_CPU);
    else if (moat_now_ns() >= s->wall_end_ns)
        stop(s, KILL_WALL);
}

static void watch(struct sup *s, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    (void)epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void run_loop(struct sup *s, int ctl, int sigfd)
{
    struct sbx_result *res = s->res;
    bool out_open = true, err_open = true;
    watch(s, s->p->out_r);
    watch(s, s->p->err_r);
    watch(s, sigfd);
    watch(s, ctl);
    while (!s->main_done) {
        struct epoll_event evs[8];
        int n = epoll_wait(s->ep, evs, 8, next_timeout_ms(s));
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s->p->out_r && out_open) {
                out_open = drain(s, fd, &res->out, &res->out_truncated);
                if (!out_open)
                    (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
            } else if (fd == s->p->err_r && err_open) {
                err_open = drain(s, fd, &res->err, &res->err_truncated);
                if (!err_open)
                    (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
            } else if (fd == sigfd) {
                on_signal(s, sigfd);
            } else if (fd == ctl) {
                /* The host never writes during a step: readable means gone. */
                s->host_gone = true;
                (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
                stop(s, KILL_HOST);
            }
        }
        if (!s->main_done)
            check_limits(s);
    }
    /* The main process is gone: so is the step. Everything it left behind
     * (orphans, daemons, stopped processes) dies before output is read to
     * its end, so nothing can append after the step (R22). */
    boxinit_kill_all();
    /* Every process of the step was in this pid namespace (none can leave
     * it: no setns, no capabilities), so the step's cgroup is empty now
     * (the box's group for its first step, a step group after); the group
     * is checked again off the critical path, when it is recycled or
     * removed. */
    if (out_open)
        (void)drain(s, s->p->out_r, &res->out, &res->out_truncated);
    if (err_open)
        (void)drain(s, s->p->err_r, &res->err, &res->err_truncated);
}

/*
 * An execve that failed on a file the steps made (argv[0] relative to /box
 * or under it: what the compile step produced, e.g. a library where a
 * program was expected) or on the user's own arguments (E2BIG) is the
 * program's failure, reported as a shell would (126 found but not run, 127
 * not found), never moat's: an internal error would be retried.
 */
static bool exec_failure_is_programs(const char *argv0, int stage, int err)
{
    if (stage != PROGRAM_STAGE_EXEC)
        return false;
    return err == E2BIG || argv0[0] != '/' || strncmp(argv0, "/box/", 5) == 0;
}

static void set_exec_failure(struct sup *s, int exec_err, int exec_stage)
{
    struct sbx_result *res = s->res;
    res->signal = 0;
    if (exec_failure_is_programs(s->argv0, exec_stage, exec_err)) {
        res->verdict = SBX_VERDICT_RUNTIME_ERROR;
        res->exit_code = exec_err == ENOENT ? 127 : 126;
        (void)snprintf(res->message, sizeof(res->message), "cannot execute %s: %s", s->argv0,
                       strerror(exec_err));
        return;
    }
    static const char *const stages[] = {
        [PROGRAM_STAGE_SETUP] = "set up",        [PROGRAM_STAGE_LIMITS] = "set limits",
        [PROGRAM_STAGE_LANDLOCK] = "apply Landlock", [PROGRAM_STAGE_STDIO] = "set up stdio",
        [PROGRAM_STAGE_SECCOMP] = "load seccomp",  [PROGRAM_STAGE_EXEC] = "execve"};
    const char *stage = exec_stage > 0 && (size_t)exec_stage < MOAT_ARRAY_SIZE(stages)
                            ? stages[exec_stage]
                            : "start";
    res->verdict = SBX_VERDICT_INTERNAL_ERROR;
    (void)snprintf(res->message, sizeof(res->message), "program could not %s %s: %s", stage,
                   exec_stage == PROGRAM_STAGE_EXEC ? s->argv0 : "", strerror(exec_err));
}

/*
 * The verdict comes from moat's own accounting, never from what the program
 * controls: CPU time from the cgroup against the limit (a SIGXCPU the
 * program raised itself is a signal like any other), the wall clock, the
 * cgroup's OOM kill counter, the output byte counts, a cancel from the host.
 */
static void set_verdict(struct sup *s, const struct cg_stats *st, int exec_err, int exec_stage)
{
    struct sbx_result *res = s->res;
    int status = s->main_status;
    if (WIFSIGNALED(status)) {
        res->signal = WTERMSIG(status);
        res->exit_code = 128 + res->signal;
    } else {
        res->exit_code = WEXITSTATUS(status);
    }
    res->oom_killed = st->oom_kills > 0;
    /* RLIMIT_CPU, the per-process backstop, is set past the limit: a
     * process it kills has used more than the limit, which the cgroup's
     * sum shows too. */
    res->cpu_exceeded = s->reason == KILL_CPU || s->cpu_used > s->lim->cpu_ms * 1000;
    res->wall_exceeded = s->reason == KILL_WALL;
    res->output_exceeded = s->reason == KILL_OUTPUT || res->out_truncated || res->err_truncated;

    if (s->reason == KILL_CANCEL || s->reason == KILL_HOST) {
        res->verdict = SBX_VERDICT_CANCELLED;
    } else if (exec_err) {
        set_exec_failure(s, exec_err, exec_stage);
    } else if (s->reason == KILL_OUTPUT) {
        res->verdict = SBX_VERDICT_OUTPUT_LIMIT;
    } else if (res->cpu_exceeded || res->wall_exceeded) {
        res->verdict = SBX_VERDICT_TIME_LIMIT;
        res->exit_code = 124; /* as timeout(1) */
        res->signal = 0;
    } else if (res->oom_killed) {
        res->verdict = SBX_VERDICT_MEMORY_LIMIT;
    } else if (res->output_exceeded) {
        res->verdict = SBX_VERDICT_OUTPUT_LIMIT;
    } else if (res->signal || res->exit_code != 0) {
        res->verdict = SBX_VERDICT_RUNTIME_ERROR;
    } else {
        res->verdict = SBX_VERDICT_OK;
    }
}

int supervise_step(struct program *p, const struct wire_step *step, int ctl, int sigfd, int ncpu,
                   struct sbx_result *res)
{
    const struct sbx_limits *lim = &step->limits;
    struct sup s = {.p = p, .lim = lim, .res = res, .ep = -1, .reason = KILL_NONE,
                    .argv0 = step->argv[0]};
    int r = cg_set_limits(p->cg, lim->memory_bytes, lim->max_procs);
    if (r < 0)
        return r;
    if (ftruncate(p->stdin_fd, 0) < 0)
        return -errno;
    if (step->stdin_len) {
        ssize_t n = pwrite(p->stdin_fd, step->stdin_data, step->stdin_len, 0);
        if (n < 0 || (size_t)n != step->stdin_len)
            return n < 0 ? -errno : -EIO;
    }
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    if (s.ep < 0)
        return -errno;
    (void)fcntl(p->out_r, F_SETFL, O_NONBLOCK);
    (void)fcntl(p->err_r, F_SETFL, O_NONBLOCK);
    /* The group may have run earlier steps or boxes: the step's figures
     * are what grows from here, its peak restarts now. */
    struct cg_stats base = {0};
    r = cg_step_begin(p->cg, &base);
    if (r < 0) {
        (void)close(s.ep);
        return r;
    }
    s.cpu0 = base.cpu_us;
    s.ncpu = ncpu > 0 ? ncpu : 1;
    s.t0 = moat_now_ns();
    s.wall_end_ns = s.t0 + lim->wall_ms * 1000000;
    r = program_go(p, step);
    if (r < 0) {
        (void)close(s.ep);
        return r;
    }
    run_loop(&s, ctl, sigfd);
    (void)close(s.ep);
    p->pid = -1; /* reaped by run_loop */

    struct cg_stats st = {0};
    (void)cg_read_stats(p->cg, &st);
    st.oom_kills = st.oom_kills > base.oom_kills ? st.oom_kills - base.oom_kills : 0;
    s.cpu_used = st.cpu_us > s.cpu0 ? st.cpu_us - s.cpu0 : s.cpu_used;
    int32_t rep[2] = {0, 0};
    (void)fcntl(p->exec_err_r, F_SETFL, O_NONBLOCK);
    bool exec_failed = read(p->exec_err_r, rep, sizeof(rep)) == (ssize_t)sizeof(rep);
    res->cpu_us = s.cpu_used;
    res->wall_us = (s.main_end_ns - s.t0) / 1000;
    res->memory_kb = st.memory_peak / 1024;
    set_verdict(&s, &st, exec_failed ? (rep[1] ? rep[1] : EIO) : 0, exec_failed ? rep[0] : 0);
    return s.host_gone ? -EPIPE : 0;
}
