#pragma once
/*
 * The HTTP server's private parts: one struct api_req per request, shared
 * by the libmicrohttpd glue (server.c), the notices of exec (wait.c) and
 * the route handlers (routes.c).
 *
 * A request that needs something slow (a submission being written, a job
 * to finish) is suspended: it holds no thread. exec's notice says why the
 * request may go on (req->resume_reason) and resumes it; libmicrohttpd
 * then calls the handler again on one of its threads, which builds the
 * response. The rule that keeps suspend/resume sound: a request is
 * suspended *before* anything that may resume it is started.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "api-internal.h"
#include "auth.h"
#include "moat/api.h"
#include "moat/exec.h"
#include "moat/util.h"

struct obs_histogram;
struct api_req;

/* The output stream a stream route serves. */
enum api_stream {
    API_STREAM_NONE,
    API_STREAM_STDOUT,
    API_STREAM_STDERR,
    API_STREAM_COMPILE_STDOUT,
    API_STREAM_COMPILE_STDERR,
};

/* What a route does with a request whose body (if any) has been read. */
typedef void (*api_handler_fn)(struct api_server *srv, struct api_req *rq);

struct api_route {
    const char *method;
    const char *pattern;   /* "/v1/jobs/{id}": {id} matches one path segment */
    const char *label;     /* route label of the metrics: the pattern */
    api_handler_fn handle; /* first call with the whole body */
    api_handler_fn resume; /* after a suspension; NULL when it never suspends */
    bool body;             /* takes a request body */
    enum api_shape shape;
    enum api_stream stream; /* of the output routes */
    bool service;           /* served by a worker node too */
};

enum api_resume_reason {
    API_RESUME_NONE,
    API_RESUME_ACCEPTED, /* the submission is durable and queued */
    API_RESUME_REFUSED,  /* the submission failed (submit_error) */
    API_RESUME_FINISHED, /* the awaited job reached a final status */
    API_RESUME_DEADLINE, /* waited as long as the server allows */
    API_RESUME_SHUTDOWN, /* the server is stopping */
};

struct api_req {
    struct api_server *srv;
    struct MHD_Connection *conn;
    const struct api_route *route;
    const char *route_label;
    char id[MOAT_UUID_LEN + 1]; /* the {id} of the path */
    uint64_t start_ns;

    struct buf body;
    bool body_too_large;
    uint64_t dropped; /* body bytes read and dropped after a refusal */
    bool answer_now;  /* the refusal cannot wait for the body's end */

    /* the response, once there is one */
    bool has_response;
    unsigned status;
    char *resp; /* owned */
    size_t resp_len;
    const char *ctype; /* static */
    char location[96];
    const char *allow;    /* static, for 405 */
    unsigned retry_after; /* seconds, for 429 and 503; 0 = none */

    /* a submission in flight */
    struct api_submit sub;
    bool have_sub;
    bool wait;
    int submit_error; /* API_RESUME_REFUSED: -errno */

    /* suspension */
    bool suspended;
    bool held;                 /* counted in srv->held */
    _Atomic int resume_reason; /* enum api_resume_reason */
    json_t *waited;            /* the final job, rendered by the notice */

    /* What a route keeps between its calls (a batch in flight), freed
     * with the request by route_state_free. */
    void *route_state;
    void (*route_state_free)(void *state);
    struct api_req_auth auth; /* the caller (auth.h) */
};

struct api_guard;

struct api_server {
    struct api_deps deps;
    struct MHD_Daemon *mhd;
    struct api_guard *guard; /* guard.c */
    struct api_auth *auth;   /* auth.c */
    unsigned port;
    char *languages_json; /* GET /v1/languages, built once */
    size_t languages_len;

    /* requests suspended at least once and not completed yet: the server
     * stops only once each has had its answer */
    _Atomic unsigned held;

    /* The request-duration series of each route (and "unknown") and
     * common status, found once: a request then observes with two atomic
     * adds instead of formatting its labels and looking them up under the
     * registry's lock. (api_route_count() + 1) * API_STATUS_SLOTS cells. */
    struct obs_histogram *_Atomic *http_hist;
};

