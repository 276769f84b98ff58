/*
 * moat serve and moat worker: a node. serve is the HTTP API and the job
 * service (exec, with its executors unless --no-exec) in one process, on
 * the store and queue the settings name; worker is the job service with its
 * executors only, on a cluster's shared store and queue, answering
 * /healthz, /readyz and /metrics. Only wiring lives here. The order of
 * start matters: the sandbox's spawner is forked while the process has one
 * thread; the store, the queue and exec come next; recovery runs before
 * the API accepts anything.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"

#include "moat/api.h"
#include "moat/exec.h"
#include "moat/notify.h"
#include "moat/obs.h"
#include "moat/queue.h"
#include "moat/sandbox.h"
#include "moat/store.h"

struct serve {
    bool worker; /* moat worker: executors only */
    const char *cmd;
    struct moat_config cfg;
    struct lang_registry *langs;
    struct sbx_ctx *ctx;
    struct sbx_pool *pool;
    struct store *store;
    struct queue *queue;
    struct obs_registry *metrics;
    struct exec_cache *cache;
    struct exec *exec;
    struct api_server *api;
    struct api_nats *nats; /* the NATS API of an API node with a NATS queue */
    char *about;           /* GET /v1/version */
    struct notify *notify; /* webhook deliveries */
};

struct serve_opts {
    bool help;
};

static int serve_own(void *arg, const char *name, const char *value)
{
    (void)value;
    struct serve_opts *o = arg;
    if (strcmp(name, "help") == 0) {
        o->help = true;
        return 0;
    }
    return -1;
}

static void usage(bool worker)
{
    if (worker)
        (void)printf("usage: moat worker --store postgres://... --queue nats://... [options]\n\n"
                     "Runs the jobs of a cluster in warm sandboxes: takes them from the queue\n"
                     "when a box is free, records their results in the store, until SIGINT or\n"
                     "SIGTERM. Answers /healthz, /readyz and /metrics on --listen.\n\n");
    else
        (void)printf("usage: moat serve [options]\n\n"
                     "Serves the HTTP API with the store and queue of --store and --queue (the\n"
                     "embedded store in --data-dir and the local queue by default), and runs\n"
                     "the queued jobs in warm sandboxes (not with --no-exec), until SIGINT or\n"
                     "SIGTERM.\n\n");
    (void)printf("options:\n"
                 "  --config FILE        moat.ini to read (default ./moat.ini when present)\n"
                 "  --help               this text\n\n");
    config_print_help(stdout, CONFIG_SCOPE_SERVE);
}

/* A worker runs jobs others submit: it needs the store and queue they
 * share, and runs jobs. */
static int check_worker(const struct moat_config *cfg)
{
    const char *field = NULL, *why = NULL;
    if (config_store_embedded(cfg)) {
        field = "server.store";
        why = "a worker needs the cluster's store: a postgres:// URL";
    } else if (config_queue_local(cfg)) {
        field = "server.queue";
        why = "a worker needs the cluster's queue: a nats:// URL";
    } else if (cfg->no_exec) {
        field = "server.no_exec";
        why = "a worker runs jobs; --no-exec is for an API node (moat serve)";
    }
    if (!field)
        return 0;
    (void)fprintf(stderr, "moat worker: %s: %s\n", field, why);
    return CLI_EXIT_USAGE;
}

static int64_t gauge_queue_depth(void *cls)
{
    struct queue_stats st = {0};
    queue_stats(cls, &st);
    return (int64_t)st.depth;
}

static int64_t gauge_boxes_warm(void *cls)
{
    struct sbx_pool_stats st = {0};
    sbx_pool_stats(cls, &st);
    return st.warm;
}

static int64_t gauge_boxes_busy(void *cls)
{
    struct sbx_pool_stats st = {0};
    sbx_pool_stats(cls, &st);
    return st.busy;
}

static int64_t gauge_slots_kept(void *cls)
{
    struct sbx_pool_stats st = {0};
    sbx_pool_stats(cls, &st);
    return st.slots_kept;
}

