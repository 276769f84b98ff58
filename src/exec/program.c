/*
 * One program in one box: its files, the compile step (compiled languages)
 * or its artifacts from the compile cache, the run step, and the mapping of
 * sandbox results to job steps.
 */
#include "moat/exec.h"

#include "cache-internal.h"
#include "moat/sandbox.h"
#include "moat/util.h"

/* The whole environment of a step: nothing of moat's own leaks (E3). */
static const char *const base_env[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "HOME=/box",
    "LANG=C.UTF-8",
    "TMPDIR=/tmp",
};
#define MAX_ENV (MOAT_ARRAY_SIZE(base_env) + LANG_MAX_ENV + 1)

void exec_outcome_release(struct exec_outcome *o)
{
    job_step_release(&o->compile);
    job_step_release(&o->run);
}

struct sbx_config exec_sandbox_config(const struct moat_config *cfg)
{
    return (struct sbx_config){
        .first_uid = (uint32_t)cfg->first_uid,
        .uid_count = (uint32_t)cfg->uid_count,
        .run_dir = cfg->run_dir,
        .cgroup_name = cfg->cgroup_name,
        .cgroup_under = cfg->cgroup_parent,
        .box_tmpfs_bytes = cfg->box_tmpfs_mb << 20,
        .tmp_tmpfs_bytes = cfg->tmp_tmpfs_mb << 20,
        .landlock = cfg->landlock,
        .mount_template = cfg->mount_template,
        .cache_dir = cfg->cache_dir,
        .netns_pool = (uint32_t)cfg->netns_pool,
        .spawner_nice = (uint32_t)cfg->spawner_nice,
        .reuse_cgroups = cfg->reuse_cgroups,
        .reuse_netns = cfg->reuse_netns,
        .cgroup_residual_bytes = cfg->cgroup_residual_kb << 10,
    };
}

static struct sbx_limits to_sbx(const struct moat_limits *l)
{
    return (struct sbx_limits){
        .cpu_ms = l->time_ms,
        .wall_ms = config_wall_ms(l),
        .memory_bytes = l->memory_mb << 20,
        .max_procs = (uint32_t)l->max_processes,
        .output_bytes = l->max_output_kb << 10,
        .file_bytes = l->max_file_kb << 10,
        .open_files = (uint32_t)l->max_open_files,
        .stack_bytes = l->stack_kb << 10,
    };
}

/* Compile-step limits: the configured ones, raised where the language asks. */
static struct moat_limits compile_limits(const struct moat_config *cfg, const struct lang *lang)
{
    struct moat_limits l = cfg->compile_limits;
    const struct moat_limits *o = &lang->compile_limits;
    if (o->time_ms)
        l.time_ms = o->time_ms;
    if (o->wall_time_ms)
        l.wall_time_ms = o->wall_time_ms;
    if (o->memory_mb)
        l.memory_mb = o->memory_mb;
    if (o->max_processes)
        l.max_processes = o->max_processes;
    if (o->max_output_kb)
        l.max_output_kb = o->max_output_kb;
    if (o->max_file_kb)
        l.max_file_kb = o->max_file_kb;
    if (o->max_open_files)
        l.max_open_files = o->max_open_files;
    if (o->stack_kb)
        l.stack_kb = o->stack_kb;
    return l;
}

static enum job_verdict map_verdict(enum sbx_verdict v)
{
    switch (v) {
    case SBX_VERDICT_OK:
        return JOB_VERDICT_OK;
    case SBX_VERDICT_RUNTIME_ERROR:
        return JOB_VERDICT_RUNTIME_ERROR;
    case SBX_VERDICT_TIME_LIMIT:
        return JOB_VERDICT_TIME_LIMIT;
    case SBX_VERDICT_MEMORY_LIMIT:
        return JOB_VERDICT_MEMORY_LIMIT;
    case SBX_VERDICT_OUTPUT_LIMIT:
        return JOB_VERDICT_OUTPUT_LIMIT;
    case SBX_VERDICT_CANCELLED:
        return JOB_VERDICT_CANCELLED;
    case SBX_VERDICT_INTERNAL_ERROR:
    case SBX_VERDICT_MAX_:
        break;
    }
    return JOB_VERDICT_INTERNAL_ERROR;
}

