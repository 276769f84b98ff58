/*
 * The manual pages of the settings: moat.ini(5) and the SETTINGS of
 * moat-run(1), moat-serve(1) and moat-worker(1), printed from the same
 * table as --help and docs/configuration.md (a unit test keeps the
 * checked-in pages equal to this output). A page's other sections are
 * short: `--help` and docs/ say the rest.
 */
#include "config-internal.h"

/* Text as roff reads it: a backslash is \e, a '-' is \- (a minus, which
 * copies and searches as one), and a line may not start with '.' or '\''. */
static void roff(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        (void)fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '\\')
            (void)fputs("\\e", out);
        else if (*s == '-')
            (void)fputs("\\-", out);
        else
            (void)fputc(*s, out);
    }
}

static void man_head(FILE *out, const char *name, int section, const char *what)
{
    (void)fprintf(out,
                  ".\\\" Generated from src/config/settings.c by config_print_man(); a unit test "
                  "keeps it in step.\n"
                  ".TH %s %d \"\" \"moat\" \"moat manual\"\n"
                  ".SH NAME\n",
                  name, section);
    roff(out, name);
    (void)fputs(" \\- ", out);
    roff(out, what);
    (void)fputc('\n', out);
}

/* One setting: its flag (or key) as the tag, then what it is, its
 * default, range and the other two ways to give it. */
static void man_setting(FILE *out, const struct config_setting *s, bool as_key)
{
    char def[300], range[96];
    config_format_default(s, def, sizeof(def));
    config_format_range(s, range, sizeof(range));
    (void)fputs(".TP\n", out);
    if (as_key) {
        (void)fputs("\\fB", out);
        roff(out, s->name);
        (void)fputs("\\fR\n", out);
    } else {
        (void)fputs("\\fB\\-\\-", out);
        roff(out, s->flag);
        (void)fputs("\\fR \\fIVALUE\\fR\n", out);
    }
    roff(out, s->description);
    if (s->api_field) {
        (void)fputs(" (request field ", out);
        roff(out, s->api_field);
        (void)fputc(')', out);
    }
    (void)fputs(".\n.br\nDefault ", out);
    roff(out, *def ? def : "empty");
    (void)fputs("; ", out);
    roff(out, range);
    (void)fputs(". ", out);
    if (as_key) {
        (void)fputs("Flag \\fB\\-\\-", out);
        roff(out, s->flag);
        (void)fputs("\\fR, environment \\fB", out);
    } else {
        (void)fputs("Key ", out);
        roff(out, s->name);
        (void)fputs(" in [", out);
        roff(out, s->section);
        (void)fputs("], environment \\fB", out);
    }
    roff(out, s->env);
    (void)fputs("\\fR.\n", out);
}

/* Every setting of scope, by section. */
static void man_settings(FILE *out, unsigned scope, bool as_key)
{
    for (size_t k = 0; k < config_n_sections; k++) {
        const struct config_section *sec = &config_sections[k];
        bool header = false;
        for (size_t i = 0; i < config_n_settings; i++) {
            const struct config_setting *s = &config_settings[i];
            if (!(s->scope & scope) || strcmp(s->section, sec->name) != 0)
                continue;
            if (!header) {
                (void)fputs(as_key ? ".SH \"[" : ".SS \"[", out);
                roff(out, sec->name);
                (void)fputs("]: ", out);
                roff(out, sec->title);
                (void)fputs("\"\n", out);
                header = true;
            }
            man_setting(out, s, as_key);
        }
    }
}

static const char order_text[] =
    ".SH \"WHERE SETTINGS COME FROM\"\n"
    "The last of these that gives a setting wins: the built\\-in default; the ini file named "
    "by \\fB\\-\\-config\\fR, else by \\fB$MOAT_CONFIG\\fR, else \\fB./moat.ini\\fR when there "
    "is one (the Debian package's service reads \\fB/etc/moat/moat.ini\\fR); the "
    "\\fBMOAT_*\\fR environment variable; the flag. The result is checked as a whole: a value "
    "out of range, an unknown key or a key given twice stops moat with a message naming it.\n";

