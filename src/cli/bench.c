/*
 * moat bench: the sandbox measured against a bare fork+execve in the same
 * process, interleaved, so that both see the same machine at the same time.
 *   moat bench [--runs N] [--warm N] [--json] -- PROGRAM [ARGS...]
 * Also reports what an idle warm box costs the host: RSS and PSS of its
 * processes, and the memory charged to its cgroup.
 *   moat bench --cpu [--runs N] [--warm N] [--json] -- PROGRAM [ARGS...]
 * measures host CPU instead of latency: the CPU time every CPU spent busy
 * (/proc/stat, every process and kernel worker) over N boxes from the pool
 * (prepare, run PROGRAM, tear down) against N bare fork+execve+wait of the
 * same program, in interleaved batches.
 */
#include "cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "moat/exec.h"
#include "moat/sandbox.h"

struct bench_opts {
    uint64_t runs;
    uint64_t warm;
    bool json;
    bool help;
    bool cpu;
};

static int bench_own(void *arg, const char *name, const char *value)
{
    struct bench_opts *o = arg;
    if (strcmp(name, "json") == 0 || strcmp(name, "help") == 0 || strcmp(name, "cpu") == 0) {
        *(strcmp(name, "json") == 0 ? &o->json : strcmp(name, "cpu") == 0 ? &o->cpu : &o->help) =
            true;
        return 0;
    }
    if (strcmp(name, "runs") == 0 || strcmp(name, "warm") == 0) {
        uint64_t *dst = strcmp(name, "runs") == 0 ? &o->runs : &o->warm;
        if (!value || parse_u64(value, 1, 100000, dst) < 0) {
            (void)fprintf(stderr, "moat bench: --%s needs a number from 1 to 100000\n", name);
            return -2;
        }
        return 1;
    }
    return -1;
}

static uint64_t bare_run(char **argv)
{
    uint64_t t0 = moat_now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        (void)dup2(null, 0);
        (void)dup2(null, 1);
        extern char **environ;
        execve(argv[0], argv, environ);
        _exit(127);
    }
    int st;
    (void)waitpid(pid, &st, 0);
    return moat_now_ns() - t0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, unsigned p)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t i = (n * p) / 100;
    return v[i < n ? i : n - 1];
}

static uint64_t status_kb(pid_t pid, const char *file, const char *key)
{
    char path[64], text[8192];
    (void)snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
    if (read_small_file_at(AT_FDCWD, path, text, sizeof(text)) <= 0)
        return 0;
    const char *p = strstr(text, key);
    unsigned long long v = 0;
    if (p && sscanf(p + strlen(key), " %llu", &v) != 1)
        v = 0;
    return v;
}

/* The box's processes: init and its children (the pre-forked program). */
static void box_memory(struct sbx_box *box, uint64_t *rss, uint64_t *pss, uint64_t *cg)
{
    pid_t init = sbx_box_init_pid(box);
    pid_t pids[8] = {init};
    size_t n = 1;
    char path[64], text[256];
    (void)snprintf(path, sizeof(path), "/proc/%d/task/%d/children", init, init);
    if (read_small_file_at(AT_FDCWD, path, text, sizeof(text)) > 0) {
        char *save = NULL;
        for (char *t = strtok_r(text, " \n", &save); t && n < 8; t = strtok_r(NULL, " \n", &save)) {
            uint64_t v;
            if (parse_u64(t, 1, INT32_MAX, &v) == 0)
                pids[n++] = (pid_t)v;
        }
    }
    for (size_t i = 0; i < n; i++) {
        *rss += status_kb(pids[i], "status", "VmRSS:");
        *pss += status_kb(pids[i], "smaps_rollup", "Pss:");
    }
    /* Memory charged to the box's cgroup: page tables, tmpfs, kernel objects. */
    char cgpath[128], v[64];
    (void)snprintf(cgpath, sizeof(cgpath), "/sys/fs/cgroup/memory/moat/box-%u/memory.usage_in_bytes",
                   sbx_box_uid(box));
    if (read_small_file_at(AT_FDCWD, cgpath, v, sizeof(v)) <= 0) {
        (void)snprintf(cgpath, sizeof(cgpath), "/sys/fs/cgroup/moat/box-%u/memory.current",
                       sbx_box_uid(box));
        if (read_small_file_at(AT_FDCWD, cgpath, v, sizeof(v)) <= 0)
            return;
    }
    uint64_t bytes;
    if (parse_u64(strtok_r(v, "\n", &(char *){NULL}), 0, UINT64_MAX, &bytes) == 0)
        *cg += bytes / 1024;
}