/* Moves the sandbox result into a job step (the buffers change owner). */
static void to_job_step(struct sbx_result *r, struct job_step *s)
{
    *s = (struct job_step){0};
    s->verdict = map_verdict(r->verdict);
    s->exit_code = r->exit_code;
    s->signal = r->signal;
    s->time_ms = (r->cpu_us + 500) / 1000;
    s->wall_time_ms = (r->wall_us + 500) / 1000;
    s->memory_kb = r->memory_kb;
    s->out = buf_steal(&r->out, &s->out_len);
    s->err = buf_steal(&r->err, &s->err_len);
    /* the same entries in job's words */
    _Static_assert(JOB_ORDER_STDERR == SBX_ORDER_STDERR, "one format of the streams' order");
    s->order = buf_steal(&r->order, &s->order_len);
    s->out_truncated = r->out_truncated;
    s->err_truncated = r->err_truncated;
    moat_strlcpy(s->message, r->message, sizeof(s->message));
}

struct step_env {
    const char *envp[MAX_ENV];
};

static void make_env(const struct lang *lang, struct step_env *e)
{
    size_t n = 0;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(base_env); i++)
        e->envp[n++] = base_env[i];
    for (size_t i = 0; i < lang->nenv; i++)
        e->envp[n++] = lang->env[i];
    e->envp[n] = NULL;
}

/* One step; the sandbox result moves into *out, except for the collected
 * files, which stay in *res (initialized here, released by the caller). */
static int run_step(struct sbx_box *box, char **argv, const struct step_env *env,
                    const struct moat_limits *lim, const struct sbx_file *files, size_t nfiles,
                    const char *in, size_t in_len, bool last, uint64_t collect_max,
                    struct sbx_result *res, struct job_step *out, struct moat_err *err)
{
    struct sbx_step step = {
        .last = last,
        .argv = (const char *const *)argv,
        .envp = env->envp,
        .limits = to_sbx(lim),
        .stdin_data = in,
        .stdin_len = in_len,
        .files = files,
        .nfiles = nfiles,
        .collect = collect_max > 0,
        .collect_max_bytes = collect_max,
    };
    sbx_result_init(res);
    int r = sbx_box_run(box, &step, res, err);
    to_job_step(res, out);
    return r;
}

/* argv of the run step: the template's words, then the user's arguments. */
static int run_argv(const struct lang *lang, const struct lang_vars *vars,
                    const struct exec_request *req, char ***argv, char **storage,
                    struct moat_err *err)
{
    char **words = NULL;
    int r = lang_expand(lang->run, vars, &words, storage, err);
    if (r < 0)
        return r;
    size_t n = 0;
    while (words[n])
        n++;
    size_t total;
    if (!size_add(n, req->nargs, &total) || total > 4096)
        return moat_err_field(err, -E2BIG, "args", "too many arguments");
    char **all = calloc(total + 1, sizeof(*all));
    if (!all)
        return -ENOMEM;
    memcpy(all, words, n * sizeof(*all));
    for (size_t i = 0; i < req->nargs; i++)
        all[n + i] = (char *)req->args[i]; /* argv is never written through */
    *argv = all;                           /* the words stay in *storage */
    return 0;
}

static int prepare_files(const struct exec_request *req, struct sbx_file *files, const char **names,
                         char *entry, size_t entrysz, char *class_name, size_t classsz,
                         struct moat_err *err)
{
    if (req->nfiles == 0)
        return moat_err_field(err, -EINVAL, "code", "no program given");
    for (size_t i = 0; i < req->nfiles; i++) {
        const char *name = req->files[i].name;
        if (i == 0 && !name) {
            int r = lang_entry_name(req->lang, req->files[0].data, req->files[0].len, entry,
                                    entrysz, err);
            if (r < 0)
                return r;
            name = entry;
        } else if (!name || !sbx_file_name_ok(name) || str_has_prefix(name, LANG_RESERVED_PREFIX)) {
            /* the policy check's own files */
            return moat_err_field(err, -EINVAL, "files", "file %zu has an invalid name", i);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], name) == 0)
                return moat_err_field(err, -EINVAL, "files", "duplicate file name %s", name);
        names[i] = name;
        files[i] =
            (struct sbx_file){.name = name, .data = req->files[i].data, .len = req->files[i].len};
    }
    /* {class}: the entry's name without its extension (Main.java -> Main). */
    moat_strlcpy(class_name, names[0], classsz);
    char *dot = strrchr(class_name, '.');
    if (dot && dot != class_name)
        *dot = '\0';
    return 0;
}

