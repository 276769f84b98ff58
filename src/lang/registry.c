/*
 * languages.ini into a registry of struct lang.
 *
 * inih does the tokenizing, through ini_parse_stream with our own line
 * reader, for three reasons:
 *  - the Debian library has a fixed 200-byte line buffer and silently cuts a
 *    longer line in two (the tail then parses as a line of its own); the
 *    reader refuses such a line instead;
 *  - the handler gets no line number; the reader counts lines;
 *  - the handler cannot tell a section header, a repeated key or an indented
 *    continuation line apart; the reader classifies each line the way inih
 *    will, so that empty and repeated sections, duplicate keys and
 *    continuations of long command templates are all recognized.
 * Every value is bounded by its fixed-size field: too long is an error,
 * never a truncation.
 */
#include "lang-internal.h"

#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <stddef.h>
#include <strings.h>
#include <sys/stat.h>

#define LANG_INI_MAX_BYTES (1u << 20)

struct lang_registry {
    struct lang *langs;
    size_t n, cap;
};

enum key_kind {
    K_TEXT,
    K_TEMPLATE,
    K_CLASS_RULE,
    K_ALIASES,
    K_EXTENSIONS,
    K_ENV,
    K_U64,
    K_JUDGE0_IDS,
};

struct key_def {
    const char *name;
    enum key_kind kind;
    size_t off;
    size_t size;
    uint64_t max; /* K_U64 */
};

/* clang-format off */
#define FIELD(f) offsetof(struct lang, f), sizeof(((struct lang *)0)->f)
#define LIMIT(key, f, mx) {key, K_U64, FIELD(compile_limits.f), mx}

/* The maxima are those of the configuration's compile settings. */
static const struct key_def keys[] = {
    {"display", K_TEXT, FIELD(display), 0},
    {"aliases", K_ALIASES, FIELD(aliases), 0},
    {"extensions", K_EXTENSIONS, FIELD(extensions), 0},
    {"source", K_TEXT, FIELD(source), 0},
    {"class_rule", K_CLASS_RULE, FIELD(class_rule), 0},
    {"compile", K_TEMPLATE, FIELD(compile), 0},
    {"run", K_TEMPLATE, FIELD(run), 0},
    {"version", K_TEMPLATE, FIELD(version_cmd), 0},
    {"prepare", K_TEMPLATE, FIELD(prepare), 0},
    {"prepare_output", K_TEXT, FIELD(prepare_output), 0},
    {"env", K_ENV, FIELD(env), 0},
    {"judge0_ids", K_JUDGE0_IDS, FIELD(judge0_ids), LANG_JUDGE0_ID_MAX},
    LIMIT("compile_time_ms", time_ms, 600000),
    LIMIT("compile_wall_time_ms", wall_time_ms, 3600000),
    LIMIT("compile_memory_mb", memory_mb, 65536),
    LIMIT("compile_max_processes", max_processes, 4096),
    LIMIT("compile_max_output_kb", max_output_kb, 1048576),
    LIMIT("compile_max_file_kb", max_file_kb, 4194304),
    LIMIT("compile_max_open_files", max_open_files, 65536),
    LIMIT("compile_stack_kb", stack_kb, 4194304),
    {"min_processes", K_U64, FIELD(min_processes), 4096},
    {"min_memory_mb", K_U64, FIELD(min_memory_mb), 65536},
    {"check", K_TEMPLATE, FIELD(check), 0},
    {"checker", K_TEXT, FIELD(checker), 0},
};
enum { KEY_COUNT = MOAT_ARRAY_SIZE(keys) };
/* clang-format on */
_Static_assert(KEY_COUNT <= 32, "keys are a 32-bit set");

struct parse {
    /* reader */
    const char *text;
    size_t len, pos;
    unsigned lineno;    /* the line inih is handling */
    bool continuation;  /* that line continues the previous key's value */
    bool has_prev_name; /* inih's prev_name is set (a key was read in this section) */
    unsigned sections;  /* section headers read */
    unsigned section_line;
    unsigned handled; /* value of `sections` when the handler last ran */
    /* handler */
    struct lang_registry *reg;
    struct lang *cur;
    unsigned cur_line; /* header line of cur */
    uint32_t seen;     /* keys of cur, bit per keys[] index */
    unsigned key_line[KEY_COUNT];
    bool failed;
    int code;
    struct moat_err *err;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parse *p, unsigned line,
                                                      const char *fmt, ...)
{
    char msg[MOAT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->failed) /* the first error is the one reported */
        return 0;
    p->failed = true;
    p->code = moat_err_field(p->err, -EINVAL, "languages", "line %u: %s", line, msg);
    return 0;
}