static void man_ini(FILE *out)
{
    man_head(out, "moat.ini", 5, "the settings of moat");
    (void)fputs(".SH SYNOPSIS\n"
                "\\fB/etc/moat/moat.ini\\fR, \\fB./moat.ini\\fR, or the file named by "
                "\\fB\\-\\-config\\fR or \\fB$MOAT_CONFIG\\fR\n"
                ".SH DESCRIPTION\n"
                "An ini file: a line holds \\fB[section]\\fR or \\fBkey = value\\fR and is at "
                "most 197 characters long; a line starting with \\fB;\\fR or \\fB#\\fR is a "
                "comment, as is the rest of a line after a space and \\fB;\\fR. Numbers are plain "
                "decimal; booleans are true/false, yes/no, on/off or 1/0. The file must not be "
                "writable by every user.\n",
                out);
    (void)fputs(order_text, out);
    man_settings(out, CONFIG_SCOPE_RUN | CONFIG_SCOPE_SERVE, true);
    (void)fputs(".SH \"SEE ALSO\"\n\\fBmoat\\fR(1), \\fBmoat\\-run\\fR(1), "
                "\\fBmoat\\-serve\\fR(1), \\fBmoat\\-worker\\fR(1)\n",
                out);
}

static void man_command(FILE *out, const char *name, const char *what, const char *synopsis,
                        const char *description, unsigned scope)
{
    man_head(out, name, 1, what);
    (void)fprintf(out, ".SH SYNOPSIS\n%s\n.SH DESCRIPTION\n%s\n", synopsis, description);
    (void)fputs(".SH SETTINGS\nEach is also a key of \\fBmoat.ini\\fR(5) and a "
                "\\fBMOAT_*\\fR environment variable.\n",
                out);
    man_settings(out, scope, false);
    (void)fputs(order_text, out);
    (void)fputs(".SH \"SEE ALSO\"\n\\fBmoat\\fR(1), \\fBmoat.ini\\fR(5)\n", out);
}

static void man_run(FILE *out)
{
    man_command(out, "moat-run", "run a program once in a sandbox",
                "\\fBmoat run\\fR [\\fB\\-\\-lang\\fR \\fINAME\\fR] [\\fB\\-\\-stdin\\fR "
                "\\fIFILE\\fR|\\fB\\-\\fR] [\\fB\\-\\-json\\fR] [\\fB\\-\\-pool\\fR] "
                "[\\fIsettings\\fR] \\fIFILE\\fR... [\\fB\\-\\-\\fR \\fIARGS\\fR...]",
                "Runs \\fIFILE\\fR (the entry point; further files are put beside it) once in a "
                "throw\\-away sandbox, compiling it there first for a compiled language. The "
                "language comes from the extension unless \\fB\\-\\-lang\\fR names it. Without "
                "\\fB\\-\\-json\\fR the program's output passes through, a summary goes to "
                "stderr and moat exits with the program's exit code (124 on a time limit); with "
                "it, one result object is printed. \\fBmoat run \\-\\-help\\fR lists every "
                "option.",
                CONFIG_SCOPE_RUN);
}

static void man_serve(FILE *out)
{
    man_command(out, "moat-serve", "serve the HTTP API and run the queued jobs",
                "\\fBmoat serve\\fR [\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fIsettings\\fR]",
                "Serves the HTTP API (\\fB/openapi.yaml\\fR describes it) with the store and "
                "queue of \\fB\\-\\-store\\fR and \\fB\\-\\-queue\\fR (the embedded SQLite store "
                "in \\fB\\-\\-data\\-dir\\fR and a local queue by default) and runs the queued "
                "jobs in warm sandboxes (not with \\fB\\-\\-no\\-exec\\fR), until SIGINT or "
                "SIGTERM.",
                CONFIG_SCOPE_SERVE);
}

static void man_worker(FILE *out)
{
    man_command(out, "moat-worker", "run the jobs of a cluster",
                "\\fBmoat worker \\-\\-store\\fR \\fIpostgres://...\\fR \\fB\\-\\-queue\\fR "
                "\\fInats://...\\fR [\\fIsettings\\fR]",
                "Runs the jobs of a cluster (PostgreSQL and NATS JetStream) in warm sandboxes: "
                "takes them from the queue when a box is free and records their results in the "
                "store, until SIGINT or SIGTERM. Answers \\fB/healthz\\fR, \\fB/readyz\\fR and "
                "\\fB/metrics\\fR on \\fB\\-\\-listen\\fR.",
                CONFIG_SCOPE_SERVE);
}

static const struct {
    const char *file;
    void (*print)(FILE *);
} pages[] = {
    {"moat.ini.5", man_ini},
    {"moat-run.1", man_run},
    {"moat-serve.1", man_serve},
    {"moat-worker.1", man_worker},
};

int config_print_man(FILE *out, const char *file)
{
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(pages); i++) {
        if (strcmp(pages[i].file, file) == 0) {
            pages[i].print(out);
            return 0;
        }
    }
    return -ENOENT;
}

const char *config_man_page(size_t i)
{
    return i < MOAT_ARRAY_SIZE(pages) ? pages[i].file : NULL;
}