/* A compile step's outcome: how the run step goes on. */
enum compiled {
    COMPILED_IN_BOX, /* the artifacts are in the box already */
    COMPILED_CACHED, /* the run step writes hit's artifacts with the sources */
    COMPILED_FAILED, /* no run step: out->run says why */
};

struct compile_in {
    struct sbx_box *box;
    const struct moat_config *cfg;
    struct exec_cache *cache;
    const struct lang *lang;
    struct lang_vars *vars;
    const struct step_env *env;
    const struct sbx_file *files;
    size_t nfiles;
    struct exec_built *keep; /* the artifacts are kept here (compiled once, run in other boxes) */
};

/* The cache key of this compile, or -ENODATA when it must not be cached:
 * a compiler whose version cannot be told could change under the cache. */
static int compile_key(const struct compile_in *c, char **argv, char key[EXEC_CACHE_KEY_LEN + 1])
{
    char version[64];
    if (lang_version(c->lang, c->cfg->cache_dir, version, sizeof(version)) < 0)
        return -ENODATA;
    struct exec_cache_input in = {.lang = c->lang->name,
                                  .version = version,
                                  .argv = (const char *const *)argv,
                                  .envp = c->env->envp,
                                  .files = c->files,
                                  .nfiles = c->nfiles};
    return exec_cache_key(&in, key);
}

/* Keeps a successful compile's artifacts, when they are all there. */
static void compile_store(struct exec_cache *cache, const char *key, const struct sbx_result *res,
                          const struct job_step *step)
{
    if (step->verdict != JOB_VERDICT_OK || res->collect_overflow || res->collect_skipped)
        return; /* compile errors are cheap to redo and may hide a transient fault */
    int r = exec_cache_put(cache, key, res->collected, res->ncollected);
    if (r < 0)
        log_debug("msg=\"compile cache store failed\" err=%d", r);
}

/* ---- a program compiled once ---- */

void exec_built_release(struct exec_built *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nartifacts; i++) {
        free((char *)b->artifacts[i].name);
        free((void *)b->artifacts[i].data);
    }
    free(b->artifacts);
    *b = (struct exec_built){0};
}

/* One artifact into b (which has room for it). */
static int keep_one(struct exec_built *b, const char *name, const void *data, size_t len, bool x)
{
    char *nm = strdup(name), *d = moat_memdup0(data, len);
    if (!nm || !d) {
        free(nm);
        free(d);
        return -ENOMEM;
    }
    b->artifacts[b->nartifacts++] = (struct sbx_file){.name = nm, .data = d, .len = len,
                                                      .executable = x};
    return 0;
}

static int keep_room(struct exec_built *b, size_t n)
{
    b->artifacts = calloc(n ? n : 1, sizeof(*b->artifacts));
    return b->artifacts ? 0 : -ENOMEM;
}

/* The compile step's artifacts. A compile whose artifacts could not all be
 * handed back (too many, too large, not regular files) cannot run in other
 * boxes: an internal error that says so. */
static int keep_collected(struct exec_built *b, const struct sbx_result *res,
                          struct moat_err *err)
{
    if (res->collect_overflow || res->collect_skipped)
        return moat_err_set(err, -EFBIG,
                            "the compiled program is too large to run in boxes of its own");
    int r = keep_room(b, res->ncollected);
    for (size_t i = 0; r == 0 && i < res->ncollected; i++) {
        const struct sbx_collected *f = &res->collected[i];
        r = keep_one(b, f->name, f->data, f->len, f->executable);
    }
    return r;
}

/* A cache hit's artifacts (the hit is released by its owner). */
static int keep_hit(struct exec_built *b, const struct exec_cache_hit *hit)
{
    int r = keep_room(b, hit->nfiles);
    for (size_t i = 0; r == 0 && i < hit->nfiles; i++) {
        const struct sbx_file *f = &hit->files[i];
        r = keep_one(b, f->name, f->data, f->len, f->executable);
    }
    return r;
}

/* Whether a cached artifact would collide with a source: the same name, or
 * one a directory of the other. The compile step never hands back a source,
 * but a damaged cache could name one: that is a miss, never a failed run. */
static bool collides(const struct sbx_file *files, size_t nfiles, const struct exec_cache_hit *hit)
{
    for (size_t i = 0; i < hit->nfiles; i++) {
        const char *a = hit->files[i].name;
        size_t la = strlen(a);
        for (size_t j = 0; j < nfiles; j++) {
            const char *s = files[j].name;
            size_t ls = strlen(s);
            size_t k = la < ls ? la : ls;
            if (strncmp(a, s, k) == 0 && (la == ls || (la < ls ? s[la] : a[ls]) == '/'))
                return true;
        }
    }
    return false;
}