static int fail_nomem(struct parse *p)
{
    if (!p->failed) {
        p->failed = true;
        p->code = moat_err_set(p->err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- the line reader ---- */

/* inih's own scan: the first of chars, or an inline comment (';' after
 * whitespace), or the end. */
static const char *ini_find(const char *s, const char *chars)
{
    bool was_space = false;
    while (*s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = lang_is_space(*s);
        s++;
    }
    return s;
}

/* Mirrors what inih's loop will do with this line. */
static void classify(struct parse *p, const char *line)
{
    const char *start = line;
    if (p->lineno == 1 && str_has_prefix(start, "\xEF\xBB\xBF"))
        start += 3;
    while (*start && lang_is_space(*start))
        start++;
    p->continuation = false;
    if (!*start || *start == ';' || *start == '#')
        return;
    if (p->has_prev_name && start > line) {
        p->continuation = true;
        return;
    }
    if (*start == '[') {
        if (*ini_find(start + 1, "]") != ']') {
            (void)fail(p, p->lineno, "section header without ']'");
            return;
        }
        /* a section without keys is invisible to the handler: catch it here */
        if (p->sections > 0 && p->handled != p->sections)
            (void)fail(p, p->section_line, "section has no keys");
        p->sections++;
        p->section_line = p->lineno;
        p->has_prev_name = false;
        return;
    }
    const char *end = ini_find(start, "=:");
    if (*end != '=' && *end != ':') {
        (void)fail(p, p->lineno, "not a [section], key = value or comment line");
        return;
    }
    p->has_prev_name = end > start;
}

static char *reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (p->failed || p->pos >= p->len || num < 2)
        return NULL;
    const char *line = p->text + p->pos;
    size_t rest = p->len - p->pos;
    const char *nl = memchr(line, '\n', rest);
    size_t n = nl ? (size_t)(nl - line) : rest;
    p->lineno++;
    if (n > (size_t)num - 1) {
        (void)fail(p, p->lineno,
                   "line longer than %d bytes (continue a command on an "
                   "indented line)",
                   num - 1);
        return NULL;
    }
    memcpy(str, line, n);
    str[n] = '\0';
    p->pos += nl ? n + 1 : n;
    classify(p, str);
    return p->failed ? NULL : str;
}

/* ---- values ---- */

static bool name_ok(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool char_ok(char c, const char *extra)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr(extra, c));
}

static bool word_chars_ok(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!char_ok(*s, extra))
            return false;
    return true;
}

static size_t trim(const char **s, size_t n)
{
    while (n > 0 && lang_is_space(**s)) {
        (*s)++;
        n--;
    }
    while (n > 0 && lang_is_space((*s)[n - 1]))
        n--;
    return n;
}

/* A comma list into rows of a [LANG_MAX_ALIASES][width] array. */
static int set_list(struct parse *p, const struct key_def *k, const char *value)
{
    size_t width = k->size / LANG_MAX_ALIASES;
    char *rows = (char *)p->cur + k->off;
    size_t *count = k->kind == K_ALIASES ? &p->cur->naliases : &p->cur->nextensions;
    const char *s = value;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *item = s;
        n = trim(&item, n);
        if (n == 0)
            return fail(p, p->lineno, "empty item in '%s'", k->name);
        if (*count >= LANG_MAX_ALIASES)
            return fail(p, p->lineno, "more than %d items in '%s'", LANG_MAX_ALIASES, k->name);
        if (n >= width)
            return fail(p, p->lineno, "item of '%s' longer than %zu bytes", k->name, width - 1);
        char *dst = rows + *count * width;
        memcpy(dst, item, n);
        dst[n] = '\0';
        bool ok = k->kind == K_ALIASES ? word_chars_ok(dst, "_+.#-")
                                       : dst[0] == '.' && word_chars_ok(dst + 1, "_.+-");
        if (!ok)
            return fail(p, p->lineno, "bad item '%s' in '%s'", dst, k->name);
        (*count)++;
        if (!comma)
            return 1;
        s = comma + 1;
    }
}

