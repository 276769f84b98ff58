/*
 * Command templates and entry file names.
 *
 * A template is split on ASCII whitespace into argv words and never reaches a
 * shell, so a value can never become a second word or a command: each
 * placeholder expands inside its own word, except {files}, which stands alone
 * and becomes one word per file. Values that start with '-' are refused for
 * the user-named placeholders ({main}, {files}, {class}): a file called
 * "-fplugin=x.so" would otherwise be an option to the compiler.
 */
#include "lang-internal.h"

#include <inttypes.h>
#include <strings.h>

struct ph_def {
    const char *name;
    unsigned bit;
};

static const struct ph_def ph_defs[] = {
    {"main", LANG_PH_MAIN},        {"files", LANG_PH_FILES}, {"class", LANG_PH_CLASS},
    {"memory_mb", LANG_PH_MEMORY}, {"cache", LANG_PH_CACHE}, {"output", LANG_PH_OUTPUT},
};

/* Matches a placeholder at p (which points at '{') within [p, end). On
 * success *bit is its flag and *len its length including the braces. */
static int ph_parse(const char *p, const char *end, unsigned *bit, size_t *len)
{
    const char *close = memchr(p, '}', (size_t)(end - p));
    if (!close)
        return -EINVAL;
    size_t n = (size_t)(close - p - 1);
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(ph_defs); i++) {
        if (strlen(ph_defs[i].name) == n && memcmp(p + 1, ph_defs[i].name, n) == 0) {
            *bit = ph_defs[i].bit;
            *len = n + 2;
            return 0;
        }
    }
    return -EINVAL;
}

static const char *ph_name(unsigned bit)
{
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(ph_defs); i++)
        if (ph_defs[i].bit == bit)
            return ph_defs[i].name;
    return "?";
}

/* State of one walk over a template; out == NULL means check only. */
struct walk {
    const struct lang_vars *vars;
    unsigned allowed;
    unsigned used;
    struct buf *out;
    size_t offs[LANG_MAX_ARGV];
    size_t nwords;
    char num[24];
    struct moat_err *err;
};

/* A value the user names (a file, a class) must be a plain word. */
static int user_value(struct walk *w, const char *v, unsigned bit)
{
    if (!v || !*v)
        return moat_err_set(w->err, -EINVAL, "placeholder {%s} has no value", ph_name(bit));
    if (v[0] == '-')
        return moat_err_set(w->err, -EINVAL, "value of {%s} starts with '-'", ph_name(bit));
    return 0;
}

/* The value of a placeholder other than {files}, or an error. */
static int ph_value(struct walk *w, unsigned bit, const char **val)
{
    const struct lang_vars *v = w->vars;
    int r = 0;
    switch (bit) {
    case LANG_PH_MAIN:
        r = user_value(w, v->main, bit);
        *val = v->main;
        break;
    case LANG_PH_CLASS:
        r = user_value(w, v->class_name, bit);
        *val = v->class_name;
        break;
    case LANG_PH_MEMORY:
        (void)snprintf(w->num, sizeof(w->num), "%" PRIu64, v->memory_mb);
        *val = w->num;
        break;
    case LANG_PH_CACHE:
        *val = v->cache ? v->cache : LANG_BOX_CACHE_DIR;
        break;
    case LANG_PH_OUTPUT:
        if (!v->output || !*v->output)
            r = moat_err_set(w->err, -EINVAL, "placeholder {output} has no value");
        *val = v->output;
        break;
    default:
        r = moat_err_set(w->err, -EINVAL, "placeholder {%s} in a word", ph_name(bit));
        break;
    }
    return r;
}

static int walk_append(struct walk *w, const char *s, size_t n)
{
    int r = buf_append(w->out, s, n);
    if (r == -ENOBUFS)
        return moat_err_set(w->err, -E2BIG, "command longer than %d bytes", LANG_MAX_ARGV_BYTES);
    return r;
}

/* Starts a word: counts it and records where its bytes begin. */
static int walk_word_start(struct walk *w)
{
    if (w->nwords >= LANG_MAX_ARGV)
        return moat_err_set(w->err, -E2BIG, "command has more than %d words", LANG_MAX_ARGV);
    if (w->out)
        w->offs[w->nwords] = w->out->len;
    w->nwords++;
    return 0;
}

