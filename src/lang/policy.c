/*
 * Source policies: what a language's check step refuses before a program
 * runs (forbidden imports, calls, includes). The policy file says which
 * rules apply to which language; the checker (built into moat, checkers/)
 * applies them inside a box, with the language's own parser. The policy
 * is a courtesy to the people who submit code, never a boundary: what it
 * forbids, the sandbox contains anyway.
 */
#include "lang-internal.h"

#include <fcntl.h>
#include <ini.h>

/* The rules each checker knows (their code: checkers.c). */
static const struct {
    const char *name;
    const char *rules[4];
} checkers[] = {
    {"python", {"forbid_imports", "forbid_calls", "forbid_attributes", NULL}},
    {"c", {"forbid_includes", NULL, NULL, NULL}},
};

#define POLICY_FILE_MAX (64u << 10)

static int checker_index(const char *name)
{
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(checkers); i++)
        if (strcmp(checkers[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool lang_checker_known(const char *name)
{
    return checker_index(name) >= 0;
}

struct policy_parse {
    struct lang_registry *reg;
    int code;          /* the first error, with: */
    const char *why;   /* static */
    char section[64], key[64];
};

/* A rule's value: names of [A-Za-z0-9_./+-] separated by commas. */
static bool value_ok(const char *v)
{
    size_t words = 0;
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ',' || c == ' ')
            continue;
        if (!(c == '_' || c == '.' || c == '/' || c == '+' || c == '-' || (c >= '0' && c <= '9') ||
              ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return false;
        if (p == v || p[-1] == ',' || p[-1] == ' ')
            words++;
    }
    return words > 0;
}

static int on_rule(void *user, const char *section, const char *key, const char *value)
{
    struct policy_parse *pp = user;
    if (pp->code < 0)
        return 0;
    moat_strlcpy(pp->section, section, sizeof(pp->section));
    moat_strlcpy(pp->key, key, sizeof(pp->key));
    struct lang *l = NULL;
    for (size_t i = 0; i < lang_count(pp->reg) && !l; i++) {
        struct lang *c = lang_at_mut(pp->reg, i);
        if (strcmp(c->name, section) == 0)
            l = c;
    }
    const char *why = NULL;
    int k = l ? checker_index(l->checker) : -1;
    bool known = false;
    for (size_t r = 0; k >= 0 && r < MOAT_ARRAY_SIZE(checkers[k].rules) && checkers[k].rules[r];
         r++)
        known |= strcmp(checkers[k].rules[r], key) == 0;
    if (!l)
        why = "no such language";
    else if (k < 0)
        why = "the language has no policy check";
    else if (!known)
        why = "not a rule of this language's checker";
    else if (!value_ok(value))
        why = "the value must be names separated by commas";
    if (why) {
        pp->code = -EINVAL;
        pp->why = why;
        return 0; /* ini_parse_string answers with the line */
    }
    size_t len = strlen(l->policy);
    int n = snprintf(l->policy + len, sizeof(l->policy) - len, "%s=%s\n", key, value);
    if (n < 0 || (size_t)n >= sizeof(l->policy) - len) {
        pp->code = -E2BIG;
        pp->why = "the language's rules are too long";
        return 0;
    }
    return 1;
}

int lang_registry_load_policy(struct lang_registry *reg, const char *path, struct moat_err *err)
{
    char *text = malloc(POLICY_FILE_MAX + 1);
    if (!text)
        return moat_err_set(err, -ENOMEM, "out of memory");
    ssize_t n = read_small_file_at(AT_FDCWD, path, text, POLICY_FILE_MAX + 1);
    if (n < 0 || (size_t)n >= POLICY_FILE_MAX) {
        free(text);
        int r = n < 0 ? (int)n : -EFBIG;
        return moat_err_set(err, r, "policy file %s: %s", path, strerror(-r));
    }
    struct policy_parse pp = {.reg = reg};
    int line = ini_parse_string(text, on_rule, &pp);
    free(text);
    if (pp.code < 0)
        return moat_err_field(err, pp.code, pp.key, "policy file %s, line %d: [%s] %s: %s", path,
                              line, pp.section, pp.key, pp.why);
    if (line != 0)
        return moat_err_set(err, -EINVAL, "policy file %s: line %d is not [section] or key = value",
                            path, line);
    return 0;
}

int lang_policy_stdin(const char *const *names, const char *const *data, const size_t *lens,
                      size_t n, char **out, size_t *outlen)
{
    struct buf b;
    buf_init(&b, 1u << 30);
    for (size_t i = 0; i < n; i++) {
        char head[300];
        int h = snprintf(head, sizeof(head), "%s\n%zu\n", names[i], lens[i]);
        if (h < 0 || (size_t)h >= sizeof(head) || buf_append(&b, head, (size_t)h) < 0 ||
            buf_append(&b, data[i], lens[i]) < 0) {
            buf_release(&b);
            return h < 0 || (size_t)h >= sizeof(head) ? -E2BIG : -ENOMEM;
        }
    }
    *out = buf_steal(&b, outlen);
    return *out || n == 0 ? 0 : -ENOMEM;
}