static int set_env(struct parse *p, const char *value)
{
    struct lang *l = p->cur;
    const char *eq = strchr(value, '=');
    size_t nlen = eq ? (size_t)(eq - value) : 0;
    if (nlen == 0 || !((value[0] >= 'A' && value[0] <= 'Z') ||
                       (value[0] >= 'a' && value[0] <= 'z') || value[0] == '_'))
        return fail(p, p->lineno, "env must be NAME=value");
    for (size_t i = 0; i < nlen; i++) {
        char c = value[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return fail(p, p->lineno, "env name has characters outside [A-Za-z0-9_]");
    }
    for (size_t i = 0; i < l->nenv; i++)
        if (strncmp(l->env[i], value, nlen + 1) == 0)
            return fail(p, p->lineno, "env %.*s is set twice", (int)nlen, value);
    if (l->nenv >= LANG_MAX_ENV)
        return fail(p, p->lineno, "more than %d env entries", LANG_MAX_ENV);
    if (strlen(value) >= sizeof(l->env[0]))
        return fail(p, p->lineno, "env entry longer than %zu bytes", sizeof(l->env[0]) - 1);
    moat_strlcpy(l->env[l->nenv++], value, sizeof(l->env[0]));
    return 1;
}

/* "48, 49, 50": each a number 1..LANG_JUDGE0_ID_MAX, none twice in the
 * section (clashes with earlier sections are checked at its end). */
static int set_judge0_ids(struct parse *p, const struct key_def *k, const char *value)
{
    struct lang *l = p->cur;
    const char *s = value;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *item = s;
        n = trim(&item, n);
        char num[16];
        uint64_t v = 0;
        if (n == 0 || n >= sizeof(num))
            return fail(p, p->lineno, "bad item in '%s'", k->name);
        memcpy(num, item, n);
        num[n] = '\0';
        if (parse_u64(num, 1, k->max, &v) < 0)
            return fail(p, p->lineno, "'%s' items must be numbers from 1 to %" PRIu64, k->name,
                        k->max);
        for (size_t i = 0; i < l->njudge0_ids; i++)
            if (l->judge0_ids[i] == v)
                return fail(p, p->lineno, "judge0 id %" PRIu64 " listed twice", v);
        if (l->njudge0_ids >= LANG_MAX_JUDGE0_IDS)
            return fail(p, p->lineno, "more than %d items in '%s'", LANG_MAX_JUDGE0_IDS, k->name);
        l->judge0_ids[l->njudge0_ids++] = (unsigned)v;
        if (!comma)
            return 1;
        s = comma + 1;
    }
}

static int set_value(struct parse *p, const struct key_def *k, const char *value)
{
    char *field = (char *)p->cur + k->off;
    switch (k->kind) {
    case K_CLASS_RULE:
        if (*value && strcmp(value, "java") != 0)
            return fail(p, p->lineno, "class_rule must be \"java\" or empty");
        break;
    case K_ALIASES:
    case K_EXTENSIONS:
        return set_list(p, k, value);
    case K_ENV:
        return set_env(p, value);
    case K_JUDGE0_IDS:
        return set_judge0_ids(p, k, value);
    case K_U64: {
        uint64_t v = 0;
        if (parse_u64(value, 0, k->max, &v) < 0)
            return fail(p, p->lineno, "'%s' must be a number from 0 to %" PRIu64, k->name, k->max);
        memcpy(field, &v, sizeof(v));
        return 1;
    }
    case K_TEXT:
    case K_TEMPLATE:
        break;
    }
    if (strlen(value) >= k->size)
        return fail(p, p->lineno, "value of '%s' longer than %zu bytes", k->name, k->size - 1);
    moat_strlcpy(field, value, k->size);
    return 1;
}

/* An indented line: inih hands it over as another value of the same key. */
static int continue_value(struct parse *p, const struct key_def *k, const char *value)
{
    if (k->kind != K_TEMPLATE)
        return fail(p, p->lineno, "'%s' cannot continue on an indented line", k->name);
    char *field = (char *)p->cur + k->off;
    size_t have = strlen(field), add = strlen(value);
    if (have + 1 + add >= k->size)
        return fail(p, p->lineno, "value of '%s' longer than %zu bytes", k->name, k->size - 1);
    field[have] = ' ';
    memcpy(field + have + 1, value, add + 1);
    return 1;
}

