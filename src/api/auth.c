/*
 * API keys on every request, their quotas and maxima on submissions, and
 * CORS.
 *
 * The keys live in the store (only their SHA-256); this node keeps them in
 * memory, read again every auth.keys_reload_ms by a thread of its own, so
 * that a request never waits for the store: its key is hashed and
 * compared (in constant time) with the hashes in memory. The quotas are
 * this node's: jobs per minute is a GCRA bucket (a burst of the whole
 * minute's jobs, then one every 60/N s), concurrent jobs the jobs this
 * node accepted for the key that are not final yet. With several API
 * nodes each counts its own (docs/http.md).
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <strings.h>

#include "server-internal.h"

#include "moat/store.h"

/* The runtime state of one key, kept across reloads (by id). */
struct key_state {
    int64_t tat_us;                    /* GCRA: the theoretical arrival time, monotonic us */
    uint64_t reserved;                 /* slots of requests admitted, not answered yet */
    char (*active)[MOAT_UUID_LEN + 1]; /* jobs accepted, maybe not final */
    size_t nactive, cap;
};

struct key_entry {
    struct store_key k;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    struct key_state st;
};

struct api_auth {
    pthread_mutex_t mu;
    struct key_entry *keys; /* sorted by id */
    size_t nkeys, nlive;    /* all, not revoked */
    bool loopback;

    pthread_t thread;
    bool running;
    bool stop;
    pthread_cond_t cond; /* under mu: stop */
};

/* ---- loading ---- */

static int hex_digest(const char *hex, unsigned char out[SHA256_DIGEST_LENGTH])
{
    if (strlen(hex) != 2 * SHA256_DIGEST_LENGTH)
        return -EINVAL;
    for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct key_entry *)a)->k.id, ((const struct key_entry *)b)->k.id);
}

static struct key_entry *find_id(struct api_auth *a, const char *id)
{
    if (a->nkeys == 0)
        return NULL;
    struct key_entry probe;
    moat_strlcpy(probe.k.id, id, sizeof(probe.k.id));
    return bsearch(&probe, a->keys, a->nkeys, sizeof(*a->keys), by_id);
}

/* Reads every key from the store and swaps them in, keeping each known
 * key's quota state. */
static int reload(struct api_server *srv, struct moat_err *err)
{
    struct api_auth *a = srv->auth;
    struct store_key *list = NULL;
    size_t n = 0;
    int r = exec_keys_list(srv->deps.exec, srv->deps.cfg->max_keys, &list, &n, err);
    if (r < 0)
        return r;
    struct key_entry *v = n ? calloc(n, sizeof(*v)) : NULL;
    if (n && !v) {
        free(list);
        return moat_err_set(err, -ENOMEM, "out of memory loading keys");
    }
    size_t live = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (hex_digest(list[i].hash, v[m].digest) < 0)
            continue; /* a malformed row never matches */
        v[m].k = list[i];
        live += list[i].revoked_ms == 0;
        m++;
    }
    free(list);
    if (m)
        qsort(v, m, sizeof(*v), by_id);
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < m; i++) {
        struct key_entry *old = find_id(a, v[i].k.id);
        if (old) {
            v[i].st = old->st;
            old->st = (struct key_state){0};
        }
    }
    for (size_t i = 0; i < a->nkeys; i++)
        free(a->keys[i].st.active);
    free(a->keys);
    a->keys = v;
    a->nkeys = m;
    a->nlive = live;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

static void *reload_main(void *arg)
{
    struct api_server *srv = arg;
    struct api_auth *a = srv->auth;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + srv->deps.cfg->keys_reload_ms * 1000000ull;
        ts.tv_sec += (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        (void)pthread_cond_timedwait(&a->cond, &a->mu, &ts);
        if (a->stop)
            break;
        pthread_mutex_unlock(&a->mu);
        struct moat_err err = {0};
        if (reload(srv, &err) < 0)
            log_warn("event=keys_reload_failed msg=\"%s\"", err.msg);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int api_auth_start(struct api_server *srv, struct moat_err *err)
{
    if (srv->deps.service_only)
        return 0;
    struct api_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cond, &ca);
    pthread_condattr_destroy(&ca);
    srv->auth = a;
    const struct moat_config *cfg = srv->deps.cfg;
    a->loopback = api_listen_loopback(cfg->listen);
    int r = reload(srv, err);
    if (r < 0)
        return r;
    if (!a->loopback && !cfg->allow_anonymous && a->nlive == 0)
        return moat_err_field(err, -EPERM, "server.listen",
                              "%s is not a loopback address and no API key exists: add one with "
                              "`moat keys add`, or start with --allow-anonymous",
                              cfg->listen);
    r = -pthread_create(&a->thread, NULL, reload_main, srv);
    if (r < 0)
        return moat_err_set(err, r, "cannot start the key reload thread");
    a->running = true;
    return 0;
}

void api_auth_stop(struct api_server *srv)
{
    struct api_auth *a = srv->auth;
    if (!a)
        return;
    if (a->running) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        pthread_cond_signal(&a->cond);
        pthread_mutex_unlock(&a->mu);
        (void)pthread_join(a->thread, NULL);
    }
    for (size_t i = 0; i < a->nkeys; i++)
        free(a->keys[i].st.active);
    free(a->keys);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cond);
    free(a);
    srv->auth = NULL;
}