static void register_gauges(struct serve *s)
{
    (void)obs_gauge_callback(s->metrics, "moat_queue_depth", "Jobs waiting in the queue", NULL,
                             gauge_queue_depth, s->queue);
    if (!s->pool)
        return;
    (void)obs_gauge_callback(s->metrics, "moat_boxes_warm", "Sandboxes prepared and waiting", NULL,
                             gauge_boxes_warm, s->pool);
    (void)obs_gauge_callback(s->metrics, "moat_boxes_busy", "Sandboxes running a job", NULL,
                             gauge_boxes_busy, s->pool);
    (void)obs_gauge_callback(s->metrics, "moat_box_slots_kept",
                             "Slots (uid, cgroups) of freed boxes kept for the next ones", NULL,
                             gauge_slots_kept, s->pool);
}

static int start_sandbox(struct serve *s)
{
    const struct moat_config *cfg = &s->cfg;
    for (size_t i = 0; i < lang_count(s->langs); i++) {
        const struct lang *l = lang_at(s->langs, i);
        struct moat_err err = {0};
        if (l->prepare[0] && lang_available(l) && lang_prepare(l, cfg->cache_dir, &err) < 0)
            log_warn("event=prepare_failed language=%s msg=\"%s\"", l->name, err.msg);
    }
    struct sbx_config sc = exec_sandbox_config(cfg);
    char lean[4096 + 16];
    cli_lean_binary(lean, sizeof(lean));
    sc.spawner_exe = lean[0] ? lean : NULL;
    struct moat_err err = {0};
    if (sbx_ctx_new(&sc, &s->ctx, &err) < 0 ||
        sbx_pool_start(s->ctx, (uint32_t)config_warm_boxes(cfg), &s->pool, &err) < 0) {
        (void)fprintf(stderr, "moat %s: sandbox: %s\n", s->cmd, err.msg);
        return 1;
    }
    return 0;
}

/* Webhook deliveries: every node delivers what is due (a claim in the
 * store makes one node make each attempt). The renderers of the shapes
 * are the API's. */
static int start_notify(struct serve *s)
{
    struct moat_err err = {0};
    if (notify_new(&s->cfg, s->store, s->metrics, &s->notify, &err) < 0) {
        (void)fprintf(stderr, "moat %s: %s: %s\n", s->cmd, err.field[0] ? err.field : "webhooks",
                      err.msg);
        return 1;
    }
    notify_set_renderer(s->notify, JOB_CALLBACK_NATIVE, "POST", api_callback_render_native,
                        &s->cfg);
    notify_set_renderer(s->notify, JOB_CALLBACK_JUDGE0, "PUT", api_callback_render_judge0,
                        &s->cfg);
    if (notify_start(s->notify, &err) < 0) {
        (void)fprintf(stderr, "moat %s: webhooks: %s\n", s->cmd, err.msg);
        return 1;
    }
    return 0;
}

static int start_services(struct serve *s)
{
    struct moat_err err = {0};
    if (store_open(&s->cfg, &s->store, &err) < 0) {
        (void)fprintf(stderr, "moat %s: store: %s\n", s->cmd, err.msg);
        return 1;
    }
    if (queue_open(&s->cfg, &s->queue, &err) < 0) {
        (void)fprintf(stderr, "moat %s: queue: %s\n", s->cmd, err.msg);
        return 1;
    }
    s->metrics = obs_registry_new();
    if (!s->metrics)
        return 1;
    register_gauges(s);
    const struct moat_build *b = moat_build_info();
    char labels[256];
    (void)snprintf(labels, sizeof(labels), "version=\"%s\",commit=\"%s\",variant=\"%s\"",
                   b->version, b->commit, b->variant);
    obs_gauge_set(obs_gauge(s->metrics, "moat_build_info",
                            "The version, commit and variant of this moat (always 1)", labels),
                  1);
    if (s->pool && exec_cache_open(&s->cfg, &s->cache, &err) < 0)
        log_warn("event=compile_cache_off msg=\"%s\"", err.msg);
    struct exec_deps d = {
        .cfg = &s->cfg,
        .langs = s->langs,
        .store = s->store,
        .queue = s->queue,
        .pool = s->pool,
        .cache = s->cache,
        .metrics = s->metrics,
    };
    if (exec_start(&d, &s->exec, &err) < 0) {
        (void)fprintf(stderr, "moat %s: jobs: %s\n", s->cmd, err.msg);
        return 1;
    }
    if (exec_recover(s->exec, &err) < 0) {
        (void)fprintf(stderr, "moat %s: recovery: %s\n", s->cmd, err.msg);
        return 1;
    }
    if (start_notify(s) != 0)
        return 1;
    struct api_deps ad = {
        .cfg = &s->cfg,
        .langs = s->langs,
        .exec = s->exec,
        .metrics = s->metrics,
        .service_only = s->worker,
        .about_json = s->about,
    };
    if (api_server_start(&ad, &s->api, &err) < 0) {
        (void)fprintf(stderr, "moat %s: %s\n", s->cmd, err.msg);
        return 1;
    }
    if (!s->worker && !config_queue_local(&s->cfg) && s->cfg.nats_api &&
        api_nats_start(&ad, &s->nats, &err) < 0) {
        (void)fprintf(stderr, "moat %s: %s\n", s->cmd, err.msg);
        return 1;
    }
    return 0;
}

