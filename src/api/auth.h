#pragma once
/*
 * Who is calling (auth.c): API keys, their quotas and maxima, CORS; and
 * Idempotency-Key submissions (idempotency.c). Route-table independent:
 * server.c runs the key check on every request before routing (only
 * /healthz, /readyz and /metrics are open), and every submit route asks
 * api_auth_admit before it submits.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/util.h"

struct api_server;
struct api_req;
struct job;
struct moat_err;
struct MHD_Response;

/* What one request learnt about its caller; lives in struct api_req. */
struct api_req_auth {
    bool keyed;                     /* a valid key was given */
    char key_id[MOAT_UUID_LEN + 1]; /* its id */
    bool challenge;                 /* 401: send WWW-Authenticate */
    bool bad_key;                   /* ... with error="invalid_token" */
    uint32_t reserved;              /* concurrent-job slots of key_id it holds */
    bool rate_headers;              /* RateLimit-* are sent */
    uint64_t rate_limit, rate_remaining, rate_reset_s;
    char origin[256]; /* an allowed Origin to echo; "" = none */
    bool cors;        /* CORS is configured: Vary: Origin */
    /* Idempotency-Key */
    bool idem_claimed;  /* this request owns the record */
    bool idem_replayed; /* the answer is the first request's */
    char idem_key[256];
    char ctype[64]; /* a replayed answer's content type */
};

struct api_auth;

/*
 * Loads the keys (through exec) and starts the reload thread; refuses
 * (-EPERM with err naming server.listen) a public listen address without
 * any active key unless auth.allow_anonymous. A worker node (service_only)
 * serves only open routes: no keys are loaded. -errno with err set.
 */
int api_auth_start(struct api_server *srv, struct moat_err *err);
/* Stops the reload thread and frees. Accepts srv->auth NULL. */
void api_auth_stop(struct api_server *srv);

/*
 * The head of a request is in (on its MHD thread, before routing):
 * answers a CORS preflight, or a 401 when the request needs a key and has
 * none or a bad one; otherwise notes the caller in rq->auth. True when
 * the request goes on to routing.
 */
bool api_auth_head(struct api_server *srv, struct api_req *rq, const char *method, const char *url);

/*
 * May rq's caller submit job j (decoded, limits filled)? Lowers a limit
 * left at the server's default to the key's maximum, then checks the key's
 * maxima (403 over_key_limit naming the native field: timeoutMs,
 * wallTimeoutMs, memoryMb, maxProcesses, maxOutputKb), its languages (403
 * language_not_allowed, field "language"), its concurrent jobs (429
 * too_many_jobs) and its jobs per minute (429 rate_limited with
 * Retry-After and RateLimit-* set on rq). False with *err filled (the
 * route answers it in its own shape: api_reply_error for moat's); true with a
 * concurrent-job slot reserved until the request completes (a job accepted
 * by then is counted until it is final). Anonymous callers are not
 * limited. Every submit route calls it between decoding and exec_submit,
 * once per job (a batch: once per member).
 */
struct api_error;
bool api_auth_admit(struct api_server *srv, struct api_req *rq, struct job *j,
                    struct api_error *err);

/* A job accepted for rq (job_id) takes one of its reserved slots, counted
 * until the job is final; job_id NULL gives back every slot rq still holds
 * (server.c calls it when the request is answered, with rq->sub.job.id
 * when rq->have_sub and the answer is a 2xx, and when it completes). A
 * route that submits several jobs (a batch) or keeps its job elsewhere
 * than rq->sub calls it with each accepted job's id before answering. */
void api_auth_done(struct api_server *srv, struct api_req *rq, const char *job_id);

/* Adds the caller's headers to a response: WWW-Authenticate, RateLimit-*,
 * CORS, Idempotent-Replayed. */
void api_auth_headers(const struct api_req *rq, struct MHD_Response *r);

/* ---- auth-rules.c: the pure decisions (unit-tested, fuzzed) ---- */
struct moat_config;

/* Who a caller is, from what it gave. */
enum api_caller {
    API_CALLER_KEYED,     /* a valid, active key */
    API_CALLER_ANONYMOUS, /* no key, and none is needed */
    API_CALLER_MISSING,   /* no key, and one is needed: 401 missing_key */
    API_CALLER_INVALID,   /* an unknown or revoked key, or an Authorization
                             header that is not "Bearer <key>": 401
                             invalid_key (even where none is needed) */
};
/* given: a key was given; found: it is a live key; malformed: the header
 * that carries it is not usable; any_keys: a live key exists. Where
 * anonymous callers are served and no key exists, whatever is given is
 * ignored; otherwise a given key is always checked. */
enum api_caller api_auth_decide(bool given, bool found, bool malformed, bool anonymous_ok,
                                bool any_keys);
/* Whether callers without a key are served: auth.allow_anonymous, or a
 * loopback address without auth.require_keys while no live key exists. */
bool api_anonymous_ok(const struct moat_config *cfg, bool loopback, size_t live_keys);
/* Whether "host:port" ("[v6]:port") is a loopback address (127/8, ::1);
 * false for "" (every address). */
bool api_listen_loopback(const char *listen);
/* The token of an Authorization header "Bearer <token>" (the scheme in
 * any case, then spaces; the token without spaces, not empty), pointing
 * into authorization; NULL for anything else. */
const char *api_bearer_token(const char *authorization);
/* /healthz, /readyz and /metrics: served without a key. */
bool api_open_path(const char *url);
/* Whether origin is in the comma-separated list ("*" allows any). */
bool api_origin_allowed(const char *list, const char *origin);
/* Whether lang is in the comma-separated list ("" allows every one). */
bool api_language_allowed(const char *list, const char *lang);

/* The jobs-per-minute bucket of one key (GCRA): a burst of per_minute,
 * then one every 60/per_minute s. */
struct api_rate {
    uint64_t limit, remaining;
    uint64_t reset_s;       /* until the bucket is full again */
    uint64_t retry_after_s; /* refused: until the next one is taken */
};
/* Takes one from the bucket whose state is *tat_us (0 for a new one) at
 * now_us (monotonic): true and *tat_us advanced, or false (over the quota)
 * with *tat_us unchanged. per_minute >= 1. *out is filled either way. */
bool api_rate_take(int64_t *tat_us, uint64_t per_minute, int64_t now_us, struct api_rate *out);

/* ---- idempotency.c ---- */
/*
 * The request is whole, before its handler: with an Idempotency-Key on a
 * POST that takes a body, claims the key for the caller. False when rq has
 * its answer (the first request's, replayed; 422 for another body; 409
 * while the first is in flight; 400 for a malformed key; 503).
 */
bool api_idem_begin(struct api_server *srv, struct api_req *rq, const char *method,
                    const char *url);
/* rq's answer is made: keeps it (a 2xx) under the claimed key, or drops
 * the claim so that a retry may go through. */
void api_idem_end(struct api_server *srv, struct api_req *rq);