static int compile(const struct compile_in *c, struct exec_outcome *out, struct exec_cache_hit *hit,
                   enum compiled *how, struct moat_err *err)
{
    struct moat_limits cl = compile_limits(c->cfg, c->lang);
    c->vars->memory_mb = cl.memory_mb;
    char **argv = NULL, *storage = NULL;
    int r = lang_expand(c->lang->compile, c->vars, &argv, &storage, err);
    if (r < 0)
        return r;
    out->compiled = true;
    *how = COMPILED_IN_BOX;
    char key[EXEC_CACHE_KEY_LEN + 1];
    bool cacheable = c->cache && compile_key(c, argv, key) == 0;
    if (cacheable && exec_cache_get(c->cache, key, hit) == 1) {
        if (!collides(c->files, c->nfiles, hit)) {
            free(storage);
            out->compile = (struct job_step){.verdict = JOB_VERDICT_OK, .cached = true};
            *how = COMPILED_CACHED;
            if (!c->keep)
                return 0;
            return keep_hit(c->keep, hit);
        }
        exec_cache_hit_release(hit);
        exec_cache_drop(c->cache, key);
    }
    struct sbx_result res;
    uint64_t collect = cacheable ? exec_cache_entry_max(c->cache) : 0;
    if (c->keep && !collect)
        collect = EXEC_CACHE_ENTRY_MAX;
    r = run_step(c->box, argv, c->env, &cl, c->files, c->nfiles, NULL, 0, c->keep != NULL, collect,
                 &res, &out->compile, err);
    free(storage); /* holds argv too */
    if (cacheable && r == 0)
        compile_store(c->cache, key, &res, &out->compile);
    if (c->keep && r == 0 && out->compile.verdict == JOB_VERDICT_OK)
        r = keep_collected(c->keep, &res, err);
    sbx_result_release(&res);
    if (out->compile.verdict != JOB_VERDICT_OK) {
        /* No run: its verdict says why, the compile step has the details. */
        out->run.verdict = out->compile.verdict == JOB_VERDICT_INTERNAL_ERROR ||
                                   out->compile.verdict == JOB_VERDICT_CANCELLED
                               ? out->compile.verdict
                               : JOB_VERDICT_COMPILE_ERROR;
        out->run.exit_code = out->compile.exit_code;
        moat_strlcpy(out->run.message, out->compile.message, sizeof(out->run.message));
        *how = COMPILED_FAILED;
        return r < 0 && out->run.verdict == JOB_VERDICT_INTERNAL_ERROR ? r : 0;
    }
    return 0;
}

/* The run step, with the files it writes first (none when a compile step
 * wrote them). */
static int run(struct sbx_box *box, const struct exec_request *req, struct lang_vars *vars,
               const struct step_env *env, const struct sbx_file *files, size_t nfiles,
               struct exec_outcome *out, struct moat_err *err)
{
    const struct lang *lang = req->lang;
    struct moat_limits rl = req->limits;
    if (rl.max_processes < lang->min_processes)
        rl.max_processes = lang->min_processes;
    if (rl.memory_mb < lang->min_memory_mb)
        rl.memory_mb = lang->min_memory_mb;
    vars->memory_mb = rl.memory_mb;
    char **argv = NULL, *storage = NULL;
    int r = run_argv(lang, vars, req, &argv, &storage, err);
    if (r < 0) {
        free(storage);
        return r;
    }
    struct sbx_result res;
    r = run_step(box, argv, env, &rl, files, nfiles, req->stdin_data, req->stdin_len, true, 0, &res,
                 &out->run, err);
    sbx_result_release(&res);
    free(argv);
    free(storage);
    return r;
}

/* The run step in a box no compile step ran in: it writes the sources and
 * the artifacts (a cache hit's, or a build's). */