/* ---- sections ---- */

/* Names and aliases share one namespace; extensions another. word may be
 * an entry of the registry itself, which is not compared with itself; a
 * section's name is checked before it joins the registry, so an alias that
 * repeats its own section's name clashes. */
static const char *name_clash(const struct lang_registry *reg, const char *word, bool ext)
{
    for (size_t i = 0; i < reg->n; i++) {
        const struct lang *o = &reg->langs[i];
        if (ext) {
            for (size_t j = 0; j < o->nextensions; j++)
                if (o->extensions[j] != word && strcasecmp(o->extensions[j], word) == 0)
                    return o->name;
            continue;
        }
        if (strcasecmp(o->name, word) == 0)
            return o->name;
        for (size_t j = 0; j < o->naliases; j++)
            if (o->aliases[j] != word && strcasecmp(o->aliases[j], word) == 0)
                return o->name;
    }
    return NULL;
}

static unsigned line_of(const struct parse *p, const char *key)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp(keys[i].name, key) == 0 && (p->seen & (1u << i)))
            return p->key_line[i];
    return p->cur_line;
}

static bool check_template(struct parse *p, const char *key, const char *tmpl, unsigned allowed,
                           bool host, unsigned *used)
{
    struct moat_err e = {0};
    size_t nwords = 0;
    if (lang_template_check(tmpl, allowed, used, &nwords, &e) < 0)
        return fail(p, line_of(p, key), "%s: %s", key, e.msg), false;
    if (nwords == 0)
        return fail(p, line_of(p, key), "%s is empty", key), false;
    char first[256];
    if (lang_first_word(tmpl, first, sizeof(first)) < 0)
        return fail(p, line_of(p, key), "%s: first word too long", key), false;
    bool ok = first[0] == '/' || (!host && str_has_prefix(first, "./"));
    if (!ok || strchr(first, '{'))
        return fail(p, line_of(p, key), "%s must start with an absolute path%s", key,
                    host ? "" : " or ./"),
               false;
    return true;
}

static bool check_path(const char *s)
{
    if (!*s || *s == '/')
        return false;
    for (const char *c = s; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!char_ok(c[i], "_.+-"))
                return false;
        c += n;
        if (*c == '/')
            c++;
        else
            break;
    }
    return s[strlen(s) - 1] != '/';
}

static bool check_commands(struct parse *p, struct lang *l)
{
    unsigned used = 0;
    if (!*l->run)
        return fail(p, p->cur_line, "[%s] has no run command", l->name), false;
    if (!check_template(p, "run", l->run, LANG_PH_STEP, false, &used))
        return false;
    if (*l->compile && !check_template(p, "compile", l->compile, LANG_PH_STEP, false, &used))
        return false;
    if (*l->version_cmd && !check_template(p, "version", l->version_cmd, 0, true, &used))
        return false;
    if (*l->check || *l->checker) {
        if (!*l->check || !*l->checker)
            return fail(p, p->cur_line, "[%s] needs both check and checker", l->name), false;
        if (!check_template(p, "check", l->check, 0, false, &used))
            return false;
        if (!lang_checker_known(l->checker))
            return fail(p, line_of(p, "checker"), "checker: no checker named %s", l->checker),
                   false;
    }
    if (*l->prepare || *l->prepare_output) {
        if (!*l->prepare || !*l->prepare_output)
            return fail(p, p->cur_line, "[%s] needs both prepare and prepare_output", l->name),
                   false;
        if (!check_template(p, "prepare", l->prepare, LANG_PH_CACHE | LANG_PH_OUTPUT, true, &used))
            return false;
        if (!(used & LANG_PH_OUTPUT))
            return fail(p, line_of(p, "prepare"), "prepare must write to {output}"), false;
        if (!check_path(l->prepare_output))
            return fail(p, line_of(p, "prepare_output"),
                        "prepare_output must be a relative path of [A-Za-z0-9_.+-] names"),
                   false;
    }
    return true;
}