static int walk_files(struct walk *w)
{
    if (!(w->allowed & LANG_PH_FILES))
        return moat_err_set(w->err, -EINVAL, "placeholder {files} is not allowed here");
    w->used |= LANG_PH_FILES;
    if (!w->out) /* checking: {files} counts as one word */
        return walk_word_start(w);
    for (size_t i = 0; i < w->vars->nfiles; i++) {
        const char *f = w->vars->files ? w->vars->files[i] : NULL;
        int r = user_value(w, f, LANG_PH_FILES);
        if (r < 0)
            return r;
        if ((r = walk_word_start(w)) < 0 || (r = walk_append(w, f, strlen(f) + 1)) < 0)
            return r;
    }
    return 0;
}

static int walk_word(struct walk *w, const char *p, const char *end)
{
    if ((size_t)(end - p) == 7 && memcmp(p, "{files}", 7) == 0)
        return walk_files(w);
    int r = walk_word_start(w);
    if (r < 0)
        return r;
    while (p < end) {
        const char *brace = memchr(p, '{', (size_t)(end - p));
        const char *lit_end = brace ? brace : end;
        if (w->out && lit_end > p && (r = walk_append(w, p, (size_t)(lit_end - p))) < 0)
            return r;
        if (!brace)
            break;
        unsigned bit = 0;
        size_t len = 0;
        if (ph_parse(brace, end, &bit, &len) < 0) {
            const char *close = memchr(brace, '}', (size_t)(end - brace));
            int n = close ? (int)(close - brace + 1) : (int)(end - brace);
            if (n > 40)
                n = 40;
            return moat_err_set(w->err, -EINVAL, "unknown placeholder '%.*s'", n, brace);
        }
        if (bit == LANG_PH_FILES)
            return moat_err_set(w->err, -EINVAL, "{files} must be a word of its own");
        if (!(w->allowed & bit))
            return moat_err_set(w->err, -EINVAL, "placeholder {%s} is not allowed here",
                                ph_name(bit));
        w->used |= bit;
        if (w->out) {
            const char *val = NULL;
            if ((r = ph_value(w, bit, &val)) < 0)
                return r;
            if (!val) /* ph_value sets an error for every missing value */
                return -EINVAL;
            if ((r = walk_append(w, val, strlen(val))) < 0)
                return r;
        }
        p = brace + len;
    }
    return w->out ? walk_append(w, "", 1) : 0;
}

static int walk_template(struct walk *w, const char *tmpl)
{
    const char *p = tmpl;
    for (;;) {
        while (*p && lang_is_space(*p))
            p++;
        if (!*p)
            return 0;
        const char *start = p;
        while (*p && !lang_is_space(*p))
            p++;
        int r = walk_word(w, start, p);
        if (r < 0)
            return r;
    }
}

int lang_template_check(const char *tmpl, unsigned allowed, unsigned *used, size_t *nwords,
                        struct moat_err *err)
{
    struct walk w = {.allowed = allowed, .err = err};
    int r = walk_template(&w, tmpl);
    if (r < 0)
        return r == -E2BIG ? -EINVAL : r;
    *used = w.used;
    *nwords = w.nwords;
    return 0;
}

int lang_expand_allowed(const char *tmpl, const struct lang_vars *vars, unsigned allowed,
                        char ***argv_out, char **storage, struct moat_err *err)
{
    struct buf b;
    buf_init(&b, LANG_MAX_ARGV_BYTES);
    struct walk w = {.vars = vars, .allowed = allowed, .out = &b, .err = err};
    int r = walk_template(&w, tmpl);
    if (r >= 0 && w.nwords == 0)
        r = moat_err_set(err, -EINVAL, "empty command");
    if (r < 0) {
        buf_release(&b);
        return r;
    }
    size_t ptrs = (w.nwords + 1) * sizeof(char *);
    char *block = malloc(ptrs + b.len);
    if (!block) {
        buf_release(&b);
        return moat_err_set(err, -ENOMEM, "out of memory");
    }
    char **argv = (char **)(void *)block;
    char *words = block + ptrs;
    memcpy(words, b.data, b.len);
    for (size_t i = 0; i < w.nwords; i++)
        argv[i] = words + w.offs[i];
    argv[w.nwords] = NULL;
    buf_release(&b);
    *argv_out = argv;
    *storage = block;
    return (int)w.nwords;
}