/* ---- the head of a request ---- */

static const char *header(struct api_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* The key a request gives: Authorization: Bearer, or Judge0's X-Auth-Token
 * and X-Auth-User. NULL when none; *malformed for an Authorization header
 * that is not "Bearer <token>". */
static const char *given_key(struct api_req *rq, bool *malformed)
{
    *malformed = false;
    const char *h = header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h) {
        const char *token = api_bearer_token(h);
        *malformed = token == NULL;
        return token;
    }
    h = header(rq, "X-Auth-Token");
    return h ? h : header(rq, "X-Auth-User");
}

static bool cors(struct api_server *srv, struct api_req *rq, const char *method)
{
    const char *list = srv->deps.cfg->cors_origins;
    if (!list[0])
        return true;
    rq->auth.cors = true;
    const char *origin = header(rq, "Origin");
    bool allowed =
        origin && strlen(origin) < sizeof(rq->auth.origin) && api_origin_allowed(list, origin);
    if (allowed)
        moat_strlcpy(rq->auth.origin, origin, sizeof(rq->auth.origin));
    if (strcmp(method, "OPTIONS") != 0 || !origin || !header(rq, "Access-Control-Request-Method"))
        return true;
    /* a preflight: browsers send no credentials with it */
    if (!allowed) {
        api_reply_fail(rq, 403, "origin_not_allowed", "Origin",
                       "the origin %.100s may not call this server", origin);
        return false;
    }
    api_reply_bytes(rq, 204, NULL, "", 0);
    return false;
}

bool api_auth_head(struct api_server *srv, struct api_req *rq, const char *method, const char *url)
{
    struct api_auth *a = srv->auth;
    if (!cors(srv, rq, method))
        return false;
    if (!a || api_open_path(url))
        return true;
    bool malformed = false;
    const char *key = given_key(rq, &malformed);
    bool found = false;
    unsigned char d[SHA256_DIGEST_LENGTH] = {0};
    if (key && *key)
        SHA256((const unsigned char *)key, strlen(key), d);
    pthread_mutex_lock(&a->mu);
    /* every entry is compared, in constant time: how long it takes says
     * nothing about which hash came close */
    for (size_t i = 0; key && *key && i < a->nkeys; i++) {
        bool same = CRYPTO_memcmp(d, a->keys[i].digest, sizeof(d)) == 0;
        if (same && a->keys[i].k.revoked_ms == 0 && !found) {
            found = true;
            moat_strlcpy(rq->auth.key_id, a->keys[i].k.id, sizeof(rq->auth.key_id));
        }
    }
    bool anonymous = api_anonymous_ok(srv->deps.cfg, a->loopback, a->nlive);
    bool any_keys = a->nlive > 0;
    pthread_mutex_unlock(&a->mu);
    enum api_caller who =
        api_auth_decide(key != NULL, found, malformed || (key && !*key), anonymous, any_keys);
    if (who == API_CALLER_KEYED)
        rq->auth.keyed = true;
    if (who == API_CALLER_KEYED || who == API_CALLER_ANONYMOUS)
        return true;
    malformed = who == API_CALLER_INVALID;
    rq->auth.challenge = true;
    rq->auth.bad_key = malformed;
    if (malformed)
        api_reply_fail(rq, 401, "invalid_key", NULL,
                       "the API key is not valid (unknown or revoked, or not given as "
                       "Authorization: Bearer <key>)");
    else
        api_reply_fail(rq, 401, "missing_key", NULL,
                       "an API key is required: Authorization: Bearer <key>");
    return false;
}

/* ---- admission of a submission ---- */

static bool over(struct api_error *e, uint64_t asked, uint64_t max, const char *field)
{
    if (max == 0 || asked <= max)
        return false;
    api_error_set(e, 403, "over_key_limit", field, "%s is %llu; this API key allows at most %llu",
                  field, (unsigned long long)asked, (unsigned long long)max);
    return true;
}