struct figure {
    const char *key;   /* --json */
    const char *label; /* text */
    double value;
};

static void print_figures(bool json, size_t runs, const struct figure *f, size_t n)
{
    (void)printf(json ? "{\"runs\":%zu" : "runs %zu\n", runs);
    for (size_t i = 0; i < n; i++) {
        if (json)
            (void)printf(",\"%s\":%.1f", f[i].key, f[i].value);
        else
            (void)printf("%-28s %.1f\n", f[i].label, f[i].value);
    }
    (void)printf(json ? "}\n" : "");
}

static int measure_idle(struct sbx_pool *pool, uint64_t warm, uint64_t out[3])
{
    struct sbx_box *boxes[64];
    size_t n = warm < 64 ? (size_t)warm : 64;
    struct moat_err err = {0};
    for (size_t i = 0; i < n; i++) {
        if (sbx_pool_take(pool, 10000, &boxes[i], &err) < 0 ||
            sbx_box_wait_ready(boxes[i], &err) < 0) {
            (void)fprintf(stderr, "moat bench: %s\n", err.msg);
            return 125;
        }
    }
    (void)usleep(200000); /* let the pre-forked programs settle */
    for (size_t i = 0; i < n; i++) {
        box_memory(boxes[i], &out[0], &out[1], &out[2]);
        sbx_box_free(boxes[i]);
    }
    for (int i = 0; i < 3 && n > 0; i++)
        out[i] /= n;
    return 0;
}

/* Interleaved: a bare run, then the same program in a warm box; the first
 * ten of each are warm-up and not kept. */
static int measure_runs(struct sbx_pool *pool, const struct bench_opts *o,
                        const struct sbx_step *step, char **argv, uint64_t *bare,
                        uint64_t *boxed)
{
    struct moat_err err = {0};
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < o->runs + 10; i++) {
        /* Latency of one job on an idle machine: let the spawner finish
         * replacing the previous box (its teardown and the new box's
         * preparation run on the same two cores) before either timing. */
        for (int w = 0; w < 200; w++) {
            struct sbx_pool_stats ps;
            sbx_pool_stats(pool, &ps);
            if (ps.warm >= o->warm && ps.busy == 0)
                break;
            (void)usleep(1000);
        }
        /* and let a grace period pass: a cgroup migration elsewhere (the
         * spawner preparing boxes) stalls every fork and exit on the host
         * until one has (cgroup v1). */
        (void)usleep(20000);
        uint64_t b = bare_run(argv);
        struct sbx_box *box = NULL;
        if (sbx_pool_take(pool, 10000, &box, &err) < 0 || sbx_box_wait_ready(box, &err) < 0) {
            (void)fprintf(stderr, "moat bench: %s\n", err.msg);
            rc = 125;
            sbx_box_free(box);
            break;
        }
        struct sbx_result res;
        sbx_result_init(&res);
        uint64_t t0 = moat_now_ns();
        int sr = sbx_box_run(box, step, &res, &err);
        uint64_t t = moat_now_ns() - t0;
        if (sr < 0 || res.verdict != SBX_VERDICT_OK) {
            (void)fprintf(stderr, "moat bench: step failed: %s %s\n",
                          sbx_verdict_name(res.verdict), res.message);
            rc = 125;
        }
        sbx_result_release(&res);
        sbx_box_free(box);
        if (i >= 10) { /* warm-up runs are not counted */
            bare[i - 10] = b;
            boxed[i - 10] = t;
        }
    }
    return rc;
}

/* ---- host CPU per box (--cpu) ---- */

#define CPU_BATCHES 10

/* Busy CPU time of the whole host so far, in USER_HZ ticks: every field of
 * the "cpu" line of /proc/stat but idle and iowait. */
static int host_busy_ticks(uint64_t *out)
{
    char text[512];
    if (read_small_file_at(AT_FDCWD, "/proc/stat", text, sizeof(text)) <= 0)
        return -EIO;
    unsigned long long v[8] = {0};
    if (sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) != 8)
        return -EIO;
    *out = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* user nice system irq softirq steal */
    return 0;
}

/* CPU time of every kernel thread (children of kthreadd) so far, in ticks:
 * deferred work of a box (network namespace cleanup, cgroup release) runs
 * in kernel workers. Workers that exit meanwhile take theirs along. */
