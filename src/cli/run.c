/*
 * moat run: one program, one cold box, no server.
 *   moat run [--lang NAME] [--stdin FILE|-] [limits...] [--json] FILE... [-- ARGS...]
 */
#include "cli.h"

#include <libgen.h>

#include "moat/exec.h"
#include "moat/job.h"
#include "moat/sandbox.h"

#define MAX_FILES 64

struct run_opts {
    const char *lang;
    const char *stdin_path;
    const char *before; /* with pool: a program run first, in the same pool */
    bool json;
    bool pool;
    bool help;
};

static int run_own(void *arg, const char *name, const char *value)
{
    struct run_opts *o = arg;
    if (strcmp(name, "lang") == 0) {
        o->lang = value;
        return 1;
    }
    if (strcmp(name, "stdin") == 0) {
        o->stdin_path = value;
        return 1;
    }
    if (strcmp(name, "before") == 0) {
        o->before = value;
        return 1;
    }
    if (strcmp(name, "json") == 0) {
        o->json = true;
        return 0;
    }
    if (strcmp(name, "pool") == 0) {
        o->pool = true;
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        o->help = true;
        return 0;
    }
    return -1;
}

static void run_help(void)
{
    (void)printf(
        "usage: moat run [--lang NAME] [--stdin FILE|-] [--time-limit MS]\n"
        "                [--wall-time-limit MS] [--memory-limit MB] [--max-processes N]\n"
        "                [--max-output KB] [--json] FILE... [-- ARGS...]\n\n"
        "Runs FILE (the entry point; further files are put beside it) once in a\n"
        "sandbox. Compiled languages are compiled in the box first. The language\n"
        "comes from the extension unless --lang names it.\n\n"
        "Without --json the program's stdout and stderr pass through, a summary\n"
        "line goes to stderr and moat exits with the program's exit code (124 on\n"
        "a time limit). With --json one result object is printed on stdout.\n\n"
        "options:\n"
        "  --lang NAME    language name or alias (`moat languages`)\n"
        "  --stdin FILE   the program's standard input (- for moat's own)\n"
        "  --json         print the result as JSON\n"
        "  --pool         take the box from a warm pool, as `moat serve` does (its\n"
        "                 spawner, network namespaces); the default is one cold box\n"
        "  --before FILE  with --pool: run FILE (its language from its name) first,\n"
        "                 in the box the pool gives first, then the program in the\n"
        "                 next box of the same pool of one, which reuses the first\n"
        "                 box's slot and network namespace where moat may; tells on\n"
        "                 stderr what the first run ended with and what was reused\n\n");
    config_print_help(stdout, CONFIG_SCOPE_RUN);
}

static int print_json(const struct exec_outcome *o)
{
    json_t *root = job_step_to_json(&o->run, false);
    if (!root)
        return -ENOMEM;
    if (o->compiled) {
        json_t *c = job_step_to_json(&o->compile, true);
        /* steals c */
        if (!c || json_object_set_new(root, "compile", c) < 0) {
            json_decref(root);
            return -ENOMEM;
        }
    }
    char *text = json_dumps(root, JOB_JSON_DUMP_FLAGS);
    json_decref(root);
    if (!text)
        return -ENOMEM;
    int r = puts(text) < 0 ? -EIO : 0;
    free(text);
    return r;
}

static int exit_code_of(const struct exec_outcome *o)
{
    switch (o->run.verdict) {
    case JOB_VERDICT_COMPILE_ERROR:
    case JOB_VERDICT_POLICY_VIOLATION:
        return 1;
    case JOB_VERDICT_INTERNAL_ERROR:
    case JOB_VERDICT_CANCELLED:
    case JOB_VERDICT_NONE:
    case JOB_VERDICT_MAX_:
        return 125; /* as timeout(1) when it fails itself */
    case JOB_VERDICT_TIME_LIMIT:
        return 124;
    case JOB_VERDICT_OK:
    case JOB_VERDICT_RUNTIME_ERROR:
    case JOB_VERDICT_MEMORY_LIMIT:
    case JOB_VERDICT_OUTPUT_LIMIT:
    case JOB_VERDICT_WRONG_ANSWER:
    case JOB_VERDICT_ACCEPTED:
    case JOB_VERDICT_SKIPPED:
        break;
    }
    return o->run.exit_code;
}

static void print_plain(const struct exec_outcome *o)
{
    if (o->compiled && o->compile.verdict != JOB_VERDICT_OK) {
        (void)write_full(1, o->compile.out, o->compile.out_len);
        (void)write_full(2, o->compile.err, o->compile.err_len);
    }
    (void)write_full(1, o->run.out, o->run.out_len);
    (void)write_full(2, o->run.err, o->run.err_len);
    const struct job_step *s = o->run.verdict == JOB_VERDICT_COMPILE_ERROR ? &o->compile : &o->run;
    char sentence[300];
    const char *why = job_error_sentence(&o->run, sentence, sizeof(sentence));
    (void)fprintf(stderr,
                  "moat: verdict=%s exit=%d time=%llums wall=%llums memory=%lluKB%s%s%s\n",
                  job_verdict_name(o->run.verdict), exit_code_of(o),
                  (unsigned long long)s->time_ms, (unsigned long long)s->wall_time_ms,
                  (unsigned long long)s->memory_kb, why ? " (" : "", why ? why : "",
                  why ? ")" : "");
}