/* A limit the request left at the server's default is lowered to the
 * key's maximum (the request did not ask for more: it asked for nothing);
 * one it set above the maximum is refused. The two cannot be told apart
 * when a request names the default itself: it is lowered too. */
static void lower_default(uint64_t *v, uint64_t def, uint64_t max)
{
    if (max && *v == def && *v > max)
        *v = max;
}

static bool check_maxima(struct api_server *srv, const struct store_key *k, struct job *j,
                         struct api_error *e)
{
    struct moat_limits *l = &j->limits;
    const struct moat_limits *def = &srv->deps.cfg->limits;
    lower_default(&l->time_ms, def->time_ms, k->max.time_ms);
    lower_default(&l->memory_mb, def->memory_mb, k->max.memory_mb);
    lower_default(&l->max_processes, def->max_processes, k->max.max_processes);
    lower_default(&l->max_output_kb, def->max_output_kb, k->max.max_output_kb);
    uint64_t wall = l->wall_time_ms ? l->wall_time_ms : 2 * l->time_ms + 1000;
    if (l->wall_time_ms == def->wall_time_ms && k->max.wall_time_ms && wall > k->max.wall_time_ms)
        l->wall_time_ms = wall = k->max.wall_time_ms;
    if (over(e, l->time_ms, k->max.time_ms, "timeoutMs") ||
        over(e, wall, k->max.wall_time_ms, "wallTimeoutMs") ||
        over(e, l->memory_mb, k->max.memory_mb, "memoryMb") ||
        over(e, l->max_processes, k->max.max_processes, "maxProcesses") ||
        over(e, l->max_output_kb, k->max.max_output_kb, "maxOutputKb"))
        return false;
    if (!api_language_allowed(k->languages, j->language)) {
        api_error_set(e, 403, "language_not_allowed", "language",
                      "this API key may not run %s (allowed: %s)", j->language, k->languages);
        return false;
    }
    return true;
}

/* GCRA: a burst of n, then one every 60/n s. Under a->mu. */
static bool take_rate(struct api_req *rq, struct key_entry *e)
{
    if (e->k.jobs_per_minute == 0)
        return true;
    struct api_rate rate;
    bool ok =
        api_rate_take(&e->st.tat_us, e->k.jobs_per_minute, (int64_t)(moat_now_ns() / 1000), &rate);
    rq->auth.rate_headers = true;
    rq->auth.rate_limit = rate.limit;
    rq->auth.rate_remaining = rate.remaining;
    rq->auth.rate_reset_s = rate.reset_s;
    if (!ok)
        rq->retry_after = (unsigned)rate.retry_after_s;
    return ok;
}

/* Drops the jobs of e that are final now (read without the lock). */
static void prune(struct api_server *srv, const char *key_id)
{
    struct api_auth *a = srv->auth;
    char ids[64][MOAT_UUID_LEN + 1];
    size_t n = 0;
    pthread_mutex_lock(&a->mu);
    struct key_entry *e = find_id(a, key_id);
    for (size_t i = 0; e && i < e->st.nactive && n < MOAT_ARRAY_SIZE(ids); i++)
        moat_strlcpy(ids[n++], e->st.active[i], sizeof(ids[0]));
    pthread_mutex_unlock(&a->mu);
    bool final[64] = {0};
    for (size_t i = 0; i < n; i++) {
        struct job j = {0};
        struct moat_err err = {0};
        int r = exec_get(srv->deps.exec, ids[i], 0, &j, &err);
        final[i] = r == -ENOENT || (r == 0 && job_status_final(j.status));
        if (r == 0)
            job_release(&j);
    }
    pthread_mutex_lock(&a->mu);
    e = find_id(a, key_id);
    for (size_t i = 0; e && i < n; i++) {
        if (!final[i])
            continue;
        for (size_t k = 0; k < e->st.nactive; k++) {
            if (strcmp(e->st.active[k], ids[i]) == 0) {
                memcpy(e->st.active[k], e->st.active[--e->st.nactive], sizeof(ids[0]));
                break;
            }
        }
    }
    pthread_mutex_unlock(&a->mu);
}

