/*
 * Checks across settings, and of a request's limits against the maxima. The
 * [limits] rows of the table name the request fields and their minimums; the
 * [max_limits] row with the same name is the ceiling, so a limit added to
 * the table is checked here without code.
 */
#include <unistd.h>

#include "config-internal.h"

static bool is_limit_row(const struct config_setting *s)
{
    return s->api_field != NULL;
}

/* The same field in another struct moat_limits: the row's offset within
 * cfg->limits. */
static uint64_t limit_in(const struct moat_limits *l, const struct config_setting *s)
{
    size_t off = s->offset - offsetof(struct moat_config, limits);
    MOAT_ASSERT(s->type == CONFIG_U64 && off + sizeof(uint64_t) <= sizeof(*l));
    return *(const uint64_t *)(const void *)((const char *)l + off);
}

uint64_t config_wall_ms(const struct moat_limits *l)
{
    if (l->wall_time_ms)
        return l->wall_time_ms;
    if (l->time_ms > (UINT64_MAX - 1000) / 2)
        return UINT64_MAX;
    return 2 * l->time_ms + 1000;
}

static int validate_limits(const struct moat_config *cfg, struct moat_err *err)
{
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (!is_limit_row(s))
            continue;
        const struct config_setting *mx = config_find_key("max_limits", s->name);
        MOAT_ASSERT(mx != NULL);
        uint64_t v = limit_in(&cfg->limits, s), m = limit_in(&cfg->max_limits, s);
        if (strcmp(s->name, "wall_time_ms") == 0 && v == 0)
            continue; /* derived, checked below */
        if (v > m)
            return moat_err_field(err, -ERANGE, s->key,
                                  "%s (%" PRIu64 ") is above %s (%" PRIu64 ")", s->key, v, mx->key,
                                  m);
    }
    uint64_t wall = config_wall_ms(&cfg->limits);
    if (cfg->limits.wall_time_ms == 0 && wall > cfg->max_limits.wall_time_ms)
        return moat_err_field(err, -ERANGE, "limits.wall_time_ms",
                              "limits.wall_time_ms 0 derives 2 * limits.time_ms + 1000 = "
                              "%" PRIu64 ", above max_limits.wall_time_ms (%" PRIu64 ")",
                              wall, cfg->max_limits.wall_time_ms);
    return 0;
}

uint64_t config_workers(const struct moat_config *cfg)
{
    if (cfg->workers)
        return cfg->workers;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (uint64_t)cpus : 1;
}

uint64_t config_warm_boxes(const struct moat_config *cfg)
{
    return cfg->warm_boxes ? cfg->warm_boxes : config_workers(cfg);
}

/* Settings of moat serve that bound each other: one silently capping
 * another (8 workers, 4 boxes: 4 jobs at a time) is refused instead. */
static int validate_service(const struct moat_config *cfg, struct moat_err *err)
{
    uint64_t boxes = config_warm_boxes(cfg), workers = config_workers(cfg);
    if (boxes > cfg->uid_count)
        return moat_err_field(err, -ERANGE, "sandbox.warm_boxes",
                              "sandbox.warm_boxes (%" PRIu64 "%s) is above sandbox.uid_count "
                              "(%" PRIu64 ")",
                              boxes, cfg->warm_boxes ? "" : ", one per worker", cfg->uid_count);
    if (!cfg->no_exec && boxes < workers)
        return moat_err_field(err, -ERANGE, "sandbox.warm_boxes",
                              "sandbox.warm_boxes (%" PRIu64 ") is below server.workers (%" PRIu64
                              "): only %" PRIu64 " jobs could run at once; raise it or set 0",
                              boxes, workers, boxes);
    if (cfg->connection_reserve >= cfg->max_connections)
        return moat_err_field(err, -ERANGE, "server.connection_reserve",
                              "server.connection_reserve (%" PRIu64
                              ") must be below server.max_connections (%" PRIu64 ")",
                              cfg->connection_reserve, cfg->max_connections);
    return 0;
}

