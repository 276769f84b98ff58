/*
 * Box init: pid 1 of the box's pid namespace. It builds the box's root,
 * writes the job's files into /box without ever following a link, keeps the
 * next step's program process pre-forked, supervises steps, hands a step's
 * files back when asked (collect.c), and dies with its parent
 * (PR_SET_PDEATHSIG), which takes every process of the box along.
 */
#include "box-internal.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* openat2 refuses symlinks anywhere on the path and any escape from dirfd;
 * O_NOFOLLOW|O_EXCL alone is the fallback for kernels before 5.6. Files
 * are created, never opened if present: a planted name fails the step. */
static int write_box_file(int boxfd, uint32_t uid, const struct sbx_file *f,
                          struct moat_err *err)
{
    if (!f->name || !sbx_file_name_ok(f->name))
        return moat_err_field(err, -EINVAL, "files", "invalid file name");
    char path[256];
    moat_strlcpy(path, f->name, sizeof(path));
    int dirfd = boxfd;
    char *comp = path;
    for (char *slash; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
        *slash = '\0';
        if (mkdirat(dirfd, comp, 0755) == 0) {
            if (fchownat(dirfd, comp, uid, uid, AT_SYMLINK_NOFOLLOW) < 0)
                goto fail_errno;
        } else if (errno != EEXIST) {
            goto fail_errno;
        }
        int sub = open_beneath(dirfd, comp, O_RDONLY | O_DIRECTORY, 0);
        if (dirfd != boxfd)
            (void)close(dirfd);
        if (sub < 0) {
            errno = -sub;
            return moat_err_set(err, sub, "open directory %s: %s", comp, strerror(-sub));
        }
        dirfd = sub;
    }
    int fd = open_beneath(dirfd, comp, O_WRONLY | O_CREAT | O_EXCL,
                            f->executable ? 0755 : 0644);
    if (dirfd != boxfd)
        (void)close(dirfd);
    if (fd < 0)
        return moat_err_set(err, fd, "create %s: %s", f->name, strerror(-fd));
    int r = fchown(fd, uid, uid) < 0 ? -errno : 0;
    if (r == 0)
        r = write_full(fd, f->data, f->len);
    (void)close(fd);
    if (r < 0)
        return moat_err_set(err, r, "write %s: %s", f->name, strerror(-r));
    return 0;
fail_errno:
    if (dirfd != boxfd)
        (void)close(dirfd);
    return moat_err_set(err, -errno, "mkdir %s: %s", comp, strerror(errno));
}

static __attribute__((noreturn)) void die_box(int ctl, const struct moat_err *e)
{
    (void)wire_send(ctl, WIRE_FAIL, e->msg, strlen(e->msg) + 1);
    boxinit_kill_all();
    _exit(1);
}

