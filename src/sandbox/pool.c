/*
 * The warm pool. sbx_pool_start forks a spawner while the process is still
 * single-threaded; the spawner alone makes boxes (raw clone, libc in the
 * child) and is their parent, so it reaps them and removes what is left of
 * them. It keeps `warm` boxes made ahead and a pool of network namespaces
 * (a new netns costs ~0.4 ms; joining one with setns ~20 us).
 *
 * Spawner -> user: one SEQPACKET message per box, carrying the box's
 * control socket and pidfd (SCM_RIGHTS). User -> spawner: one byte per box
 * freed, which is the credit for making the next one: `warm` is the number
 * of boxes alive, busy or ready. Refilling when a box is freed rather than
 * when it is taken keeps the spawner (about 1 ms of CPU per box) off the
 * two cores while the job it would compete with runs. When the user's end
 * closes, the spawner destroys every box and exits.
 */
#include "box-host.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

struct pool_shared { /* in a MAP_SHARED page: both processes update it */
    _Atomic uint32_t warm;
    _Atomic uint32_t busy;
    _Atomic uint64_t made;
    _Atomic uint64_t failed;
    _Atomic uint64_t slots_reused;
    _Atomic uint64_t netns_reused;
    _Atomic uint32_t slots_kept;
};

struct sbx_pool {
    int chan;
    pid_t spawner;
    pthread_mutex_t lock;
    struct pool_shared *sh;
};

struct box_msg {
    uint32_t uid;
    int32_t init_pid;
};

/* ======================= spawner side ======================= */

struct spawner {
    struct sbx_ctx *ctx;
    int chan;
    uint32_t warm;
    uint32_t outstanding; /* sent, not yet taken */
    struct box_host *hosts;
    size_t nhosts, cap;
    int netns_home;
    int *netns;       /* ready namespaces, the last one given first */
    size_t nnetns;
    size_t netns_cap; /* netns_pool new ones, plus room for reused ones */
    struct buf netns_base; /* a new namespace's view; empty: no reuse */
    struct box_slot *slots; /* slots of boxes that are gone, ready */
    size_t nslots;
    uint32_t dying;        /* freed boxes whose init is not reaped yet */
    uint64_t dying_until;  /* make no box before then while one is dying */
    struct pool_shared *sh;
};

/* What is left of a reaped box: its network namespace goes back to the
 * pool when it reads as new, its slot (uid lease, cgroups) serves the next
 * box when cg_recycle finds it clean; the rest is destroyed. Both checks
 * run here, in the spawner at its low priority, after the box's user has
 * its result. */
static void release_host(struct spawner *s, struct box_host *h)
{
    const struct sbx_config *cfg = &s->ctx->cfg;
    if (h->netns >= 0 && s->nnetns < s->netns_cap && s->netns_base.len > 0 &&
        netns_check(s->netns_home, h->netns, &s->netns_base) == 0) {
        s->netns[s->nnetns++] = h->netns;
        h->netns = -1;
        atomic_fetch_add(&s->sh->netns_reused, 1);
    }
    if (cfg->reuse_cgroups && h->cg && h->lease >= 0 && s->nslots < s->warm) {
        int r = cg_recycle(h->cg, cfg->cgroup_residual_bytes);
        if (r == 0) {
            s->slots[s->nslots++] = (struct box_slot){.lease = h->lease, .uid = h->uid,
                                                      .cg = h->cg};
            h->cg = NULL;
            h->lease = -1;
            atomic_fetch_add(&s->sh->slots_reused, 1);
            atomic_store(&s->sh->slots_kept, (uint32_t)s->nslots);
        } else {
            log_debug("msg=\"box cgroup not reused\" uid=%u error=\"%s\"", h->uid,
                      strerror(-r));
        }
    }
    box_host_destroy(h);
}

/* How long at most the spawner holds back the next box for a freed one
 * whose init is still exiting (its mounts and namespaces torn down), so
 * that the next box gets its slot and namespace rather than new ones. The
 * hold ends as soon as a slot is ready (usually a few ms: the first reap),
 * and is counted from the first of the freed boxes: under steady load boxes
 * are freed all the time, and the hold must not push itself back. */
#define DYING_WAIT_NS (1000ull * 1000 * 1000)

/* A box its user freed: its init exits as soon as it reads the end of its
 * socket. Until it is reaped (or DYING_WAIT_NS passes) no box is made
 * (pool_hold). */
static void mark_freed(struct spawner *s, pid_t pid)
{
    for (size_t i = 0; i < s->nhosts; i++) {
        if (s->hosts[i].init_pid != pid || s->hosts[i].freed)
            continue;
        s->hosts[i].freed = true;
        if (s->dying++ == 0)
            s->dying_until = moat_now_ns() + DYING_WAIT_NS;
        return;
    }
}