int lang_expand(const char *tmpl, const struct lang_vars *vars, char ***argv_out, char **storage,
                struct moat_err *err)
{
    static const struct lang_vars none = {0};
    return lang_expand_allowed(tmpl, vars ? vars : &none, LANG_PH_STEP | LANG_PH_OUTPUT, argv_out,
                               storage, err);
}

int lang_first_word(const char *tmpl, char *out, size_t outsz)
{
    const char *p = tmpl;
    while (*p && lang_is_space(*p))
        p++;
    size_t n = 0;
    while (p[n] && !lang_is_space(p[n]))
        n++;
    if (n == 0)
        return -EINVAL;
    if (n >= outsz)
        return -ENAMETOOLONG;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* ---- Java: which class names the entry file ---- */

struct jscan {
    const char *p, *end;
};

enum jtok { JT_END, JT_IDENT, JT_PUNCT, JT_OTHER };

static bool j_ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$' || c >= 0x80;
}

static bool j_ident_char(unsigned char c) { return j_ident_start(c) || (c >= '0' && c <= '9'); }

/* Skips a quoted literal starting at s->p (a quote); text blocks included.
 * An unterminated literal runs to the end of the input (or line). */
static void j_skip_literal(struct jscan *s)
{
    char q = *s->p;
    bool block = q == '"' && s->end - s->p >= 3 && s->p[1] == '"' && s->p[2] == '"';
    s->p += block ? 3 : 1;
    while (s->p < s->end) {
        char c = *s->p;
        if (c == '\\') {
            s->p += s->end - s->p >= 2 ? 2 : 1;
            continue;
        }
        if (block) {
            if (c == '"' && s->end - s->p >= 3 && s->p[1] == '"' && s->p[2] == '"') {
                s->p += 3;
                return;
            }
        } else if (c == q) {
            s->p++;
            return;
        } else if (c == '\n') {
            return;
        }
        s->p++;
    }
}

/* Skips whitespace and comments; false at the end. */
static bool j_skip_blank(struct jscan *s)
{
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (lang_is_space((char)c)) {
            s->p++;
        } else if (c == '/' && s->end - s->p >= 2 && s->p[1] == '/') {
            const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
            s->p = nl ? nl : s->end;
        } else if (c == '/' && s->end - s->p >= 2 && s->p[1] == '*') {
            const char *q = s->p + 2;
            while (q < s->end && !(*q == '*' && s->end - q >= 2 && q[1] == '/'))
                q++;
            s->p = q < s->end ? q + 2 : s->end;
        } else {
            return true;
        }
    }
    return false;
}

/* Next token: identifiers and single punctuation characters matter; literals
 * and numbers come back as JT_OTHER. */
static enum jtok j_next(struct jscan *s, const char **tok, size_t *len)
{
    if (!j_skip_blank(s))
        return JT_END;
    const char *start = s->p;
    unsigned char c = (unsigned char)*s->p;
    *tok = start;
    if (c == '"' || c == '\'') {
        j_skip_literal(s);
        *len = (size_t)(s->p - start);
        return JT_OTHER;
    }
    if (j_ident_start(c) || (c >= '0' && c <= '9')) {
        while (s->p < s->end && j_ident_char((unsigned char)*s->p))
            s->p++;
        *len = (size_t)(s->p - start);
        return (c >= '0' && c <= '9') ? JT_OTHER : JT_IDENT;
    }
    s->p++;
    *len = 1;
    return JT_PUNCT;
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(tok, word, len) == 0;
}

static bool j_type_keyword(const char *tok, size_t len)
{
    return tok_is(tok, len, "class") || tok_is(tok, len, "interface") || tok_is(tok, len, "enum") ||
           tok_is(tok, len, "record");
}