bool config_store_embedded(const struct moat_config *cfg)
{
    return strcmp(cfg->store, "sqlite") == 0;
}

bool config_queue_local(const struct moat_config *cfg)
{
    return strcmp(cfg->queue, "local") == 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void config_redact_url(const char *url, char *out, size_t outsz)
{
    /* the user-info password: scheme://user:PASSWORD@host */
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon)
        (void)snprintf(out, outsz, "%.*s:***%s", (int)(colon - url), url, at);
    else
        (void)snprintf(out, outsz, "%s", url);
    /* libpq's ?password=PASSWORD (or &password=) */
    for (char *p = strchr(out, '?'); p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, "password=", 9) != 0)
            continue;
        char *v = p + 10, *end = strchr(v, '&');
        char rest[512];
        (void)snprintf(rest, sizeof(rest), "%s", end ? end : "");
        (void)snprintf(v, outsz - (size_t)(v - out), "***%s", rest);
    }
}

/* The backends: names moat knows, URLs of the schemes it speaks. */
static int validate_backends(const struct moat_config *cfg, struct moat_err *err)
{
    if (!config_store_embedded(cfg) && !has_prefix(cfg->store, "postgres://") &&
        !has_prefix(cfg->store, "postgresql://"))
        return moat_err_field(err, -EINVAL, "server.store",
                              "server.store must be sqlite or a postgres:// URL");
    if (!config_queue_local(cfg) && !has_prefix(cfg->queue, "nats://"))
        return moat_err_field(err, -EINVAL, "server.queue",
                              "server.queue must be local or a nats:// URL");
    return 0;
}

int config_validate(const struct moat_config *cfg, struct moat_err *err)
{
    int r;
    for (size_t i = 0; i < config_n_settings; i++) {
        r = config_setting_check(&config_settings[i], cfg, err);
        if (r < 0)
            return r;
    }
    r = validate_limits(cfg, err);
    if (r < 0)
        return r;
    /* code and stdin travel inside one request body */
    if (cfg->max_code_kb > cfg->max_body_kb)
        return moat_err_field(err, -ERANGE, "server.max_code_kb",
                              "server.max_code_kb (%" PRIu64
                              ") is above server.max_body_kb (%" PRIu64 ")",
                              cfg->max_code_kb, cfg->max_body_kb);
    if (cfg->max_stdin_kb > cfg->max_body_kb)
        return moat_err_field(err, -ERANGE, "server.max_stdin_kb",
                              "server.max_stdin_kb (%" PRIu64
                              ") is above server.max_body_kb (%" PRIu64 ")",
                              cfg->max_stdin_kb, cfg->max_body_kb);
    r = validate_backends(cfg, err);
    if (r < 0)
        return r;
    /* each prepared box holds a uid of its own */
    return validate_service(cfg, err);
}

int config_check_limits(const struct moat_config *cfg, const struct moat_limits *want,
                        struct moat_err *err)
{
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (!is_limit_row(s))
            continue;
        uint64_t v = limit_in(want, s), m = limit_in(&cfg->max_limits, s);
        bool is_wall = strcmp(s->name, "wall_time_ms") == 0;
        if (is_wall && v == 0) {
            uint64_t wall = config_wall_ms(want);
            if (wall > m)
                return moat_err_field(err, -ERANGE, s->api_field,
                                      "%s must be at most %" PRIu64 " (derived from timeoutMs "
                                      "as 2 * timeoutMs + 1000 = %" PRIu64 ")",
                                      s->api_field, m, wall);
            continue;
        }
        if (v < s->min)
            return moat_err_field(err, -EINVAL, s->api_field, "%s must be at least %" PRIu64,
                                  s->api_field, s->min);
        if (v > m)
            return moat_err_field(err, -ERANGE, s->api_field, "%s must be at most %" PRIu64,
                                  s->api_field, m);
    }
    return 0;
}