struct inputs {
    char *data[MAX_FILES];
    size_t len[MAX_FILES];
    struct exec_file files[MAX_FILES];
    char names[MAX_FILES][256];
    char *stdin_data;
    size_t stdin_len;
};

static void inputs_release(struct inputs *in)
{
    for (size_t i = 0; i < MAX_FILES; i++)
        free(in->data[i]);
    free(in->stdin_data);
}

static int read_inputs(const struct moat_config *cfg, const struct run_opts *o,
                       const struct lang *lang, const char **paths, size_t n,
                       struct inputs *in)
{
    size_t budget = cfg->max_code_kb << 10;
    for (size_t i = 0; i < n; i++) {
        int r = cli_read_file(paths[i], budget, &in->data[i], &in->len[i]);
        if (r < 0) {
            (void)fprintf(stderr, "moat run: %s: %s\n", paths[i],
                          r == -EFBIG ? "code larger than max-code-kb" : strerror(-r));
            return CLI_EXIT_USAGE;
        }
        budget -= in->len[i];
        char tmp[512];
        moat_strlcpy(tmp, paths[i], sizeof(tmp));
        moat_strlcpy(in->names[i], basename(tmp), sizeof(in->names[i]));
        bool ok = sbx_file_name_ok(in->names[i]);
        if (!ok && i > 0) {
            (void)fprintf(stderr, "moat run: %s: unusable file name in a box\n", paths[i]);
            return CLI_EXIT_USAGE;
        }
        /* The entry is named by the language's rule when the language has one
         * (Java: the public class) or when its own name cannot go into a box. */
        if (i == 0 && lang->class_rule[0])
            ok = false;
        in->files[i] = (struct exec_file){.name = ok ? in->names[i] : NULL,
                                          .data = in->data[i], .len = in->len[i]};
    }
    if (o->stdin_path) {
        int r = cli_read_file(o->stdin_path, cfg->max_stdin_kb << 10, &in->stdin_data,
                              &in->stdin_len);
        if (r < 0) {
            (void)fprintf(stderr, "moat run: stdin %s: %s\n", o->stdin_path,
                          r == -EFBIG ? "larger than max-stdin-kb" : strerror(-r));
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

/* A box: a cold one made here, or (pool) one a warm pool's spawner made,
 * the way `moat serve` gets them, so that both paths can be tested. */
static int get_box(struct sbx_ctx *ctx, bool pool, struct sbx_pool **pl, struct sbx_box **box,
                   struct moat_err *err)
{
    if (!pool)
        return sbx_box_new(ctx, box, err);
    int r = *pl ? 0 : sbx_pool_start(ctx, 1, pl, err);
    return r < 0 ? r : sbx_pool_take(*pl, 60000, box, err);
}

/* --before: the first program, in the pool's first box; then says on
 * stderr how it ended and whether the next box (taken by the caller)
 * reuses its slot (the same uid, which only a kept slot gives with a uid
 * range of two, and the pool counted it) and its network namespace (which
 * the pool decided when it kept the slot). An internal error fails. */
static int run_before(struct sbx_ctx *ctx, const struct moat_config *cfg,
                      const struct exec_request *before, struct sbx_pool **pool,
                      struct sbx_box **next, struct moat_err *err)
{
    struct sbx_box *box = NULL;
    struct exec_outcome out = {0};
    int r = get_box(ctx, true, pool, &box, err);
    uint32_t uid = r == 0 ? sbx_box_uid(box) : 0;
    if (r == 0)
        r = exec_program(box, cfg, before, &out, err);
    sbx_box_free(box);
    bool failed = r < 0 || out.run.verdict == JOB_VERDICT_INTERNAL_ERROR;
    if (!failed) {
        struct sbx_pool_stats st;
        r = get_box(ctx, true, pool, next, err);
        sbx_pool_stats(*pool, &st);
        bool same = r == 0 && sbx_box_uid(*next) == uid && st.slots_reused;
        (void)fprintf(stderr,
                      "moat run: before: verdict %s exit %d; slot reused: %s; network "
                      "namespace reused: %s\n",
                      job_verdict_name(out.run.verdict), out.run.exit_code, same ? "yes" : "no",
                      same && st.netns_reused ? "yes" : "no");
    } else if (r == 0) {
        r = moat_err_set(err, -EIO, "the --before program failed: %s", out.run.message);
    }
    exec_outcome_release(&out);
    return r;
}

static int execute(const struct moat_config *cfg, const struct run_opts *o,
                   const struct exec_request *req, const struct exec_request *before,
                   struct exec_outcome *out)
{
    struct moat_err err = {0};
    struct sbx_config sc = exec_sandbox_config(cfg);
    char lean[4096 + 16];
    cli_lean_binary(lean, sizeof(lean));
    sc.spawner_exe = lean[0] ? lean : NULL;
    /* A cold box is the only box of this process: a template would be built
     * for it alone, before the clone, where box init builds the same tree
     * while its program process joins its cgroup. */
    sc.mount_template = sc.mount_template && o->pool;
    if (req->lang->prepare[0] && lang_prepare(req->lang, cfg->cache_dir, &err) < 0)
        (void)fprintf(stderr, "moat run: warning: %s (compiling without it)\n", err.msg);
    struct sbx_ctx *ctx = NULL;
    struct sbx_pool *pool = NULL;
    struct sbx_box *box = NULL;
    int r = sbx_ctx_new(&sc, &ctx, &err);
    if (r == 0 && before)
        r = run_before(ctx, cfg, before, &pool, &box, &err);
    else if (r == 0)
        r = get_box(ctx, o->pool, &pool, &box, &err);
    if (r == 0) {
        r = exec_program(box, cfg, req, out, &err);
        if (r < 0 && err.field[0]) {
            (void)fprintf(stderr, "moat run: %s: %s\n", err.field, err.msg);
            r = CLI_EXIT_USAGE;
        } else {
            r = 0; /* an internal error is in the outcome */
        }
    } else {
        (void)fprintf(stderr, "moat run: sandbox: %s\n", err.msg);
        out->run.verdict = JOB_VERDICT_INTERNAL_ERROR;
        moat_strlcpy(out->run.message, err.msg, sizeof(out->run.message));
        r = 0;
    }
    sbx_box_free(box);
    sbx_pool_stop(pool);
    sbx_ctx_free(ctx);
    return r;
}

int cli_run(int argc, char **argv)
{
    struct moat_config cfg;
    int r = cli_load_config(&cfg, argc, argv);
    if (r)
        return r;
    struct run_opts o = {0};
    const char *paths[MAX_FILES];
    struct cli_parse p = {.cmd = "run", .scope = CONFIG_SCOPE_RUN, .own = run_own, .arg = &o,
                          .positional = paths, .maxpositional = MAX_FILES};
    if ((r = cli_parse_args(argc, argv, &cfg, &p)) != 0)
        return r;
    if (o.help) {
        run_help();
        return 0;
    }
    struct moat_err err = {0};
    if (config_validate(&cfg, &err) < 0 || config_check_limits(&cfg, &cfg.limits, &err) < 0) {
        (void)fprintf(stderr, "moat run: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (p.npositional == 0) {
        (void)fprintf(stderr, "moat run: no program file given (see `moat run --help`)\n");
        return CLI_EXIT_USAGE;
    }
    struct lang_registry *reg = NULL;
    if ((r = cli_load_languages(&cfg, &reg)) != 0)
        return r;
    const struct lang *lang = o.lang ? lang_find(reg, o.lang) : lang_for_file(reg, paths[0]);
    if (!lang) {
        (void)fprintf(stderr, "moat run: %s%s (see `moat languages`)\n",
                      o.lang ? "unknown language: " : "cannot tell the language of ",
                      o.lang ? o.lang : paths[0]);
        lang_registry_free(reg);
        return CLI_EXIT_USAGE;
    }
    struct inputs *in = calloc(1, sizeof(*in));
    if (!in) {
        lang_registry_free(reg);
        return 125;
    }
    r = read_inputs(&cfg, &o, lang, paths, p.npositional, in);
    struct inputs *bin = NULL;
    const struct lang *blang = NULL;
    if (r == 0 && o.before) {
        blang = o.pool ? lang_for_file(reg, o.before) : NULL;
        bin = calloc(1, sizeof(*bin));
        struct run_opts bo = {0};
        if (!blang)
            (void)fprintf(stderr, "moat run: --before needs --pool and a file whose language "
                                  "its name tells\n");
        r = !blang ? CLI_EXIT_USAGE
            : !bin ? 125
                   : read_inputs(&cfg, &bo, blang, &o.before, 1, bin);
    }
    struct exec_outcome out = {0};
    if (r == 0) {
        struct exec_request req = {.lang = lang, .files = in->files, .nfiles = p.npositional,
                                   .stdin_data = in->stdin_data, .stdin_len = in->stdin_len,
                                   .args = (const char *const *)p.rest, .nargs = p.nrest,
                                   .limits = cfg.limits};
        struct exec_request breq = {.lang = blang, .files = bin ? bin->files : NULL,
                                    .nfiles = 1, .limits = cfg.limits};
        r = execute(&cfg, &o, &req, bin ? &breq : NULL, &out);
    }
    if (bin)
        inputs_release(bin);
    free(bin);
    if (r == 0) {
        if (o.json)
            (void)print_json(&out);
        else
            print_plain(&out);
        r = exit_code_of(&out);
    }
    exec_outcome_release(&out);
    inputs_release(in);
    free(in);
    lang_registry_free(reg);
    return r;
}