static uint64_t kthread_ticks(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], text[1024];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        (void)snprintf(path, sizeof(path), "%s/stat", e->d_name);
        if (read_small_file_at(dirfd(d), path, text, sizeof(text)) <= 0)
            continue;
        const char *p = strrchr(text, ')');
        int ppid = 0;
        unsigned long long ut = 0, st = 0;
        /* after "comm)": state ppid pgrp session tty tpgid flags minflt
         * cminflt majflt cmajflt utime stime */
        if (!p || sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ppid,
                         &ut, &st) != 3)
            continue;
        if (ppid == 2)
            sum += ut + st;
    }
    (void)closedir(d);
    return sum;
}

/* The bench, its spawner, box inits and programs all run under one cgroup
 * (`name` and its box groups), whose CPU counter sums them. */
struct cpu_group {
    char dir[300];
    bool v2;
};

static int cpu_group_join(struct cpu_group *g, const char *name)
{
    static const char *const mounts[] = {"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"};
    g->dir[0] = '\0';
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(mounts) && !g->dir[0]; i++)
        if (access(mounts[i], F_OK) == 0)
            (void)snprintf(g->dir, sizeof(g->dir), "%s/%s", mounts[i], name);
    g->v2 = !g->dir[0];
    if (g->v2)
        (void)snprintf(g->dir, sizeof(g->dir), "/sys/fs/cgroup/%s", name);
    char path[400], pid[16];
    (void)snprintf(path, sizeof(path), "%s/bench", g->dir);
    if ((mkdir(g->dir, 0755) < 0 && errno != EEXIST) || (mkdir(path, 0755) < 0 && errno != EEXIST))
        return -errno;
    (void)snprintf(path, sizeof(path), "%s/bench/cgroup.procs", g->dir);
    (void)snprintf(pid, sizeof(pid), "%d", (int)getpid());
    return write_file_at(AT_FDCWD, path, pid);
}

static void cpu_group_leave(const struct cpu_group *g)
{
    char path[400], pid[16];
    (void)snprintf(pid, sizeof(pid), "%d", (int)getpid());
    (void)snprintf(path, sizeof(path), "%s/../cgroup.procs", g->dir);
    (void)write_file_at(AT_FDCWD, path, pid);
    (void)snprintf(path, sizeof(path), "%s/bench", g->dir);
    (void)rmdir(path);
    (void)rmdir(g->dir); /* the pool's, when it did not remove it itself */
}

/* The group's CPU time in us; -EIO when it cannot be read (the figure
 * would silently hold only the kernel threads). */
static int cpu_group_us(const struct cpu_group *g, uint64_t *us)
{
    char path[400], text[1024];
    (void)snprintf(path, sizeof(path), "%s/%s", g->dir, g->v2 ? "cpu.stat" : "cpuacct.usage");
    if (read_small_file_at(AT_FDCWD, path, text, sizeof(text)) <= 0)
        return -EIO;
    unsigned long long v = 0;
    const char *p = g->v2 ? strstr(text, "usage_usec ") : text;
    if (!p || sscanf(p + (g->v2 ? 11 : 0), "%llu", &v) != 1)
        return -EIO;
    *us = g->v2 ? v : v / 1000;
    return 0;
}

/* Waits until the pool has `warm` boxes ready and none busy (the spawner's
 * refill and teardown are part of a box's cost), then lets deferred kernel
 * work (network namespace cleanup, cgroup release) run. */
static void pool_settle(struct sbx_pool *pool, uint64_t warm)
{
    for (int w = 0; w < 5000; w++) {
        struct sbx_pool_stats ps;
        sbx_pool_stats(pool, &ps);
        if (ps.warm >= warm && ps.busy == 0)
            break;
        (void)usleep(1000);
    }
    (void)usleep(100000);
}

static int boxed_batch(struct sbx_pool *pool, const struct sbx_step *step, uint64_t n)
{
    struct moat_err err = {0};
    for (uint64_t i = 0; i < n; i++) {
        struct sbx_box *box = NULL;
        if (sbx_pool_take(pool, 10000, &box, &err) < 0 || sbx_box_wait_ready(box, &err) < 0) {
            (void)fprintf(stderr, "moat bench: %s\n", err.msg);
            sbx_box_free(box);
            return 125;
        }
        struct sbx_result res;
        sbx_result_init(&res);
        int sr = sbx_box_run(box, step, &res, &err);
        bool ok = sr == 0 && res.verdict == SBX_VERDICT_OK;
        if (!ok)
            (void)fprintf(stderr, "moat bench: step failed: %s %s\n",
                          sbx_verdict_name(res.verdict), res.message);
        sbx_result_release(&res);
        sbx_box_free(box);
        if (!ok)
            return 125;
    }
    return 0;
}

