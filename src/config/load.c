/*
 * Where values come from: moat.ini (inih), the MOAT_* environment and
 * config_set for command-line flags, applied in that order so that the later
 * source wins.
 */
#include "config-internal.h"

#include <fcntl.h>
#include <ini.h>
#include <sys/stat.h>

/* A moat.ini is a few KB; anything near this is a mistake, not a config. */
#define CONFIG_INI_MAX (1024 * 1024)

struct ini_ctx {
    struct moat_config *cfg;
    const char *origin;
    const char *pos; /* the text not yet handed to inih */
    int line;        /* number of the line last handed to inih */
    int fail_line;   /* line of the first error found here, 0 = none */
    int fail_code;
    struct moat_err *err;
    int seen[CONFIG_MAX_SETTINGS]; /* line where each setting was given, 0 = not yet */
};

/*
 * Hands inih one line at a time so that the line number of each handler call
 * is known (the packaged inih is built without INI_HANDLER_LINENO). inih cuts
 * a line longer than its buffer and parses the rest as a new line; refusing
 * such lines here keeps a long value from turning into a different key.
 */
static char *line_reader(char *str, int num, void *stream)
{
    struct ini_ctx *c = stream;
    if (c->fail_line || !*c->pos || num < 4)
        return NULL;
    const char *nl = strchr(c->pos, '\n');
    size_t len = nl ? (size_t)(nl - c->pos) + 1 : strlen(c->pos);
    c->line++;
    if (len + 1 > (size_t)num) {
        c->fail_line = c->line;
        c->fail_code = moat_err_set(c->err, -EINVAL, "%s:%d: line longer than %d characters",
                                    c->origin, c->line, num - 3);
        return NULL;
    }
    memcpy(str, c->pos, len);
    str[len] = '\0';
    c->pos += len;
    return str;
}

static int ini_fail(struct ini_ctx *c, int code)
{
    c->fail_line = c->line;
    c->fail_code = code;
    return 0; /* inih: handler error */
}

static int key_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *c = user;
    char where[320];
    char key[128];

    if (c->fail_line)
        return 0;
    (void)snprintf(where, sizeof(where), "%s:%d", c->origin, c->line);
    (void)snprintf(key, sizeof(key), "%s.%s", section, name);
    if (!*section)
        return ini_fail(c, moat_err_field(c->err, -EINVAL, name,
                                          "%s: key '%.64s' outside of any [section]", where, name));
    if (!config_find_section(section))
        return ini_fail(
            c, moat_err_field(c->err, -EINVAL, key, "%s: unknown section [%.64s]", where, section));
    const struct config_setting *s = config_find_key(section, name);
    if (!s)
        return ini_fail(c, moat_err_field(c->err, -EINVAL, key,
                                          "%s: unknown key '%.64s' in section [%s]", where, name,
                                          section));
    size_t idx = (size_t)(s - config_settings);
    if (c->seen[idx])
        /* also what an indented continuation line looks like to inih */
        return ini_fail(c, moat_err_field(c->err, -EINVAL, s->key,
                                          "%s: %s given twice (first on line %d)", where, s->key,
                                          c->seen[idx]));
    c->seen[idx] = c->line;
    int r = config_setting_apply(s, c->cfg, value, where, c->err);
    if (r < 0)
        return ini_fail(c, r);
    return 1;
}

int config_apply_ini(struct moat_config *cfg, const char *text, const char *origin,
                     struct moat_err *err)
{
    struct ini_ctx c = {.cfg = cfg, .origin = origin, .pos = text, .err = err};

    MOAT_ASSERT(config_n_settings <= CONFIG_MAX_SETTINGS);
    int r = ini_parse_stream(line_reader, &c, key_handler, &c);
    /* inih reports the first bad line, ours or its own syntax error */
    if (r > 0 && (!c.fail_line || r < c.fail_line))
        return moat_err_set(err, -EINVAL, "%s:%d: syntax error (expected [section] or key = value)",
                            origin, r);
    if (c.fail_line)
        return c.fail_code;
    if (r == -2)
        return moat_err_set(err, -ENOMEM, "%s: out of memory", origin);
    if (r != 0)
        return moat_err_set(err, -EINVAL, "%s: cannot be parsed", origin);
    return 0;
}