static bool check_source(struct parse *p, struct lang *l)
{
    unsigned used = 0;
    size_t nwords = 0;
    struct moat_err e = {0};
    if (!*l->source)
        return fail(p, p->cur_line, "[%s] has no source", l->name), false;
    if (lang_template_check(l->source, LANG_PH_CLASS, &used, &nwords, &e) < 0)
        return fail(p, line_of(p, "source"), "source: %s", e.msg), false;
    char lit[sizeof(l->source)];
    size_t n = 0;
    for (const char *s = l->source; *s;)
        if (str_has_prefix(s, "{class}"))
            s += 7;
        else
            lit[n++] = *s++;
    lit[n] = '\0';
    if (n > 0 && !word_chars_ok(lit, "_.-"))
        return fail(p, line_of(p, "source"), "source has characters outside [A-Za-z0-9_.-]"), false;
    if ((used & LANG_PH_CLASS) && strcmp(l->class_rule, "java") != 0)
        return fail(p, line_of(p, "source"), "source uses {class} without class_rule"), false;
    return true;
}

/* Checks the section just read as a whole and against earlier ones. */
static int finish_section(struct parse *p)
{
    struct lang *l = p->cur;
    if (!l || p->failed)
        return 0;
    if (!*l->display)
        moat_strlcpy(l->display, l->name, sizeof(l->display));
    if (!check_commands(p, l) || !check_source(p, l))
        return 0;
    for (size_t i = 0; i < l->naliases; i++) {
        const char *o = name_clash(p->reg, l->aliases[i], false);
        if (o)
            return fail(p, line_of(p, "aliases"), "alias '%s' is also a name or alias of [%s]",
                        l->aliases[i], o);
    }
    for (size_t i = 0; i < l->njudge0_ids; i++) {
        const struct lang *o = lang_find_judge0(p->reg, l->judge0_ids[i]);
        if (o && o != l)
            return fail(p, line_of(p, "judge0_ids"), "judge0 id %u is also one of [%s]",
                        l->judge0_ids[i], o->name);
    }
    for (size_t i = 0; i < l->nextensions; i++) {
        const char *o = name_clash(p->reg, l->extensions[i], true);
        if (o)
            return fail(p, line_of(p, "extensions"), "extension '%s' is also one of [%s]",
                        l->extensions[i], o);
    }
    return 1;
}

static int start_section(struct parse *p, const char *section)
{
    if (finish_section(p) == 0 && p->failed)
        return 0;
    p->cur = NULL;
    if (strlen(section) >= sizeof(p->cur->name) || !name_ok(section))
        return fail(p, p->section_line, "section name must be 1-%zu characters of [a-z0-9_-]",
                    sizeof(p->cur->name) - 1);
    const char *o = name_clash(p->reg, section, false);
    if (o)
        return fail(p, p->section_line, "[%s] is defined twice or is an alias of [%s]", section, o);
    struct lang_registry *reg = p->reg;
    if (reg->n == LANG_MAX_LANGS)
        return fail(p, p->section_line, "more than %d languages", LANG_MAX_LANGS);
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        struct lang *n = reallocarray(reg->langs, cap, sizeof(*n));
        if (!n)
            return fail_nomem(p);
        reg->langs = n;
        reg->cap = cap;
    }
    p->cur = &reg->langs[reg->n++];
    memset(p->cur, 0, sizeof(*p->cur));
    moat_strlcpy(p->cur->name, section, sizeof(p->cur->name));
    p->cur_line = p->section_line;
    p->seen = 0;
    return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    if (p->failed)
        return 0;
    if (p->sections == 0)
        return fail(p, p->lineno, "key '%.40s' outside a section", name);
    if (p->handled != p->sections) {
        p->handled = p->sections;
        if (!start_section(p, section))
            return 0;
    }
    size_t i = 0;
    while (i < KEY_COUNT && strcmp(keys[i].name, name) != 0)
        i++;
    if (i == KEY_COUNT)
        return fail(p, p->lineno, "unknown key '%.40s' in [%s]", name, p->cur->name);
    const struct key_def *k = &keys[i];
    if (p->continuation)
        return continue_value(p, k, value);
    if ((p->seen & (1u << i)) && k->kind != K_ENV)
        return fail(p, p->lineno, "duplicate key '%s' in [%s]", name, p->cur->name);
    p->seen |= 1u << i;
    p->key_line[i] = p->lineno;
    return set_value(p, k, value);
}