/* Batches of bare runs and of boxes in turn, so that both see the same
 * background load; each batch is measured from /proc/stat on its own, the
 * boxed one only once the pool is refilled and idle again. */
struct cpu_sample {
    uint64_t busy;    /* /proc/stat, ticks */
    uint64_t kthread; /* ticks */
    uint64_t group;   /* us */
    uint64_t t;       /* ns */
};

static int cpu_sample(const struct cpu_group *g, struct cpu_sample *s)
{
    s->t = moat_now_ns();
    s->kthread = kthread_ticks();
    if (cpu_group_us(g, &s->group) < 0)
        return -EIO;
    return host_busy_ticks(&s->busy);
}

struct cpu_sums {
    uint64_t busy, kthread, group, t;
};

static void cpu_add(struct cpu_sums *sum, const struct cpu_sample *a, const struct cpu_sample *b)
{
    sum->busy += b->busy - a->busy;
    /* a worker that exits takes its ticks along: the sum may drop */
    sum->kthread += b->kthread > a->kthread ? b->kthread - a->kthread : 0;
    sum->group += b->group - a->group;
    sum->t += b->t - a->t;
}

static int measure_cpu(struct sbx_pool *pool, const struct bench_opts *o,
                       const struct sbx_step *step, char **argv, const struct cpu_group *g)
{
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t per = (o->runs + CPU_BATCHES - 1) / CPU_BATCHES, done = 0;
    struct cpu_sums bare = {0}, box = {0};
    pool_settle(pool, o->warm);
    while (done < o->runs) {
        uint64_t n = o->runs - done < per ? o->runs - done : per;
        struct cpu_sample a, b, c, d;
        (void)usleep(100000);
        if (cpu_sample(g, &a) < 0)
            return 125;
        for (uint64_t i = 0; i < n; i++)
            (void)bare_run(argv);
        (void)usleep(100000); /* the same settling time as the boxes get */
        if (cpu_sample(g, &b) < 0 || cpu_sample(g, &c) < 0)
            return 125;
        int rc = boxed_batch(pool, step, n);
        if (rc)
            return rc;
        pool_settle(pool, o->warm);
        if (cpu_sample(g, &d) < 0)
            return 125;
        cpu_add(&bare, &a, &b);
        cpu_add(&box, &c, &d);
        done += n;
    }
    struct sbx_pool_stats ps;
    sbx_pool_stats(pool, &ps);
    double tick_us = 1e6 / (double)(hz > 0 ? hz : 100), n = (double)o->runs;
    double bare_us = (double)bare.busy * tick_us / n, box_us = (double)box.busy * tick_us / n;
    /* what the bench's own processes and kernel threads used: robust
     * against other work on a shared host */
    double bare_own = ((double)bare.group + (double)bare.kthread * tick_us) / n;
    double box_own = ((double)box.group + (double)box.kthread * tick_us) / n;
    const struct figure figs[] = {
        {"bare_cpu_us", "bare host CPU per run us", bare_us},
        {"box_cpu_us", "box host CPU per box us", box_us},
        {"bare_own_cpu_us", "bare own+kthread CPU us", bare_own},
        {"box_own_cpu_us", "box own+kthread CPU us", box_own},
        {"box_kthread_cpu_us", "box kthread CPU us", (double)box.kthread * tick_us / n},
        {"target_own_us", "target 2 x bare + 1000 us", 2 * bare_own + 1000},
        {"slots_reused", "box slots reused", (double)ps.slots_reused},
        {"netns_reused", "network namespaces reused", (double)ps.netns_reused},
        {"bare_wall_ms", "bare batches wall ms", (double)bare.t / 1e6},
        {"box_wall_ms", "box batches wall ms", (double)box.t / 1e6},
    };
    print_figures(o->json, (size_t)o->runs, figs, MOAT_ARRAY_SIZE(figs));
    return 0;
}

