/*
 * The table as people read it: --help, docs/configuration.md and
 * moat.ini.example are all printed from config_settings, so they cannot
 * disagree with what the parser accepts (a unit test compares the checked-in
 * files with this output).
 */
#include "config-internal.h"

/* Columns of --help; a field longer than this just pushes the line. */
struct help_widths {
    int flag, env, def, range;
};

static int width_of(const char *s)
{
    size_t n = strlen(s);
    return n > 64 ? 64 : (int)n;
}

static void help_measure(unsigned scope, struct help_widths *w)
{
    char def[300], range[96];
    *w = (struct help_widths){.flag = 4, .env = 11, .def = 7, .range = 5};
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (!(s->scope & scope))
            continue;
        config_format_default(s, def, sizeof(def));
        config_format_range(s, range, sizeof(range));
        int f = width_of(s->flag) + 2;
        if (f > w->flag)
            w->flag = f;
        if (width_of(s->env) > w->env)
            w->env = width_of(s->env);
        if (width_of(def) > w->def)
            w->def = width_of(def);
        if (width_of(range) > w->range)
            w->range = width_of(range);
    }
}

void config_print_help(FILE *out, unsigned scope)
{
    struct help_widths w;
    char def[300], range[96], flag[80];

    help_measure(scope, &w);
    (void)fprintf(out, "settings (moat.ini < MOAT_* environment < flags):\n");
    (void)fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", w.flag, "FLAG", w.env, "ENVIRONMENT",
                  w.def, "DEFAULT", w.range, "RANGE", "DESCRIPTION");
    for (size_t k = 0; k < config_n_sections; k++) {
        const struct config_section *sec = &config_sections[k];
        bool header = false;
        for (size_t i = 0; i < config_n_settings; i++) {
            const struct config_setting *s = &config_settings[i];
            if (!(s->scope & scope) || strcmp(s->section, sec->name) != 0)
                continue;
            if (!header) {
                (void)fprintf(out, " [%s] %s\n", sec->name, sec->title);
                header = true;
            }
            (void)snprintf(flag, sizeof(flag), "--%s", s->flag);
            config_format_default(s, def, sizeof(def));
            config_format_range(s, range, sizeof(range));
            (void)fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", w.flag, flag, w.env, s->env, w.def,
                          def, w.range, range, s->description);
        }
    }
}

/* A table cell: '|' would end the cell early. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            (void)fputc('\\', out);
        (void)fputc(*s, out);
    }
}

static const char *scope_text(unsigned scope)
{
    if ((scope & CONFIG_SCOPE_RUN) && (scope & CONFIG_SCOPE_SERVE))
        return "run, serve";
    return scope & CONFIG_SCOPE_RUN ? "run" : "serve";
}

static void md_row(FILE *out, const struct config_setting *s)
{
    char def[300], range[96];
    config_format_default(s, def, sizeof(def));
    config_format_range(s, range, sizeof(range));
    (void)fprintf(out, "| `%s` | `--%s` | `%s` | ", s->name, s->flag, s->env);
    md_cell(out, def);
    (void)fputs(" | ", out);
    md_cell(out, range);
    if (s->type == CONFIG_STRING)
        (void)fprintf(out, ", at most %zu characters", s->size - 1);
    (void)fprintf(out, " | %s | ", scope_text(s->scope));
    md_cell(out, s->description);
    if (s->api_field)
        (void)fprintf(out, " (request field `%s`)", s->api_field);
    (void)fputs(" |\n", out);
}

static const char md_intro[] =
    "# Configuration\n"
    "\n"
    "<!-- Generated from src/config/settings.c by config_print_markdown(); a unit test keeps "
    "it in step. Edit the table, not this file. -->\n"
    "\n"
    "moat takes each setting from the last of these that gives it:\n"
    "\n"
    "1. the built-in default;\n"
    "2. the ini file: the one named by `--config`, else by `$MOAT_CONFIG`, else `./moat.ini` "
    "when there is one;\n"
    "3. the environment variable (`MOAT_*`);\n"
    "4. the command-line flag.\n"
    "\n"
    "The result is checked as a whole before moat starts. A value out of its range, an "
    "unknown section or key in the ini file (named with file and line), a key given twice, or "
    "a default above its maximum (`limits.time_ms` above `max_limits.time_ms`) stops moat with "
    "a message naming the setting. Environment variables starting with `MOAT_` that are not "
    "settings are ignored; a bad value of one that is, is not.\n"
    "\n"
    "Numbers are plain decimal. Booleans are `true`/`false`, `yes`/`no`, `on`/`off` or "
    "`1`/`0`. In the ini file a line holds `[section]` or `key = value` and is at most 197 "
    "characters long; a line starting with `;` or `#` is a comment, as is the rest of a line "
    "after ` ;`. The file must not be writable by every user. `moat.ini.example` lists every "
    "key with its default.\n"
    "\n"
    "The *used by* column says which commands read a setting: `run` is `moat run`, `serve` is "
    "`moat serve` and `moat worker`.\n";

void config_print_markdown(FILE *out)
{
    (void)fputs(md_intro, out);
    for (size_t k = 0; k < config_n_sections; k++) {
        const struct config_section *sec = &config_sections[k];
        (void)fprintf(out, "\n## [%s]: %s\n\n", sec->name, sec->title);
        if (*sec->notes)
            (void)fprintf(out, "%s\n\n", sec->notes);
        (void)fputs("| key | flag | environment | default | range | used by | description |\n"
                    "| --- | --- | --- | --- | --- | --- | --- |\n",
                    out);
        for (size_t i = 0; i < config_n_settings; i++)
            if (strcmp(config_settings[i].section, sec->name) == 0)
                md_row(out, &config_settings[i]);
    }
}

void config_print_ini_example(FILE *out)
{
    char def[300], range[96];

    (void)fputs("; moat.ini: every setting of moat, commented out, with its default.\n"
                "; moat reads the file named by --config, else by $MOAT_CONFIG, else\n"
                "; ./moat.ini; MOAT_* environment variables and flags override it.\n"
                "; Uncomment a line to change it. docs/configuration.md says more.\n",
                out);
    for (size_t k = 0; k < config_n_sections; k++) {
        const struct config_section *sec = &config_sections[k];
        (void)fprintf(out, "\n[%s]\n; %s\n", sec->name, sec->title);
        for (size_t i = 0; i < config_n_settings; i++) {
            const struct config_setting *s = &config_settings[i];
            if (strcmp(s->section, sec->name) != 0)
                continue;
            config_format_range(s, range, sizeof(range));
            (void)fprintf(out, "\n; %s (%s; --%s, %s)\n", s->description, range, s->flag, s->env);
            if (s->type == CONFIG_STRING && !*s->def_text) {
                (void)fprintf(out, ";%s =\n", s->name);
            } else if (s->type == CONFIG_STRING) {
                (void)fprintf(out, ";%s = %s\n", s->name, s->def_text);
            } else {
                config_format_default(s, def, sizeof(def));
                (void)fprintf(out, ";%s = %s\n", s->name, def);
            }
        }
    }
}