bool api_auth_admit(struct api_server *srv, struct api_req *rq, struct job *j,
                    struct api_error *err)
{
    struct api_auth *a = srv->auth;
    if (!a || !rq->auth.keyed)
        return true;
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&a->mu);
        struct key_entry *e = find_id(a, rq->auth.key_id);
        if (!e) { /* deleted since the head: as a revoked key */
            pthread_mutex_unlock(&a->mu);
            rq->auth.challenge = rq->auth.bad_key = true;
            api_error_set(err, 401, "invalid_key", NULL, "the API key is not valid any more");
            return false;
        }
        if (!check_maxima(srv, &e->k, j, err)) {
            pthread_mutex_unlock(&a->mu);
            return false;
        }
        uint64_t limit = e->k.concurrent_jobs;
        bool full = limit && e->st.nactive + e->st.reserved >= limit;
        if (full && pass == 0 && e->st.nactive) {
            pthread_mutex_unlock(&a->mu);
            prune(srv, rq->auth.key_id); /* some may have finished */
            continue;
        }
        if (full) {
            pthread_mutex_unlock(&a->mu);
            rq->retry_after = 1;
            api_error_set(err, 429, "too_many_jobs", NULL,
                          "this API key may have %llu jobs unfinished at once",
                          (unsigned long long)limit);
            return false;
        }
        bool ok = take_rate(rq, e);
        if (ok)
            e->st.reserved++;
        unsigned long long per_minute = e->k.jobs_per_minute;
        pthread_mutex_unlock(&a->mu);
        rq->auth.reserved += ok;
        if (!ok)
            api_error_set(err, 429, "rate_limited", NULL,
                          "this API key may submit %llu jobs per minute; retry in %u s", per_minute,
                          rq->retry_after);
        return ok;
    }
    return true;
}

void api_auth_done(struct api_server *srv, struct api_req *rq, const char *job_id)
{
    struct api_auth *a = srv->auth;
    if (!a || !rq->auth.reserved)
        return;
    /* a job takes one slot; the end of the request gives back the rest */
    uint32_t give = job_id ? 1 : rq->auth.reserved;
    rq->auth.reserved -= give;
    pthread_mutex_lock(&a->mu);
    struct key_entry *e = find_id(a, rq->auth.key_id);
    if (e) {
        e->st.reserved -= give <= e->st.reserved ? give : e->st.reserved;
        if (job_id && e->k.concurrent_jobs) {
            if (e->st.nactive == e->st.cap) {
                size_t ncap = e->st.cap ? e->st.cap * 2 : 8;
                void *nv = reallocarray(e->st.active, ncap, sizeof(*e->st.active));
                if (nv) {
                    e->st.active = nv;
                    e->st.cap = ncap;
                }
            }
            if (e->st.nactive < e->st.cap)
                moat_strlcpy(e->st.active[e->st.nactive++], job_id, MOAT_UUID_LEN + 1);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

void api_auth_headers(const struct api_req *rq, struct MHD_Response *r)
{
    const struct api_req_auth *au = &rq->auth;
    if (au->challenge)
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                      au->bad_key ? "Bearer realm=\"moat\", error=\"invalid_token\""
                                                  : "Bearer realm=\"moat\"");
    if (au->rate_headers) {
        char v[24];
        (void)snprintf(v, sizeof(v), "%llu", (unsigned long long)au->rate_limit);
        (void)MHD_add_response_header(r, "RateLimit-Limit", v);
        (void)snprintf(v, sizeof(v), "%llu", (unsigned long long)au->rate_remaining);
        (void)MHD_add_response_header(r, "RateLimit-Remaining", v);
        (void)snprintf(v, sizeof(v), "%llu", (unsigned long long)au->rate_reset_s);
        (void)MHD_add_response_header(r, "RateLimit-Reset", v);
    }
    if (au->idem_replayed)
        (void)MHD_add_response_header(r, "Idempotent-Replayed", "true");
    if (!au->cors)
        return;
    (void)MHD_add_response_header(r, "Vary", "Origin");
    if (!au->origin[0])
        return;
    (void)MHD_add_response_header(r, "Access-Control-Allow-Origin", au->origin);
    if (rq->status == 204) {
        char age[24];
        (void)snprintf(age, sizeof(age), "%llu",
                       (unsigned long long)rq->srv->deps.cfg->cors_max_age_s);
        (void)MHD_add_response_header(r, "Access-Control-Allow-Methods",
                                      "GET, POST, PUT, DELETE, OPTIONS");
        (void)MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                      "Authorization, Content-Type, Idempotency-Key, "
                                      "X-Auth-Token, X-Auth-User");
        (void)MHD_add_response_header(r, "Access-Control-Max-Age", age);
    } else {
        (void)MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                      "Location, Retry-After, RateLimit-Limit, "
                                      "RateLimit-Remaining, RateLimit-Reset, Idempotent-Replayed");
    }
}