int lang_registry_parse(const char *text, size_t len, struct lang_registry **out,
                        struct moat_err *err)
{
    if (len > LANG_INI_MAX_BYTES)
        return moat_err_set(err, -EFBIG, "languages.ini larger than %u bytes", LANG_INI_MAX_BYTES);
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul)
        return moat_err_set(err, -EINVAL, "NUL byte at offset %zu", (size_t)(nul - text));
    struct lang_registry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return moat_err_set(err, -ENOMEM, "out of memory");
    struct parse p = {.text = text, .len = len, .reg = reg, .err = err};
    int r = ini_parse_stream(reader, &p, handler, &p);
    if (!p.failed && r == -2)
        (void)fail_nomem(&p);
    else if (!p.failed && r != 0)
        (void)fail(&p, (unsigned)r, "not a [section], key = value or comment line");
    if (!p.failed && p.sections > 0 && p.handled != p.sections)
        (void)fail(&p, p.section_line, "section has no keys");
    if (!p.failed)
        (void)finish_section(&p);
    if (!p.failed && reg->n == 0)
        (void)fail(&p, p.lineno, "no language defined");
    if (p.failed) {
        lang_registry_free(reg);
        return p.code;
    }
    *out = reg;
    return 0;
}

int lang_registry_load(const char *path, struct lang_registry **out, struct moat_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return moat_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        return moat_err_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return moat_err_set(err, -EINVAL, "'%s' is not a regular file", path);
    if (st.st_size > (off_t)LANG_INI_MAX_BYTES)
        return moat_err_set(err, -EFBIG, "'%s' is larger than %u bytes", path, LANG_INI_MAX_BYTES);
    size_t len = (size_t)st.st_size;
    _cleanup_free_ char *text = malloc(len + 1);
    if (!text)
        return moat_err_set(err, -ENOMEM, "out of memory");
    int r = read_full(fd, text, len);
    if (r < 0)
        return moat_err_set(err, r, "cannot read '%s': %s", path, strerror(-r));
    r = lang_registry_parse(text, len, out, err);
    if (r < 0 && err) {
        char msg[MOAT_ERR_MAX], field[sizeof(err->field)];
        moat_strlcpy(msg, err->msg, sizeof(msg));
        moat_strlcpy(field, err->field, sizeof(field));
        (void)moat_err_field(err, r, field, "%s: %s", path, msg);
    }
    return r;
}

void lang_registry_free(struct lang_registry *reg)
{
    if (!reg)
        return;
    free(reg->langs);
    free(reg);
}

size_t lang_count(const struct lang_registry *reg) { return reg->n; }

struct lang *lang_at_mut(struct lang_registry *reg, size_t i)
{
    return i < reg->n ? &reg->langs[i] : NULL;
}

const struct lang *lang_at(const struct lang_registry *reg, size_t i)
{
    return i < reg->n ? &reg->langs[i] : NULL;
}

const struct lang *lang_find(const struct lang_registry *reg, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < reg->n; i++) {
        const struct lang *l = &reg->langs[i];
        if (strcasecmp(l->name, name) == 0)
            return l;
        for (size_t j = 0; j < l->naliases; j++)
            if (strcasecmp(l->aliases[j], name) == 0)
                return l;
    }
    return NULL;
}

const struct lang *lang_find_judge0(const struct lang_registry *reg, unsigned id)
{
    for (size_t i = 0; i < reg->n; i++)
        for (size_t j = 0; j < reg->langs[i].njudge0_ids; j++)
            if (reg->langs[i].judge0_ids[j] == id)
                return &reg->langs[i];
    return NULL;
}

const struct lang *lang_for_file(const struct lang_registry *reg, const char *filename)
{
    if (!filename)
        return NULL;
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    size_t blen = strlen(base), best_len = 0;
    const struct lang *best = NULL;
    for (size_t i = 0; i < reg->n; i++) {
        const struct lang *l = &reg->langs[i];
        for (size_t j = 0; j < l->nextensions; j++) {
            size_t elen = strlen(l->extensions[j]);
            if (blen > elen && elen > best_len &&
                strcasecmp(base + blen - elen, l->extensions[j]) == 0) {
                best = l;
                best_len = elen;
            }
        }
    }
    return best;
}

void lang_registry_probe(struct lang_registry *reg, const char *cache_dir)
{
    for (size_t i = 0; i < reg->n; i++) {
        struct lang *l = &reg->langs[i];
        l->version_probed = false;
        l->version[0] = '\0';
        l->available = lang_available(l);
        if (l->available)
            (void)lang_version(l, cache_dir, l->version, sizeof(l->version));
        l->version_probed = true;
    }
}
