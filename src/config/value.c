/*
 * One setting's value: parsing it from text, checking it against the table,
 * formatting its default and range. Every path that puts a value into a
 * struct moat_config (ini, environment, flags) comes through here, and
 * config_validate re-checks with the same code, so the rules cannot differ
 * between sources.
 */
#include "config-internal.h"

#include <ctype.h>

static uint64_t *u64_at(struct moat_config *cfg, const struct config_setting *s)
{
    return (uint64_t *)(void *)((char *)cfg + s->offset);
}

static bool *bool_at(struct moat_config *cfg, const struct config_setting *s)
{
    return (bool *)(void *)((char *)cfg + s->offset);
}

static char *text_at(struct moat_config *cfg, const struct config_setting *s)
{
    return (char *)cfg + s->offset;
}

uint64_t config_setting_u64(const struct config_setting *s, const struct moat_config *cfg)
{
    MOAT_ASSERT(s->type == CONFIG_U64);
    return *(const uint64_t *)(const void *)((const char *)cfg + s->offset);
}

static const char *text_of(const struct moat_config *cfg, const struct config_setting *s)
{
    return (const char *)cfg + s->offset;
}

/* A value as it may appear in a message: at most 48 bytes, printable ASCII
 * only, so that a hostile value cannot forge log lines or terminal escapes. */