static void stop_all(struct serve *s)
{
    api_nats_stop(s->nats);
    /* the HTTP API still answers reads and waits while running jobs finish
     * (submissions: 503), for up to stop_grace_ms */
    (void)exec_drain(s->exec, s->cfg.stop_grace_ms);
    api_server_stop(s->api);
    if (s->queue)
        queue_shutdown(s->queue);
    exec_stop(s->exec);
    notify_free(s->notify);
    exec_cache_free(s->cache);
    store_close(s->store);
    queue_close(s->queue);
    obs_registry_free(s->metrics);
    sbx_pool_stop(s->pool);
    sbx_ctx_free(s->ctx);
    lang_registry_free(s->langs);
    free(s->about);
}

/* Every client connection, warm box and store file holds descriptors: the
 * soft limit (often 1024) goes up to the hard one; a hard limit below what
 * max_connections needs is said, not silently lived with. */
static uint64_t raise_nofile(const struct moat_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    uint64_t want = cfg->max_connections + 64 * config_warm_boxes(cfg) + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        log_warn("event=fd_limit_low open_files=%llu needed=%llu msg=\"server.max_connections "
                 "cannot all be served: raise the hard RLIMIT_NOFILE (LimitNOFILE=) or lower "
                 "max_connections\"",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)want);
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* SIGHUP: the configuration read again as at start (file, environment,
 * flags). What can change live is applied (log_level); any other setting
 * that changed is named as waiting for a restart; a configuration that
 * does not load or validate changes nothing. */