static int run_with(struct sbx_box *box, const struct exec_request *req, struct lang_vars *vars,
                    const struct step_env *env, const struct sbx_file *files,
                    const struct sbx_file *artifacts, size_t nartifacts, struct exec_outcome *out,
                    struct moat_err *err)
{
    size_t n;
    if (!size_add(req->nfiles, nartifacts, &n))
        return -E2BIG;
    struct sbx_file *all = calloc(n ? n : 1, sizeof(*all));
    if (!all)
        return -ENOMEM;
    memcpy(all, files, req->nfiles * sizeof(*all));
    if (nartifacts)
        memcpy(all + req->nfiles, artifacts, nartifacts * sizeof(*all));
    int r = run(box, req, vars, env, all, n, out, err);
    free(all);
    return r;
}

/* What every step of a program needs: its files named, the language's
 * environment, the template's variables. Large: lives on its caller's
 * stack for one call. */
struct setup {
    struct sbx_file files[256];
    const char *names[256];
    char entry[256], class_name[256];
    struct step_env env;
    struct lang_vars vars;
};

static int setup(const struct exec_request *req, struct setup *su, struct moat_err *err)
{
    if (req->nfiles > MOAT_ARRAY_SIZE(su->files))
        return moat_err_field(err, -E2BIG, "files", "at most 256 files");
    int r = prepare_files(req, su->files, su->names, su->entry, sizeof(su->entry),
                          su->class_name, sizeof(su->class_name), err);
    if (r < 0)
        return r;
    make_env(req->lang, &su->env);
    su->vars = (struct lang_vars){.main = su->names[0],
                                  .files = su->names,
                                  .nfiles = req->nfiles,
                                  .class_name = su->class_name,
                                  .cache = LANG_BOX_CACHE_DIR};
    return 0;
}

/* The violation a check step reported: "FILE:LINE<TAB>RULE<TAB>message". */
static void violation_message(const struct job_step *check, char *out, size_t outsz)
{
    char first[sizeof(((struct job_step *)0)->message)];
    size_t n = check->out_len < sizeof(first) - 1 ? check->out_len : sizeof(first) - 1;
    memcpy(first, check->out ? check->out : "", n);
    first[n] = '\0';
    first[strcspn(first, "\n")] = '\0';
    char *rule = strchr(first, '\t');
    char *msg = rule ? strchr(rule + 1, '\t') : NULL;
    if (!msg) {
        (void)snprintf(out, outsz, "the source breaks this server's policy");
        return;
    }
    *rule++ = '\0';
    *msg++ = '\0';
    /* cut to fit: the line and the rule first */
    (void)snprintf(out, outsz, "%.60s: %.130s (policy rule %.40s)", first, msg, rule);
}

/* The source policy check, before any other step, in the same box: the
 * checker and the rules as files, the sources on stdin. 0 with out->run a
 * policy_violation when the check refuses the program, or when it could
 * not finish (a policy fails closed); 0 with out untouched when it passes. */
static int policy_check(struct sbx_box *box, const struct moat_config *cfg,
                        const struct exec_request *req, const struct setup *su,
                        struct exec_outcome *out, struct moat_err *err)
{
    const struct lang *l = req->lang;
    if (!l->policy[0] || !l->check[0])
        return 0;
    size_t code_len = 0;
    const char *code = lang_checker_source(l->checker, &code_len);
    if (!code)
        return moat_err_set(err, -EINVAL, "no policy checker %s", l->checker);
    const struct sbx_file files[] = {
        {.name = LANG_CHECKER_FILE, .data = code, .len = code_len},
        {.name = LANG_RULES_FILE, .data = l->policy, .len = strlen(l->policy)},
    };
    const char *data[MOAT_ARRAY_SIZE(su->files)];
    size_t lens[MOAT_ARRAY_SIZE(su->files)];
    for (size_t i = 0; i < req->nfiles; i++) {
        data[i] = req->files[i].data;
        lens[i] = req->files[i].len;
    }
    char *in = NULL, **argv = NULL, *storage = NULL;
    size_t in_len = 0;
    int r = lang_policy_stdin(su->names, data, lens, req->nfiles, &in, &in_len);
    if (r == 0)
        r = lang_expand(l->check, &su->vars, &argv, &storage, err);
    if (r < 0) {
        free(in);
        return err->msg[0] ? r : moat_err_set(err, r, "policy check: %s", strerror(-r));
    }
    struct moat_limits lim = compile_limits(cfg, l);
    struct sbx_result res;
    struct job_step check = {0};
    r = run_step(box, argv, &su->env, &lim, files, MOAT_ARRAY_SIZE(files), in, in_len, false, 0,
                 &res, &check, err);
    sbx_result_release(&res);
    free(in);
    free(storage); /* argv lives in it */
    if (r == 0 && !(check.verdict == JOB_VERDICT_OK && check.exit_code == 0)) {
        out->run = (struct job_step){.verdict = JOB_VERDICT_POLICY_VIOLATION};
        if (check.verdict == JOB_VERDICT_RUNTIME_ERROR && check.exit_code == LANG_CHECK_VIOLATION)
            violation_message(&check, out->run.message, sizeof(out->run.message));
        else
            (void)snprintf(out->run.message, sizeof(out->run.message),
                           "the policy check did not finish (%s): refused",
                           job_verdict_name(check.verdict) ? job_verdict_name(check.verdict)
                                                           : "no verdict");
    }
    job_step_release(&check);
    return r;
}