static void quote_value(const char *value, char *out, size_t outsz)
{
    size_t n = 0, i = 0;
    MOAT_ASSERT(outsz >= 52);
    for (; i < 48 && value[i]; i++)
        out[n++] = isprint((unsigned char)value[i]) ? value[i] : '?';
    if (value[i]) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* "origin: key: " unless the origin is the key itself (config_set by key). */
static int value_error(const struct config_setting *s, const char *origin, int code,
                       struct moat_err *err, const char *what, const char *value)
{
    char q[64];
    quote_value(value, q, sizeof(q));
    if (strcmp(origin, s->key) == 0)
        return moat_err_field(err, code, s->key, "%s: '%s' %s", s->key, q, what);
    return moat_err_field(err, code, s->key, "%s: %s: '%s' %s", origin, s->key, q, what);
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* "a/../b", "/..", "../x": a path that climbs out of where it seems to be. */
static bool has_dotdot(const char *p)
{
    for (const char *c = p; (c = strstr(c, "..")) != NULL; c += 2) {
        bool starts = c == p || c[-1] == '/';
        bool ends = c[2] == '\0' || c[2] == '/';
        if (starts && ends)
            return true;
    }
    return false;
}

static bool valid_host_port(const char *v)
{
    const char *colon = strrchr(v, ':');
    uint64_t port;
    if (!colon || colon == v)
        return false;
    if (v[0] == '[' && colon[-1] != ']')
        return false; /* "[::1]:80": the port follows the bracket */
    return parse_u64(colon + 1, 0, 65535, &port) == 0;
}

/* The rule of s for a string value: NULL when fine, else what is wrong. */
static const char *text_problem(const struct config_setting *s, const char *v)
{
    if (strlen(v) >= s->size)
        return "is too long";
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return "contains a control character";
    switch (s->rule) {
    case CONFIG_TEXT_ANY:
        return NULL;
    case CONFIG_TEXT_NONEMPTY:
        return *v ? NULL : "must not be empty";
    case CONFIG_TEXT_CGROUP:
        if (!*v || strcmp(v, "self") == 0)
            return NULL;
        if (v[0] != '/')
            return "is not \"\", self or an absolute path";
        return has_dotdot(v) ? "must not contain '..'" : NULL;
    case CONFIG_TEXT_ABS_PATH:
        if (v[0] != '/')
            return "is not an absolute path";
        return has_dotdot(v) ? "must not contain '..'" : NULL;
    case CONFIG_TEXT_NAME:
        if (!*v)
            return "must not be empty";
        for (const char *c = v; *c; c++)
            if (!is_name_char(*c))
                return "may contain only A-Z a-z 0-9 _ -";
        return NULL;
    case CONFIG_TEXT_HOST_PORT:
        return valid_host_port(v) ? NULL : "is not HOST:PORT";
    case CONFIG_TEXT_CHOICE:
        for (const char *const *c = s->choices; *c; c++)
            if (strcmp(*c, v) == 0)
                return NULL;
        return "is not one of the accepted values";
    }
    return "has an unknown rule"; /* unreachable: the switch is exhaustive */
}

int config_setting_apply(const struct config_setting *s, struct moat_config *cfg, const char *value,
                         const char *origin, struct moat_err *err)
{
    char range[96], what[128];
    int r;

    config_format_range(s, range, sizeof(range));
    switch (s->type) {
    case CONFIG_U64: {
        uint64_t v;
        r = parse_u64(value, s->min, s->max, &v);
        if (r == -EINVAL)
            return value_error(s, origin, r, err, "is not a whole number", value);
        if (r < 0) {
            (void)snprintf(what, sizeof(what), "is out of range %s", range);
            return value_error(s, origin, r, err, what, value);
        }
        *u64_at(cfg, s) = v;
        return 0;
    }
    case CONFIG_BOOL: {
        bool v;
        if (parse_bool(value, &v) < 0)
            return value_error(s, origin, -EINVAL, err,
                               "is not a boolean (true/false, yes/no, on/off, 1/0)", value);
        *bool_at(cfg, s) = v;
        return 0;
    }
    case CONFIG_STRING: {
        const char *problem = text_problem(s, value);
        if (problem) {
            if (strlen(value) >= s->size)
                (void)snprintf(what, sizeof(what), "is too long (at most %zu characters)",
                               s->size - 1);
            else if (s->rule == CONFIG_TEXT_CHOICE)
                (void)snprintf(what, sizeof(what), "is not one of %s", range);
            else
                (void)snprintf(what, sizeof(what), "%s", problem);
            return value_error(s, origin, -EINVAL, err, what, value);
        }
        moat_strlcpy(text_at(cfg, s), value, s->size);
        return 0;
    }
    }
    return moat_err_field(err, -EINVAL, s->key, "%s: unknown type", s->key);
}

int config_setting_check(const struct config_setting *s, const struct moat_config *cfg,
                         struct moat_err *err)
{
    char range[96];
    switch (s->type) {
    case CONFIG_U64: {
        uint64_t v = config_setting_u64(s, cfg);
        if (v < s->min || v > s->max) {
            config_format_range(s, range, sizeof(range));
            return moat_err_field(err, -ERANGE, s->key, "%s: %" PRIu64 " is out of range %s",
                                  s->key, v, range);
        }
        return 0;
    }
    case CONFIG_BOOL:
        return 0;
    case CONFIG_STRING: {
        const char *v = text_of(cfg, s);
        const char *problem;
        /* a field filled by hand may lack its NUL: never read past it */
        if (memchr(v, '\0', s->size) == NULL)
            return moat_err_field(err, -EINVAL, s->key, "%s: is not terminated", s->key);
        problem = text_problem(s, v);
        if (problem)
            return moat_err_field(err, -EINVAL, s->key, "%s: value %s", s->key, problem);
        return 0;
    }
    }
    return moat_err_field(err, -EINVAL, s->key, "%s: unknown type", s->key);
}

void config_format_default(const struct config_setting *s, char *out, size_t outsz)
{
    switch (s->type) {
    case CONFIG_U64:
        (void)snprintf(out, outsz, "%" PRIu64, s->def);
        return;
    case CONFIG_BOOL:
        (void)snprintf(out, outsz, "%s", s->def ? "true" : "false");
        return;
    case CONFIG_STRING:
        (void)snprintf(out, outsz, "%s", *s->def_text ? s->def_text : "\"\"");
        return;
    }
    (void)snprintf(out, outsz, "?");
}

void config_format_range(const struct config_setting *s, char *out, size_t outsz)
{
    size_t n = 0;
    switch (s->type) {
    case CONFIG_U64:
        (void)snprintf(out, outsz, "%" PRIu64 "..%" PRIu64, s->min, s->max);
        return;
    case CONFIG_BOOL:
        (void)snprintf(out, outsz, "true|false");
        return;
    case CONFIG_STRING:
        break;
    }
    switch (s->rule) {
    case CONFIG_TEXT_CHOICE:
        out[0] = '\0';
        for (const char *const *c = s->choices; *c && n < outsz; c++) {
            int w = snprintf(out + n, outsz - n, "%s%s", n ? "|" : "", *c);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        return;
    case CONFIG_TEXT_NAME:
        (void)snprintf(out, outsz, "[A-Za-z0-9_-]+");
        return;
    case CONFIG_TEXT_ABS_PATH:
        (void)snprintf(out, outsz, "absolute path");
        return;
    case CONFIG_TEXT_CGROUP:
        (void)snprintf(out, outsz, "\"\", self or absolute path");
        return;
    case CONFIG_TEXT_HOST_PORT:
        (void)snprintf(out, outsz, "HOST:PORT");
        return;
    case CONFIG_TEXT_NONEMPTY:
        (void)snprintf(out, outsz, "non-empty");
        return;
    case CONFIG_TEXT_ANY:
        (void)snprintf(out, outsz, "any text");
        return;
    }
}

void config_defaults(struct moat_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        switch (s->type) {
        case CONFIG_U64:
            *u64_at(cfg, s) = s->def;
            break;
        case CONFIG_BOOL:
            *bool_at(cfg, s) = s->def != 0;
            break;
        case CONFIG_STRING:
            /* a default that does not fit is a table bug the unit tests catch */
            moat_strlcpy(text_at(cfg, s), s->def_text, s->size);
            break;
        }
    }
}