static int setup_signals(void)
{
    /* Read through a signalfd, so blocked here; the program process resets
     * its mask before execve. SIGPIPE is blocked so that a vanished host
     * turns writes into EPIPE. */
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(sigs); i++)
        sigaddset(&set, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    sigdelset(&set, SIGPIPE);
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

/* What the result message leaves for collected files: the streams are
 * already bounded by the step's output limit, the rest of a result (numbers,
 * the message, per-file names and lengths) takes far less than the slack. */
static uint64_t result_room(const struct sbx_result *res)
{
    const uint64_t slack = (uint64_t)1 << 20;
    uint64_t used = (uint64_t)res->out.len + res->err.len + slack;
    return used < WIRE_MAX_PAYLOAD ? WIRE_MAX_PAYLOAD - used : 0;
}

static int run_step(struct boxinit_args *a, struct program *prog, int boxfd, int sigfd,
                    const char *payload, size_t len, bool *last)
{
    struct moat_err e = {0};
    struct wire_reader rd = {.p = payload, .left = len};
    struct wire_step step;
    struct sbx_result res;
    sbx_result_init(&res);
    int r = wire_get_step(&rd, &step);
    *last = r == 0 && step.last;
    if (r < 0) {
        moat_err_set(&e, r, "malformed step message");
    } else {
        for (size_t i = 0; r == 0 && i < step.nfiles; i++)
            r = write_box_file(boxfd, a->uid, &step.files[i], &e);
        if (r == 0) {
            r = supervise_step(prog, &step, a->ctl, sigfd, a->ctx->ncpu, &res);
            if (r < 0 && r != -EPIPE)
                moat_err_set(&e, r, "supervise step: %s", strerror(-r));
        }
        /* Every process of the box is dead now (supervise_step), and the
         * next program process is forked only after this message. */
        if (r == 0 && step.collect && res.verdict != SBX_VERDICT_INTERNAL_ERROR) {
            r = collect_box_files(boxfd, &step, result_room(&res), &res);
            if (r < 0)
                moat_err_set(&e, r, "collect files: %s", strerror(-r));
        }
        wire_step_release(&step);
    }
    if (r < 0 && r != -EPIPE) {
        res.verdict = SBX_VERDICT_INTERNAL_ERROR;
        moat_strlcpy(res.message, e.msg, sizeof(res.message));
    }
    struct buf out;
    buf_init(&out, WIRE_MAX_PAYLOAD);
    int w = r == -EPIPE ? r : wire_put_result(&out, &res);
    if (w == 0)
        w = wire_send(a->ctl, WIRE_RESULT, out.data, out.len);
    buf_release(&out);
    sbx_result_release(&res);
    return w < 0 ? w : 0;
}

static int build_root(void *arg, struct moat_err *err)
{
    const struct boxinit_args *a = arg;
    return mounts_build(a->ctx, a->uid, err);
}

static int finish_root(void *arg, struct moat_err *err)
{
    const struct boxinit_args *a = arg;
    return mounts_finish(a->ctx, a->uid, err);
}

void boxinit_main(struct boxinit_args *a)
{
    struct moat_err e = {0};
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    (void)prctl(PR_SET_DUMPABLE, 0);
    (void)prctl(PR_SET_NAME, "moat-box");
    int sigfd = setup_signals();
    if (sigfd < 0)
        die_box(a->ctl, &(struct moat_err){.msg = "signalfd failed"});
    if (a->netns >= 0) {
        if (setns(a->netns, CLONE_NEWNET) < 0) {
            moat_err_set(&e, -errno, "join network namespace: %s", strerror(errno));
            die_box(a->ctl, &e);
        }
        (void)close(a->netns);
    }
    if (sethostname("box", 3) < 0 || setdomainname("box", 3) < 0) {
        moat_err_set(&e, -errno, "set host name: %s", strerror(errno));
        die_box(a->ctl, &e);
    }
    /* The first program process is forked before the root is built, so
     * that on v1 (or v2 without CLONE_INTO_CGROUP) moving it into its
     * cgroup overlaps with the mounts; a template root leaves less to
     * overlap. */
    struct program prog;
    unsigned step_no = 1;
    struct prefork_hook build = {.fn = build_root, .arg = a};
    if (a->ctx->tmpl.nsfd >= 0) {
        /* Before the fork: the program process must share the box's copy. */
        if (mounts_enter_template(a->ctx, &e) < 0)
            die_box(a->ctl, &e);
        build.fn = finish_root;
    }
    if (program_prefork(a->ctx, a->uid, a->cg, step_no, &build, &prog, &e) < 0)
        die_box(a->ctl, &e);
    int boxfd = open("/box", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (boxfd < 0) {
        moat_err_set(&e, -errno, "open /box: %s", strerror(errno));
        die_box(a->ctl, &e);
    }
    if (wire_send(a->ctl, WIRE_READY, NULL, 0) < 0)
        goto out;
    for (;;) {
        enum wire_type type;
        char *payload = NULL;
        size_t len = 0;
        if (wire_recv(a->ctl, &type, &payload, &len) < 0)
            break; /* the host is done with the box */
        bool last = false;
        int r = type == WIRE_STEP ? run_step(a, &prog, boxfd, sigfd, payload, len, &last)
                                  : -EPROTO;
        free(payload);
        program_discard(&prog);
        if (r < 0)
            break;
        if (last) {
            /* the teardown yields to running jobs, as preparation did */
            (void)setpriority(PRIO_PROCESS, 0, (int)a->ctx->cfg.spawner_nice);
            /* The host frees the box next. Exiting only then keeps the box's
             * teardown (unmounts, namespaces, freed memory: a few ms of
             * kernel work) from competing with what the host does with the
             * result, such as committing it and answering the client. Every
             * process of the step is dead already. */
            char c;
            while (read(a->ctl, &c, 1) < 0 && errno == EINTR)
                ;
            break;
        }
        if (program_prefork(a->ctx, a->uid, a->cg, ++step_no, NULL, &prog, &e) < 0)
            die_box(a->ctl, &e);
    }
out:
    boxinit_kill_all();
    _exit(0);
}