static struct compile_in compile_in_of(struct sbx_box *box, const struct moat_config *cfg,
                                       struct exec_cache *cache, const struct exec_request *req,
                                       struct setup *su, struct exec_built *keep)
{
    return (struct compile_in){.box = box,
                               .cfg = cfg,
                               .cache = cache,
                               .lang = req->lang,
                               .vars = &su->vars,
                               .env = &su->env,
                               .files = su->files,
                               .nfiles = req->nfiles,
                               .keep = keep};
}

int exec_program_cached(struct sbx_box *box, const struct moat_config *cfg,
                        struct exec_cache *cache, const struct exec_request *req,
                        struct exec_outcome *out, struct moat_err *err)
{
    *out = (struct exec_outcome){0};
    struct setup su;
    int r = setup(req, &su, err);
    if (r == 0)
        r = policy_check(box, cfg, req, &su, out, err);
    if (r < 0 || out->run.verdict == JOB_VERDICT_POLICY_VIOLATION)
        return r;
    if (!lang_compiled(req->lang))
        return run(box, req, &su.vars, &su.env, su.files, req->nfiles, out, err);
    struct compile_in c = compile_in_of(box, cfg, cache, req, &su, NULL);
    struct exec_cache_hit hit = {0};
    enum compiled how = COMPILED_FAILED;
    r = compile(&c, out, &hit, &how, err);
    if (r < 0 || how == COMPILED_FAILED)
        return r;
    if (how == COMPILED_IN_BOX)
        return run(box, req, &su.vars, &su.env, NULL, 0, out, err);
    r = run_with(box, req, &su.vars, &su.env, su.files, hit.files, hit.nfiles, out, err);
    exec_cache_hit_release(&hit);
    return r;
}

int exec_build(struct sbx_box *box, const struct moat_config *cfg, struct exec_cache *cache,
               const struct exec_request *req, struct exec_outcome *out, struct exec_built *b,
               struct moat_err *err)
{
    *out = (struct exec_outcome){0};
    *b = (struct exec_built){0};
    struct setup su;
    int r = setup(req, &su, err);
    if (r < 0)
        return r;
    if (req->lang->policy[0] && req->lang->check[0]) {
        /* the box is used now, whatever follows */
        b->used_box = true;
        r = policy_check(box, cfg, req, &su, out, err);
        if (r < 0 || out->run.verdict == JOB_VERDICT_POLICY_VIOLATION)
            return r;
    }
    if (!lang_compiled(req->lang))
        return 0; /* nothing to build: the box is still fresh unless checked */
    struct compile_in c = compile_in_of(box, cfg, cache, req, &su, b);
    struct exec_cache_hit hit = {0};
    enum compiled how = COMPILED_FAILED;
    r = compile(&c, out, &hit, &how, err);
    exec_cache_hit_release(&hit);
    b->used_box = b->used_box || how != COMPILED_CACHED;
    if (r < 0)
        exec_built_release(b);
    return r;
}

int exec_run_built(struct sbx_box *box, const struct exec_built *b, const struct exec_request *req,
                   struct job_step *step, struct moat_err *err)
{
    *step = (struct job_step){0};
    struct setup su;
    int r = setup(req, &su, err);
    if (r < 0)
        return r;
    struct exec_outcome out = {0};
    r = run_with(box, req, &su.vars, &su.env, su.files, b->artifacts, b->nartifacts, &out, err);
    *step = out.run;
    out.run = (struct job_step){0};
    exec_outcome_release(&out);
    return r;
}

int exec_program(struct sbx_box *box, const struct moat_config *cfg, const struct exec_request *req,
                 struct exec_outcome *out, struct moat_err *err)
{
    return exec_program_cached(box, cfg, NULL, req, out, err);
}
