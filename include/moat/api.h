#pragma once
/*
 * api: the HTTP service of `moat serve` (libmicrohttpd: an epoll thread
 * pool; a request waiting for its job is suspended, holding no thread).
 * Routes and errors are API.md's; this module is the only place where
 * errors become HTTP statuses.
 */
#include <stdbool.h>

#include "moat/config.h"

struct exec;
struct obs_registry;
struct lang_registry;
struct moat_err;
struct api_server;

struct api_deps {
    const struct moat_config *cfg;
    const struct lang_registry *langs;
    struct exec *exec;            /* the jobs: submit, read, cancel, wait */
    struct obs_registry *metrics; /* NULL = no /metrics content */
    bool service_only;            /* a worker node: /healthz, /readyz and
                                     /metrics only */
    const char *about_json;       /* GET /v1/version's body (the caller's
                                     build and kernel facts); NULL: 404 */
};

/*
 * Listens on cfg->listen ("host:port"; port 0 picks a free one, see
 * api_server_port) and serves until api_server_stop. Borrows deps and what
 * it points to until then. -errno with err set (-EADDRINUSE, -EINVAL for a
 * bad address).
 */
int api_server_start(const struct api_deps *deps, struct api_server **out, struct moat_err *err);
/* The port it listens on. */
unsigned api_server_port(const struct api_server *srv);
/* The HTTP event threads cfg asks for: http_threads, or the CPUs when 0. */
unsigned api_http_threads(const struct moat_config *cfg);
/* Answers every waiting request, stops listening, joins the threads, frees.
 * Accepts NULL. */
void api_server_stop(struct api_server *srv);

/*
 * The body of a native webhook delivery (a notify_render_fn of shape
 * native): final job j as GET /v1/jobs/{id} answers it, compact JSON, the
 * outputs clipped to server.max_inline_output_kb like there. cls is the
 * const struct moat_config *. *body malloc'd (caller frees). -ENOMEM.
 * Thread-safe.
 */
struct job;
int api_callback_render_native(void *cls, const struct job *j, char **body, size_t *len);
/* The same for shape judge0 (sent with PUT): the Judge0 submission with its
 * default fields (token, stdout, stderr, compile_output, message, status,
 * time, memory), text always in base64 as Judge0 sends it. */
int api_callback_render_judge0(void *cls, const struct job *j, char **body, size_t *len);

/*
 * The NATS API of an API node (docs/nats.md): the request subjects
 * compiler.execute.request and problems.execute.request (seed 004) and
 * <subject_prefix>.jobs.submit (the native body), in the queue group
 * "moat", on the NATS servers of cfg->queue. Connects in the background
 * when they are away. Borrows deps until api_nats_stop.
 */
struct api_nats;
int api_nats_start(const struct api_deps *deps, struct api_nats **out, struct moat_err *err);
/* Stops taking requests, answers those taken, disconnects, frees. Accepts
 * NULL. */
void api_nats_stop(struct api_nats *an);