/* The statuses whose request-duration series are kept by server.c. */
#define API_STATUS_SLOTS 14

/* ---- server.c ---- */
/* Suspends rq (on an MHD thread, inside the handler). */
void api_req_suspend(struct api_req *rq);
/* Resumes a suspended rq for reason (any thread). */
void api_req_resume(struct api_req *rq, enum api_resume_reason reason);
/* The response of rq: a JSON value (stolen; NULL = out of memory → 500). */
void api_reply_json(struct api_req *rq, unsigned status, json_t *body);
/* A response of bytes (copied) with a static content type. */
void api_reply_bytes(struct api_req *rq, unsigned status, const char *ctype, const void *data,
                     size_t len);
void api_reply_error(struct api_req *rq, const struct api_error *e);
__attribute__((format(printf, 5, 6))) void api_reply_fail(struct api_req *rq, unsigned status,
                                                          const char *code, const char *field,
                                                          const char *fmt, ...);
/* The value of a query argument, NULL when absent. */
const char *api_query(struct api_req *rq, const char *name);
/* ?wait=true (or 1); false for a missing or other value. */
bool api_query_wait(struct api_req *rq);

/* ---- wait.c ---- */
/* exec_notice_fn of a suspended request (cls): records why it goes on,
 * renders a final job given with the notice (off the HTTP threads), and
 * resumes it. */
void api_on_notice(void *cls, const struct exec_notice *n);
/* Suspends rq until its job rq->id is final or the wait is over (resumed
 * at once when it is final already or cannot be watched). */
void api_wait_for_job(struct api_server *srv, struct api_req *rq);

/* ---- piston.c: the Piston v2 routes (docs/piston.md) ---- */
/* POST /api/v2/execute: decodes, submits and waits; answered on resume. */
void api_piston_execute(struct api_server *srv, struct api_req *rq);
void api_piston_execute_resume(struct api_server *srv, struct api_req *rq);
/* GET /api/v2/runtimes. */
void api_piston_runtimes(struct api_server *srv, struct api_req *rq);
/* GET (an empty list), POST and DELETE (404) /api/v2/packages. */
void api_piston_packages(struct api_server *srv, struct api_req *rq);

/* ---- guard.c: deadlines of requests, the connection reserve ---- */
int api_guard_start(struct api_server *srv);
/* Stops the guard's thread (before the daemon stops); frees it after. */
void api_guard_stop(struct api_server *srv);
void api_guard_free(struct api_server *srv);
/* MHD_OPTION_NOTIFY_CONNECTION (cls: the server). */
void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* The request's head is in / the request is whole / answered (the next
 * one's deadline starts). On the connection's thread. */
void api_guard_head_in(struct api_server *srv, struct MHD_Connection *c);
void api_guard_request_whole(struct api_server *srv, struct MHD_Connection *c);
void api_guard_request_done(struct api_server *srv, struct MHD_Connection *c);
/* MHD_OPTION_UNESCAPE_CALLBACK: %-decoding that marks the request when an
 * escape decodes to a control byte. */
size_t api_guard_unescape(void *cls, struct MHD_Connection *c, char *s);
/* That mark, for the current request of c. */
bool api_guard_bad_escape(struct MHD_Connection *c);

/* ---- inspect.c ---- */
/* Refuses (answering 400 or 501 itself, false) a request whose decoded
 * path, query or headers hold a control byte, or whose Transfer-Encoding
 * is not chunked. */
bool api_inspect_request(struct api_req *rq, const char *url);

/* ---- routes.c ---- */
/* The job in shape's JSON, each output stream inlined up to the server's
 * max_inline_output_kb (the rest is at its own route). New reference. */
json_t *api_job_render(struct api_server *srv, enum api_shape shape, const struct job *j);
/* The route for method and path: sets rq->route and rq->id, or answers 404
 * or 405 (with Allow). */
void api_route(struct api_server *srv, struct api_req *rq, const char *method, const char *url);
/* GET /v1/languages, built once at start. */
int api_languages_build(struct api_server *srv);
/* The routes of the table, and the place of one in it (0..count-1). */
size_t api_route_count(void);
size_t api_route_index(const struct api_route *r);
