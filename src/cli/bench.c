/*
 * moat bench: the sandbox measured against a bare fork+execve in the same
 * process, interleaved, so that both see the same machine at the same time.
 *   moat bench [--runs N] [--warm N] [--json] -- PROGRAM [ARGS...]
 * Also reports what an idle warm box costs the host: RSS and PSS of its
 * processes, and the memory charged to its cgroup.
 */
#include "cli.h"

#include <fcntl.h>
#include <sys/wait.h>

#include "moat/exec.h"
#include "moat/sandbox.h"

struct bench_opts {
    uint64_t runs;
    uint64_t warm;
    bool json;
    bool help;
};

static int bench_own(void *arg, const char *name, const char *value)
{
    struct bench_opts *o = arg;
    if (strcmp(name, "json") == 0 || strcmp(name, "help") == 0) {
        *(strcmp(name, "json") == 0 ? &o->json : &o->help) = true;
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
        (void)printf("usage: moat bench [--runs N] [--warm N] [--json] -- PROGRAM [ARGS...]\n\n"
                     "Runs PROGRAM (an absolute path, also valid inside a box) N times\n"
                     "bare (fork+execve+wait) and in warm boxes, interleaved, and prints the\n"
                     "medians; then the host memory of an idle warm box.\n");
        return o.help ? 0 : CLI_EXIT_USAGE;
    }
    struct moat_err err = {0};
    struct sbx_config sc = exec_sandbox_config(&cfg);
    struct sbx_ctx *ctx = NULL;
    struct sbx_pool *pool = NULL;
    if (sbx_ctx_new(&sc, &ctx, &err) < 0 || sbx_pool_start(ctx, (uint32_t)o.warm, &pool, &err) < 0) {
        (void)fprintf(stderr, "moat bench: %s\n", err.msg);
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
    int rc = measure_idle(pool, o.warm, idle);
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
    free(bare);
    free(boxed);
    sbx_pool_stop(pool);
    sbx_ctx_free(ctx);
    return rc;
}