/* Whether the next box waits for a dying one's slot: only when something
 * is reused at all and no kept slot is ready already. */
static bool pool_hold(const struct spawner *s, uint64_t now)
{
    const struct sbx_config *cfg = &s->ctx->cfg;
    return (cfg->reuse_cgroups || s->netns_base.len > 0) && s->nslots == 0 && s->dying > 0 &&
           now < s->dying_until;
}

static int host_add(struct spawner *s, const struct box_host *h)
{
    if (s->nhosts == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct box_host *p = realloc(s->hosts, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->hosts = p;
        s->cap = cap;
    }
    s->hosts[s->nhosts++] = *h;
    return 0;
}

static void reap_boxes(struct spawner *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (size_t i = 0; i < s->nhosts; i++) {
            if (s->hosts[i].init_pid != pid)
                continue;
            s->hosts[i].init_pid = -1; /* reaped: destroy only its leftovers */
            if (s->hosts[i].freed && s->dying > 0)
                s->dying--;
            release_host(s, &s->hosts[i]);
            s->hosts[i] = s->hosts[--s->nhosts];
            break;
        }
    }
}

static int send_box(struct spawner *s, struct box_host *h)
{
    int fds[2] = {h->ctl, (int)syscall(SYS_pidfd_open, h->init_pid, 0)};
    int nfds = fds[1] >= 0 ? 2 : 1;
    struct box_msg m = {.uid = h->uid, .init_pid = h->init_pid};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    char cbuf[CMSG_SPACE(sizeof(fds))];
    memset(cbuf, 0, sizeof(cbuf));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    ssize_t n = sendmsg(s->chan, &msg, MSG_NOSIGNAL);
    if (fds[1] >= 0)
        (void)close(fds[1]);
    /* The box's user holds the only control socket: its close ends the box. */
    (void)close(h->ctl);
    h->ctl = -1;
    return n == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

/* -EPIPE when the user of the pool is gone. */
static int make_one(struct spawner *s)
{
    struct moat_err err = {0};
    int netns = -1;
    if (s->nnetns > 0)
        netns = s->netns[--s->nnetns];
    struct box_slot slot = {.lease = -1};
    if (s->nslots > 0) {
        slot = s->slots[--s->nslots];
        atomic_store(&s->sh->slots_kept, (uint32_t)s->nslots);
    }
    struct box_host h;
    int r = box_spawn(s->ctx, netns, s->netns_base.len > 0, slot.cg ? &slot : NULL, &h, &err);
    if (netns >= 0)
        (void)close(netns);
    if (r < 0) {
        atomic_fetch_add(&s->sh->failed, 1);
        log_warn("msg=\"warm box failed\" error=\"%s\"", err.msg);
        return 0;
    }
    if (host_add(s, &h) < 0) {
        box_host_destroy(&h);
        return 0;
    }
    if (send_box(s, &s->hosts[s->nhosts - 1]) < 0) {
        box_host_destroy(&s->hosts[--s->nhosts]);
        return -EPIPE;
    }
    s->outstanding++;
    atomic_fetch_add(&s->sh->made, 1);
    atomic_store(&s->sh->warm, s->outstanding);
    return 0;
}

/* With reuse_netns: the view of a new namespace, which a reused one must
 * match; the namespace read joins the pool. Without a baseline (reuse off,
 * or it could not be read) no namespace is reused. */
static void netns_baseline(struct spawner *s)
{
    buf_init(&s->netns_base, (size_t)1 << 20);
    if (!s->ctx->cfg.reuse_netns || s->netns_home < 0)
        return;
    int fd = netns_make(s->netns_home);
    if (fd < 0)
        return;
    if (netns_view(s->netns_home, fd, &s->netns_base) < 0) {
        buf_release(&s->netns_base);
        buf_init(&s->netns_base, (size_t)1 << 20);
    }
    if (s->nnetns < s->netns_cap)
        s->netns[s->nnetns++] = fd;
    else
        (void)close(fd);
}

/* The arrays of a spawner: namespaces and slots. */
static int spawner_alloc(struct spawner *s)
{
    s->netns_cap = (size_t)s->ctx->cfg.netns_pool + (s->ctx->cfg.reuse_netns ? s->warm : 0);
    s->netns = calloc(s->netns_cap + 1, sizeof(int));
    s->slots = calloc((size_t)s->warm + 1, sizeof(*s->slots));
    return s->netns && s->slots ? 0 : -ENOMEM;
}

static __attribute__((noreturn)) void spawner_main(struct spawner *s)
{
    (void)prctl(PR_SET_NAME, "moat-spawner");
    /* Boxes are made at a low priority; RLIMIT_NICE (inherited) lets box
     * init and the program come back to 0 for a step (program.c). */
    uint32_t nice = s->ctx->cfg.spawner_nice;
    if (nice > 0) {
        struct rlimit rl = {.rlim_cur = 20, .rlim_max = 20}; /* nice down to 20 - 20 = 0 */
        (void)setrlimit(RLIMIT_NICE, &rl);
        (void)setpriority(PRIO_PROCESS, 0, (int)(nice > 19 ? 19 : nice));
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGPIPE);
    (void)sigprocmask(SIG_BLOCK, &set, NULL);
    int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    s->netns_home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    netns_baseline(s);
    uint32_t backoff_ms = 0;
    for (;;) {
        uint64_t failed_before = atomic_load(&s->sh->failed);
        bool gone = false;
        uint64_t now = moat_now_ns();
        bool hold = pool_hold(s, now);
        while (s->outstanding < s->warm && backoff_ms == 0 && !gone && !hold) {
            gone = make_one(s) < 0;
            if (atomic_load(&s->sh->failed) != failed_before)
                backoff_ms = 100; /* do not spin on a broken host */
        }
        if (gone)
            break;
        /* Idle: top up the netns pool, one per wake-up. */
        int timeout = backoff_ms ? (int)backoff_ms : -1;
        if (hold && s->outstanding < s->warm)
            timeout = (int)((s->dying_until - now) / 1000000 + 1);
        if (s->nnetns < s->ctx->cfg.netns_pool && s->netns_home >= 0) {
            int fd = netns_make(s->netns_home);
            if (fd >= 0)
                s->netns[s->nnetns++] = fd;
            timeout = 0;
        }
        struct pollfd pf[2] = {{.fd = s->chan, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
        int n = poll(pf, 2, timeout);
        if (n == 0 && backoff_ms)
            backoff_ms = 0;
        if (pf[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) > 0)
                ;
            reap_boxes(s);
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            int32_t freed = 0; /* one message per box freed: its init's pid */
            ssize_t got = recv(s->chan, &freed, sizeof(freed), MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
                break; /* the user of the pool is gone */
            if (got == (ssize_t)sizeof(freed) && freed > 0)
                mark_freed(s, (pid_t)freed);
            if (got > 0 && s->outstanding > 0)
                s->outstanding--;
            atomic_store(&s->sh->warm, s->outstanding);
        }
    }
    for (size_t i = 0; i < s->nhosts; i++)
        box_host_destroy(&s->hosts[i]);
    for (size_t i = 0; i < s->nslots; i++) {
        (void)cg_destroy(s->slots[i].cg);
        (void)close(s->slots[i].lease);
    }
    _exit(0);
}

/* ---- the re-executed spawner ---- */

/* Runs cfg->spawner_exe as the spawner, passing the configuration, the
 * channel and the shared counters; returns only when the exec failed (the
 * caller then goes on as a forked spawner). In the forked child: no
 * allocation, snprintf into the stack only. */
static void exec_spawner(const struct sbx_ctx *ctx, int chan, int shm, uint32_t warm)
{
    const struct sbx_config *c = &ctx->cfg;
    char v[13][32];
    (void)snprintf(v[9], sizeof(v[9]), "%u", c->spawner_nice);
    (void)snprintf(v[10], sizeof(v[10]), "%d", c->reuse_cgroups ? 1 : 0);
    (void)snprintf(v[11], sizeof(v[11]), "%d", c->reuse_netns ? 1 : 0);
    (void)snprintf(v[12], sizeof(v[12]), "%llu", (unsigned long long)c->cgroup_residual_bytes);
    (void)snprintf(v[0], sizeof(v[0]), "%d", chan);
    (void)snprintf(v[1], sizeof(v[1]), "%d", shm);
    (void)snprintf(v[2], sizeof(v[2]), "%u", warm);
    (void)snprintf(v[3], sizeof(v[3]), "%u", c->first_uid);
    (void)snprintf(v[4], sizeof(v[4]), "%u", c->uid_count);
    (void)snprintf(v[5], sizeof(v[5]), "%llu", (unsigned long long)c->box_tmpfs_bytes);
    (void)snprintf(v[6], sizeof(v[6]), "%llu", (unsigned long long)c->tmp_tmpfs_bytes);
    /* boolean settings as bits: 1 landlock, 2 mount_template */
    (void)snprintf(v[7], sizeof(v[7]), "%d", (c->landlock ? 1 : 0) | (c->mount_template ? 2 : 0));
    (void)snprintf(v[8], sizeof(v[8]), "%u", c->netns_pool);
    const char *argv[] = {c->spawner_exe, "__spawner", v[0], v[1], v[2], v[3], v[4],
                          c->run_dir, c->cgroup_name, v[5], v[6], v[7],
                          c->cache_dir ? c->cache_dir : "", v[8], v[9], v[10], v[11], v[12],
                          c->cgroup_under ? c->cgroup_under : "", NULL};
    /* the two descriptors it needs survive the exec; nothing else does */
    if (fcntl(chan, F_SETFD, 0) < 0 || fcntl(shm, F_SETFD, 0) < 0)
        return;
    extern char **environ;
    execve(c->spawner_exe, (char *const *)argv, environ);
    (void)fcntl(chan, F_SETFD, FD_CLOEXEC);
    (void)fcntl(shm, F_SETFD, FD_CLOEXEC);
}

static int arg_u64(const char *s, uint64_t max, uint64_t *out)
{
    return parse_u64(s, 0, max, out);
}

int sbx_spawner_main(int argc, char **argv)
{
    if (argc != 18) {
        (void)fprintf(stderr, "moat: __spawner is run by moat serve, not by hand\n");
        return 2;
    }
    uint64_t n[13];
    static const int idx[] = {1, 2, 3, 4, 5, 8, 9, 10, 12, 13, 14, 15, 16};
    static const uint64_t max[] = {INT32_MAX, INT32_MAX, 1u << 20, UINT32_MAX, UINT32_MAX,
                                   UINT64_MAX, UINT64_MAX, 3, 1u << 20, 19, 1, 1, UINT64_MAX};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(idx); i++)
        if (arg_u64(argv[idx[i]], max[i], &n[i]) < 0) {
            (void)fprintf(stderr, "moat: __spawner: bad argument %d\n", idx[i]);
            return 2;
        }
    struct sbx_config cfg = {
        .first_uid = (uint32_t)n[3],
        .uid_count = (uint32_t)n[4],
        .run_dir = argv[6],
        .cgroup_name = argv[7],
        .cgroup_under = argv[17],
        .box_tmpfs_bytes = n[5],
        .tmp_tmpfs_bytes = n[6],
        .landlock = (n[7] & 1) != 0,
        .mount_template = (n[7] & 2) != 0,
        .cache_dir = argv[11][0] ? argv[11] : NULL,
        .netns_pool = (uint32_t)n[8],
        .spawner_nice = (uint32_t)n[9],
        .reuse_cgroups = n[10] != 0,
        .reuse_netns = n[11] != 0,
        .cgroup_residual_bytes = n[12],
    };
    int chan = (int)n[0], shm = (int)n[1];
    (void)fcntl(chan, F_SETFD, FD_CLOEXEC);
    (void)fcntl(shm, F_SETFD, FD_CLOEXEC);
    struct pool_shared *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    (void)close(shm);
    struct moat_err err = {0};
    struct sbx_ctx *ctx = NULL;
    if (sh == MAP_FAILED || sbx_ctx_new(&cfg, &ctx, &err) < 0) {
        (void)fprintf(stderr, "moat: spawner: %s\n", sh == MAP_FAILED ? strerror(errno) : err.msg);
        _exit(1); /* the pool sees its channel close */
    }
    /* the pool's owner made the parent cgroup and removes it */
    ctx->owner = 0;
    struct spawner s = {.ctx = ctx, .chan = chan, .warm = (uint32_t)n[2], .netns_home = -1,
                        .sh = sh};
    if (spawner_alloc(&s) < 0)
        _exit(1);
    spawner_main(&s);
}

/* ======================= user side ======================= */

int sbx_pool_start(struct sbx_ctx *ctx, uint32_t warm, struct sbx_pool **out,
                   struct moat_err *err)
{
    struct sbx_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return -ENOMEM;
    /* a memfd rather than an anonymous mapping: a re-executed spawner maps
     * it again */
    int shm = memfd_create("moat-pool", MFD_CLOEXEC);
    pool->sh = shm >= 0 && ftruncate(shm, sizeof(*pool->sh)) == 0
                   ? mmap(NULL, sizeof(*pool->sh), PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0)
                   : MAP_FAILED;
    int sp[2];
    if (pool->sh == MAP_FAILED || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        int e = -errno;
        if (pool->sh != MAP_FAILED)
            (void)munmap(pool->sh, sizeof(*pool->sh));
        if (shm >= 0)
            (void)close(shm);
        free(pool);
        return moat_err_set(err, e, "pool: %s", strerror(-e));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        (void)close(sp[0]);
        (void)close(sp[1]);
        (void)close(shm);
        (void)munmap(pool->sh, sizeof(*pool->sh));
        free(pool);
        return moat_err_set(err, e, "fork spawner: %s", strerror(-e));
    }
    if (pid == 0) {
        (void)close(sp[0]);
        if (ctx->cfg.spawner_exe)
            exec_spawner(ctx, sp[1], shm, warm ? warm : 1); /* returns on failure */
        struct spawner s = {.ctx = ctx, .chan = sp[1], .warm = warm ? warm : 1,
                            .netns_home = -1, .sh = pool->sh};
        if (spawner_alloc(&s) < 0)
            _exit(1);
        spawner_main(&s);
    }
    (void)close(sp[1]);
    (void)close(shm);
    pool->chan = sp[0];
    pool->spawner = pid;
    (void)pthread_mutex_init(&pool->lock, NULL);
    *out = pool;
    return 0;
}

static int recv_box(struct sbx_pool *pool, struct box_msg *m, int fds[2])
{
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    char cbuf[CMSG_SPACE(sizeof(int) * 2)];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof(cbuf)};
    ssize_t n = recvmsg(pool->chan, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EPIPE;
    fds[0] = fds[1] = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        memcpy(fds, CMSG_DATA(c), (k > 2 ? 2 : k) * sizeof(int));
    }
    if (n != (ssize_t)sizeof(*m) || fds[0] < 0) {
        if (fds[0] >= 0)
            (void)close(fds[0]);
        if (fds[1] >= 0)
            (void)close(fds[1]);
        return -EPROTO;
    }
    return 0;
}

int sbx_pool_take(struct sbx_pool *pool, int timeout_ms, struct sbx_box **out,
                  struct moat_err *err)
{
    struct sbx_box *box = calloc(1, sizeof(*box));
    if (!box)
        return -ENOMEM;
    uint64_t deadline = moat_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000;
    struct box_msg m = {0};
    int fds[2] = {-1, -1};
    int r;
    (void)pthread_mutex_lock(&pool->lock);
    for (;;) {
        r = recv_box(pool, &m, fds);
        if (r != -EAGAIN)
            break;
        uint64_t now = moat_now_ns();
        if (timeout_ms >= 0 && now >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        struct pollfd pf = {.fd = pool->chan, .events = POLLIN};
        int wait = timeout_ms < 0 ? -1 : (int)((deadline - now + 999999) / 1000000);
        (void)poll(&pf, 1, wait);
    }
    (void)pthread_mutex_unlock(&pool->lock);
    if (r < 0) {
        free(box);
        return moat_err_set(err, r, r == -ETIMEDOUT ? "no warm box within %d ms"
                                                    : "warm pool failed (%d)",
                            r == -ETIMEDOUT ? timeout_ms : r);
    }
    *box = (struct sbx_box){.ctl = fds[0], .pidfd = fds[1], .uid = m.uid,
                            .init_pid = m.init_pid, .pool = pool};
    atomic_fetch_add(&pool->sh->busy, 1);
    *out = box;
    return 0;
}

void box_pool_released(struct sbx_pool *pool, pid_t init_pid)
{
    atomic_fetch_sub(&pool->sh->busy, 1);
    /* the credit for the next box, naming the box freed so that the
     * spawner can take its slot back first (a SEQPACKET send is atomic:
     * no lock) */
    int32_t pid = (int32_t)init_pid;
    (void)send(pool->chan, &pid, sizeof(pid), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void sbx_pool_stats(struct sbx_pool *pool, struct sbx_pool_stats *st)
{
    /* the spawner counts every box it made and was not told of a free */
    uint32_t alive = atomic_load(&pool->sh->warm);
    st->busy = atomic_load(&pool->sh->busy);
    st->warm = alive > st->busy ? alive - st->busy : 0;
    st->made = atomic_load(&pool->sh->made);
    st->failed = atomic_load(&pool->sh->failed);
    st->slots_reused = atomic_load(&pool->sh->slots_reused);
    st->netns_reused = atomic_load(&pool->sh->netns_reused);
    st->slots_kept = atomic_load(&pool->sh->slots_kept);
}

void sbx_pool_stop(struct sbx_pool *pool)
{
    if (!pool)
        return;
    (void)close(pool->chan);
    while (waitpid(pool->spawner, NULL, 0) < 0 && errno == EINTR)
        ;
    (void)pthread_mutex_destroy(&pool->lock);
    (void)munmap(pool->sh, sizeof(*pool->sh));
    free(pool);
}