/*
 * Finds the class name: walks the tokens at brace depth 0 (nested types do
 * not name the file) outside parentheses (annotation arguments such as
 * `@A(X.class)`), remembering whether `public` was seen in the current
 * declaration, which ends at ';', '{' or '}'.
 */
static void j_find(const char *code, size_t len, const char **name, size_t *nlen)
{
    struct jscan s = {code, code + len};
    const char *first = NULL, *tok = NULL;
    size_t first_len = 0, tlen = 0;
    size_t depth = 0, parens = 0;
    bool is_public = false, want_name = false;
    enum jtok t;
    while ((t = j_next(&s, &tok, &tlen)) != JT_END) {
        bool top = depth == 0 && parens == 0;
        if (want_name) {
            want_name = false;
            if (t == JT_IDENT && top) {
                if (is_public) {
                    *name = tok;
                    *nlen = tlen;
                    return;
                }
                if (!first) {
                    first = tok;
                    first_len = tlen;
                }
                continue;
            }
        }
        if (t == JT_PUNCT) {
            switch (*tok) {
            case '{':
                depth++;
                is_public = false;
                break;
            case '}':
                if (depth > 0)
                    depth--;
                is_public = false;
                break;
            case ';':
                if (depth == 0)
                    is_public = false;
                break;
            case '(':
                if (depth == 0)
                    parens++;
                break;
            case ')':
                if (depth == 0 && parens > 0)
                    parens--;
                break;
            default:
                break;
            }
        } else if (t == JT_IDENT && top) {
            if (tok_is(tok, tlen, "public"))
                is_public = true;
            else if (j_type_keyword(tok, tlen))
                want_name = true;
        }
    }
    *name = first ? first : "Main";
    *nlen = first ? first_len : 4;
}

int lang_java_class(const char *code, size_t len, char *out, size_t outsz, struct moat_err *err)
{
    const char *name = NULL;
    size_t n = 0;
    j_find(code ? code : "", code ? len : 0, &name, &n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
              (c >= 'a' && c <= 'z')))
            return moat_err_set(err, -EINVAL, "class name has characters other than [A-Za-z0-9_]");
    }
    if (n >= outsz)
        return moat_err_set(err, -ENAMETOOLONG, "class name longer than %zu bytes",
                            outsz ? outsz - 1 : 0);
    memcpy(out, name, n);
    out[n] = '\0';
    return 0;
}

static bool entry_char_ok(unsigned char c)
{
    return c == '_' || c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

int lang_entry_name(const struct lang *l, const char *code, size_t len, char *out, size_t outsz,
                    struct moat_err *err)
{
    char cls[128] = "";
    bool has_class = strstr(l->source, "{class}") != NULL;
    if (has_class) {
        if (strcmp(l->class_rule, "java") != 0)
            return moat_err_set(err, -EINVAL, "language '%s' has no class rule", l->name);
        int r = lang_java_class(code, len, cls, sizeof(cls), err);
        if (r < 0)
            return r;
    }
    struct buf b;
    buf_init(&b, outsz ? outsz - 1 : 0);
    int r = 0;
    for (const char *p = l->source; *p && r >= 0;) {
        if (has_class && str_has_prefix(p, "{class}")) {
            r = buf_append(&b, cls, strlen(cls));
            p += 7;
        } else {
            r = buf_append(&b, p, 1);
            p++;
        }
    }
    if (r >= 0)
        r = buf_terminate(&b);
    if (r == -ENOBUFS)
        r = moat_err_set(err, -ENAMETOOLONG, "entry file name longer than %zu bytes",
                         outsz ? outsz - 1 : 0);
    else if (r < 0)
        r = moat_err_set(err, r, "out of memory");
    else if (b.len == 0 || strcmp(b.data, ".") == 0 || strcmp(b.data, "..") == 0)
        r = moat_err_set(err, -EINVAL, "entry file name is empty");
    for (size_t i = 0; r >= 0 && i < b.len; i++)
        if (!entry_char_ok((unsigned char)b.data[i]))
            r = moat_err_set(err, -EINVAL, "entry file name has characters outside [A-Za-z0-9_.-]");
    if (r >= 0)
        memcpy(out, b.data, b.len + 1);
    buf_release(&b);
    return r;
}