int config_apply_env(struct moat_config *cfg, char *const *envp, struct moat_err *err)
{
    if (!envp)
        return 0;
    for (char *const *e = envp; *e; e++) {
        if (!str_has_prefix(*e, "MOAT_"))
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        /* names that are not settings (MOAT_CONFIG, test switches) are not ours */
        const struct config_setting *s = config_find_env(*e, (size_t)(eq - *e));
        if (!s)
            continue;
        int r = config_setting_apply(s, cfg, eq + 1, s->env, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static const char *env_value(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    if (!envp)
        return NULL;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* Reads path whole (at most CONFIG_INI_MAX bytes) into b, NUL-terminated. */
static int read_ini_file(const char *path, bool named, struct buf *b, struct moat_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    char chunk[4096];

    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && !named)
            return 0;
        return moat_err_set(err, -e, "%s: %s", path, strerror(e));
    }
    if (fstat(fd, &st) < 0)
        return moat_err_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return moat_err_set(err, -EINVAL, "%s: not a regular file", path);
    /* limits and uid ranges of a privileged service: anyone could rewrite them */
    if (st.st_mode & S_IWOTH)
        return moat_err_set(err, -EPERM, "%s: writable by every user, refusing it", path);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return moat_err_set(err, -errno, "%s: %s", path, strerror(errno));
        if (n == 0)
            break;
        int r = buf_append(b, chunk, (size_t)n);
        if (r == -ENOBUFS)
            return moat_err_set(err, -EFBIG, "%s: larger than %d bytes", path, CONFIG_INI_MAX);
        if (r < 0)
            return moat_err_set(err, r, "%s: %s", path, strerror(-r));
    }
    if (b->len && memchr(b->data, '\0', b->len) != NULL)
        return moat_err_set(err, -EINVAL, "%s: contains a NUL byte", path);
    int r = buf_terminate(b);
    if (r < 0)
        return moat_err_set(err, r, "%s: %s", path, strerror(-r));
    return 1;
}

int config_load(struct moat_config *cfg, const char *ini_path, char *const *envp,
                struct moat_err *err)
{
    struct moat_config c;
    struct buf b;
    const char *path = ini_path;
    bool named = true;
    int r;

    config_defaults(&c);
    if (!path || !*path)
        path = env_value(envp, "MOAT_CONFIG");
    if (!path || !*path) {
        path = "moat.ini";
        named = false;
    }
    buf_init(&b, CONFIG_INI_MAX);
    r = read_ini_file(path, named, &b, err);
    if (r > 0)
        r = config_apply_ini(&c, b.data, path, err);
    buf_release(&b);
    if (r < 0)
        return r;
    r = config_apply_env(&c, envp, err);
    if (r < 0)
        return r;
    *cfg = c;
    return 0;
}

int config_set(struct moat_config *cfg, const char *name, const char *value, struct moat_err *err)
{
    const struct config_setting *s = config_find_name(name);
    char origin[80];

    if (!s)
        return moat_err_set(err, -ENOENT, "unknown setting '%.64s'", name);
    if (strcmp(name, s->flag) == 0)
        (void)snprintf(origin, sizeof(origin), "--%s", s->flag);
    else
        moat_strlcpy(origin, s->key, sizeof(origin));
    if (!value && s->type == CONFIG_BOOL)
        value = "true"; /* a bare boolean flag: --no-exec */
    if (!value)
        return moat_err_field(err, -EINVAL, s->key, "%s: %s needs a value", origin, s->key);
    return config_setting_apply(s, cfg, value, origin, err);
}

int config_lookup(const char *name, unsigned *scope, bool *is_bool)
{
    const struct config_setting *s = config_find_name(name);
    if (!s)
        return -ENOENT;
    if (scope)
        *scope = s->scope;
    if (is_bool)
        *is_bool = s->type == CONFIG_BOOL;
    return 0;
}