static void reload(struct serve *s, int argc, char **argv)
{
    cli_sd_notify("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)cli_monotonic_usec());
    struct moat_config c;
    struct serve_opts o = {0};
    struct cli_parse p = {.cmd = s->cmd, .scope = CONFIG_SCOPE_SERVE, .own = serve_own, .arg = &o};
    struct moat_err err = {0};
    int r = cli_load_config(&c, argc, argv);
    if (r == 0)
        r = cli_parse_args(argc, argv, &c, &p);
    if (r == 0 && config_validate(&c, &err) < 0) {
        log_warn("event=reload_failed field=%s error=\"%s\"", err.field, err.msg);
        r = CLI_EXIT_USAGE;
    }
    if (r != 0) {
        log_warn("event=reload_failed msg=\"the running settings are kept\"");
        cli_sd_notify("READY=1\nSTATUS=reload failed: the running settings are kept");
        return;
    }
    const char *keys[128];
    size_t n = config_changed(&s->cfg, &c, keys, MOAT_ARRAY_SIZE(keys));
    char applied[64] = "", restart[512] = "";
    for (size_t i = 0; i < n && i < MOAT_ARRAY_SIZE(keys); i++) {
        bool live = strcmp(keys[i], "log.level") == 0;
        char *list = live ? applied : restart;
        size_t cap = live ? sizeof(applied) : sizeof(restart), len = strlen(list);
        (void)snprintf(list + len, cap - len, "%s%s", len ? "," : "", keys[i]);
    }
    /* said at the level in force until now */
    log_info("event=reloaded applied=\"%s\" restart_needed=\"%s\"", applied, restart);
    if (applied[0]) {
        (void)moat_log_level_set(c.log_level);
        memcpy(s->cfg.log_level, c.log_level, sizeof(s->cfg.log_level));
    }
    cli_sd_notify("READY=1\nSTATUS=reloaded%s%s", restart[0] ? "; a restart applies " : "",
                  restart);
}

static int run_node(int argc, char **argv, bool worker)
{
    struct serve s = {.worker = worker, .cmd = worker ? "worker" : "serve"};
    struct serve_opts o = {0};
    int r = cli_load_config(&s.cfg, argc, argv);
    if (r)
        return r;
    struct cli_parse p = {.cmd = s.cmd, .scope = CONFIG_SCOPE_SERVE, .own = serve_own, .arg = &o};
    if ((r = cli_parse_args(argc, argv, &s.cfg, &p)) != 0)
        return r;
    if (o.help) {
        usage(worker);
        return 0;
    }
    struct moat_err err = {0};
    if (config_validate(&s.cfg, &err) < 0) {
        (void)fprintf(stderr, "moat %s: %s: %s\n", s.cmd, err.field, err.msg);
        return CLI_EXIT_USAGE;
    }
    if (worker && (r = check_worker(&s.cfg)) != 0)
        return r;
    (void)moat_log_level_set(s.cfg.log_level); /* validated: one of the names */
    const struct moat_build *b = moat_build_info();
    log_info("event=starting version=%s commit=%s variant=%s", b->version, b->commit, b->variant);
    if ((r = cli_load_languages(&s.cfg, &s.langs)) != 0)
        return r;
    s.about = cli_about_json(!s.cfg.no_exec);
    uint64_t nofile = raise_nofile(&s.cfg);
    /* libcurl's global state (webhook deliveries), before any thread */
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Every thread inherits this mask: the signals are taken by sigwait. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    /* The version probes fork: run them (once, then cached on disk) while
     * the process still has one thread; requests read them from memory. */
    lang_registry_probe(s.langs, s.cfg.cache_dir);
    r = 0;
    if (!s.cfg.no_exec)
        r = start_sandbox(&s);
    if (r == 0)
        r = start_services(&s);
    if (r == 0) {
        struct exec_stats es = {0};
        exec_stats(s.exec, &es);
        /* what is in force, derived values included */
        char store[512], queue[512];
        config_redact_url(s.cfg.store, store, sizeof(store));
        config_redact_url(s.cfg.queue, queue, sizeof(queue));
        log_info("event=listening role=%s node=%s addr=%s port=%u store=%s queue=%s workers=%llu "
                 "warm_boxes=%llu netns_pool=%llu http_threads=%llu max_connections=%llu "
                 "max_connections_per_ip=%llu max_queue=%llu open_files=%llu no_exec=%d "
                 "data_dir=%s",
                 s.cmd, exec_node(s.exec), s.cfg.listen, api_server_port(s.api), store, queue,
                 (unsigned long long)es.workers,
                 (unsigned long long)(s.cfg.no_exec ? 0 : config_warm_boxes(&s.cfg)),
                 (unsigned long long)s.cfg.netns_pool, (unsigned long long)api_http_threads(&s.cfg),
                 (unsigned long long)s.cfg.max_connections,
                 (unsigned long long)s.cfg.max_connections_per_ip,
                 (unsigned long long)s.cfg.max_queue, (unsigned long long)nofile, s.cfg.no_exec,
                 s.cfg.data_dir);
        cli_sd_notify("READY=1\nMAINPID=%d\nSTATUS=serving on port %u", (int)getpid(),
                      api_server_port(s.api));
        int sig = 0;
        while (sigwait(&stop_set, &sig) == 0 && sig == SIGHUP)
            reload(&s, argc, argv);
        cli_sd_notify("STOPPING=1\nSTATUS=stopping");
        log_info("event=stopping signal=%d", sig);
    }
    stop_all(&s);
    return r;
}

int cli_serve(int argc, char **argv)
{
    return run_node(argc, argv, false);
}

int cli_worker(int argc, char **argv)
{
    return run_node(argc, argv, true);
}