int cli_bench(int argc, char **argv)
{
    struct moat_config cfg;
    int r = cli_load_config(&cfg, argc, argv);
    if (r)
        return r;
    struct bench_opts o = {.runs = 300, .warm = 4};
    struct cli_parse p = {.cmd = "bench", .scope = CONFIG_SCOPE_RUN, .own = bench_own, .arg = &o};
    if ((r = cli_parse_args(argc, argv, &cfg, &p)) != 0)
        return r;
    if (o.help || p.nrest == 0) {
        (void)printf("usage: moat bench [--cpu] [--runs N] [--warm N] [--json] -- PROGRAM "
                     "[ARGS...]\n\n"
                     "Runs PROGRAM (an absolute path, also valid inside a box) N times\n"
                     "bare (fork+execve+wait) and in warm boxes, interleaved, and prints the\n"
                     "medians; then the host memory of an idle warm box.\n"
                     "With --cpu: the host's CPU time (/proc/stat) per box from the pool\n"
                     "(prepare, run, tear down) against a bare run, over N of each.\n");
        return o.help ? 0 : CLI_EXIT_USAGE;
    }
    struct moat_err err = {0};
    struct sbx_config sc = exec_sandbox_config(&cfg);
    struct cpu_group cg = {{0}};
    char cgname[64];
    if (o.cpu) {
        /* a parent group of our own, with the bench in it */
        (void)snprintf(cgname, sizeof(cgname), "moat-bench-%d", (int)getpid());
        sc.cgroup_name = cgname;
        if (cpu_group_join(&cg, cgname) < 0) {
            (void)fprintf(stderr, "moat bench: cannot make cgroup %s: %s\n", cgname,
                          strerror(errno));
            cpu_group_leave(&cg); /* what it made of it */
            return 125;
        }
    }
    struct sbx_ctx *ctx = NULL;
    struct sbx_pool *pool = NULL;
    if (sbx_ctx_new(&sc, &ctx, &err) < 0 || sbx_pool_start(ctx, (uint32_t)o.warm, &pool, &err) < 0) {
        (void)fprintf(stderr, "moat bench: %s\n", err.msg);
        if (o.cpu)
            cpu_group_leave(&cg);
        sbx_ctx_free(ctx);
        return 125;
    }
    uint64_t *bare = calloc(o.runs, sizeof(uint64_t)), *boxed = calloc(o.runs, sizeof(uint64_t));
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    struct sbx_step step = {
        .last = true,
        .argv = (const char *const *)p.rest, .envp = env,
        .limits = {.cpu_ms = 5000, .wall_ms = 10000, .memory_bytes = cfg.limits.memory_mb << 20,
                   .max_procs = (uint32_t)cfg.limits.max_processes, .output_bytes = 1 << 16,
                   .file_bytes = 1 << 20, .open_files = 256, .stack_bytes = 8 << 20}};
    uint64_t idle[3] = {0, 0, 0};
    int rc = 0;
    if (o.cpu) {
        rc = measure_cpu(pool, &o, &step, p.rest, &cg);
        goto out;
    }
    rc = measure_idle(pool, o.warm, idle);
    if (rc == 0)
        rc = measure_runs(pool, &o, &step, p.rest, bare, boxed);
    if (rc == 0) {
        size_t n = (size_t)o.runs;
        uint64_t bm = pct(bare, n, 50), bp = pct(bare, n, 90);
        uint64_t wm = pct(boxed, n, 50), wp = pct(boxed, n, 90);
        const struct figure figs[] = {
            {"bare_median_us", "bare fork+execve median us", (double)bm / 1e3},
            {"bare_p90_us", "bare fork+execve p90 us", (double)bp / 1e3},
            {"warm_median_us", "warm box median us", (double)wm / 1e3},
            {"warm_p90_us", "warm box p90 us", (double)wp / 1e3},
            {"overhead_median_us", "overhead median us", ((double)wm - (double)bm) / 1e3},
            {"idle_box_rss_kb", "idle warm box rss KB", (double)idle[0]},
            {"idle_box_pss_kb", "idle warm box pss KB", (double)idle[1]},
            {"idle_box_cgroup_kb", "idle warm box cgroup KB", (double)idle[2]},
        };
        print_figures(o.json, n, figs, MOAT_ARRAY_SIZE(figs));
    }
out:
    free(bare);
    free(boxed);
    sbx_pool_stop(pool);
    if (o.cpu)
        cpu_group_leave(&cg);
    sbx_ctx_free(ctx);
    return rc;
}
