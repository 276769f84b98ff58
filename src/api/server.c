/*
 * libmicrohttpd glue: the daemon (epoll, a thread pool, connection limits),
 * the life of one request (headers, body, handler, suspension, response),
 * and the request metrics.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <strings.h>
#include <unistd.h>

#include "server-internal.h"

#include "moat/obs.h"

#define HTTP_DURATION "moat_http_request_duration_seconds"

static void req_free(struct api_req *rq)
{
    if (!rq)
        return;
    if (rq->have_sub)
        job_release(&rq->sub.job);
    if (rq->route_state_free)
        rq->route_state_free(rq->route_state);
    buf_release(&rq->body);
    json_decref(rq->waited);
    free(rq->resp);
    free(rq);
}

static void set_response(struct api_req *rq, unsigned status, const char *ctype, char *data,
                         size_t len)
{
    free(rq->resp);
    rq->has_response = true;
    rq->status = status;
    rq->ctype = ctype;
    rq->resp = data;
    rq->resp_len = len;
}

void api_reply_bytes(struct api_req *rq, unsigned status, const char *ctype, const void *data,
                     size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        set_response(rq, 500, "application/json", NULL, 0);
        return;
    }
    if (len)
        memcpy(copy, data, len);
    set_response(rq, status, ctype, copy, len);
}

void api_reply_json(struct api_req *rq, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JOB_JSON_DUMP_FLAGS) : NULL;
    json_decref(body);
    if (!text) {
        /* nothing better can be said without memory */
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        api_reply_bytes(rq, 500, "application/json", oom, sizeof(oom) - 1);
        return;
    }
    set_response(rq, status, "application/json", text, strlen(text));
}

void api_reply_error(struct api_req *rq, const struct api_error *e)
{
    api_reply_json(rq, e->status, api_error_json(e));
}

void api_reply_fail(struct api_req *rq, unsigned status, const char *code, const char *field,
                    const char *fmt, ...)
{
    struct api_error e = {.status = status, .code = code};
    if (field)
        moat_strlcpy(e.field, field, sizeof(e.field));
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(e.message, sizeof(e.message), fmt, ap);
    va_end(ap);
    api_reply_error(rq, &e);
}

const char *api_query(struct api_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool api_query_wait(struct api_req *rq)
{
    const char *w = api_query(rq, "wait");
    bool b = false;
    return w && parse_bool(w, &b) == 0 && b;
}

void api_req_suspend(struct api_req *rq)
{
    atomic_store(&rq->resume_reason, API_RESUME_NONE);
    if (!rq->held) {
        rq->held = true;
        atomic_fetch_add(&rq->srv->held, 1);
    }
    rq->suspended = true;
    MHD_suspend_connection(rq->conn);
}

void api_req_resume(struct api_req *rq, enum api_resume_reason reason)
{
    atomic_store(&rq->resume_reason, (int)reason);
    MHD_resume_connection(rq->conn);
}

/* The cell of http_hist for a status, or -1 for one seldom answered (its
 * series is looked up each time). */
static int status_slot(unsigned status)
{
    static const unsigned slots[API_STATUS_SLOTS] = {200, 202, 400, 404, 405, 409, 413,
                                                     415, 429, 431, 500, 501, 503, 401};
    for (int i = 0; i < API_STATUS_SLOTS; i++)
        if (slots[i] == status)
            return i;
    return -1;
}

static void observe(struct api_server *srv, struct api_req *rq)
{
    if (!srv->deps.metrics)
        return;
    /* A request no route took is "unknown": the last row. */
    size_t row = rq->route ? api_route_index(rq->route) : api_route_count();
    int slot = status_slot(rq->status);
    struct obs_histogram *_Atomic *cell =
        srv->http_hist && slot >= 0 ? &srv->http_hist[row * API_STATUS_SLOTS + (size_t)slot] : NULL;
    struct obs_histogram *h = cell ? atomic_load_explicit(cell, memory_order_acquire) : NULL;
    if (!h) {
        char labels[160];
        (void)snprintf(labels, sizeof(labels), "route=\"%s\",status=\"%u\"", rq->route_label,
                       rq->status);
        h = obs_histogram(srv->deps.metrics, HTTP_DURATION,
                          "Time from a request's headers to its response, by route and status",
                          labels);
        /* Two threads may both look it up: they find the same series. */
        if (cell && h)
            atomic_store_explicit(cell, h, memory_order_release);
    }
    obs_histogram_since(h, rq->start_ns);
}

static enum MHD_Result send_response(struct api_server *srv, struct api_req *rq)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rq->resp_len, rq->resp, MHD_RESPMEM_MUST_FREE);
    if (!r)
        return MHD_NO;
    rq->resp = NULL; /* the response owns it */
    if (rq->ctype)
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->ctype);
    if (rq->location[0])
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, rq->location);
    if (rq->allow)
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rq->allow);
    if (rq->retry_after) {
        char v[16];
        (void)snprintf(v, sizeof(v), "%u", rq->retry_after);
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    (void)MHD_add_response_header(r, "Cache-Control", "no-store");
    api_auth_headers(rq, r);
    enum MHD_Result ret = MHD_queue_response(rq->conn, rq->status, r);
    MHD_destroy_response(r);
    observe(srv, rq);
    return ret;
}

/* The body limit is known from Content-Length before any byte is read:
 * refused there (API.md: 413 from the header). */
static bool check_length(struct api_server *srv, struct api_req *rq, uint64_t *declared)
{
    const char *cl =
        MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    uint64_t max = srv->deps.cfg->max_body_kb << 10;
    if (cl && parse_u64(cl, 0, UINT64_MAX, &n) == 0)
        *declared = n;
    if (*declared > max) {
        api_reply_fail(rq, 413, "payload_too_large", NULL,
                       "the request body is %llu bytes; at most %llu are accepted",
                       (unsigned long long)*declared, (unsigned long long)max);
        return false;
    }
    return true;
}

/*
 * A refusal made from the head (bad bytes, no route, a body too large) is
 * sent once the request is whole: libmicrohttpd closes a connection that
 * is answered before its body is read, which drops the requests pipelined
 * behind it and resets a client still sending (it never reads the answer).
 * So the body is read and dropped, up to max_refused_body_mb. Sent at once
 * instead: when the request cannot be delimited, when the client waits for
 * "100 Continue" (it sends no body then), and when the declared body is
 * past what is worth reading.
 */
static bool refuse_now(struct api_server *srv, struct api_req *rq, uint64_t declared)
{
    if (rq->answer_now)
        return true;
    const char *expect =
        MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return true;
    return declared > (srv->deps.cfg->max_refused_body_mb << 20);
}

/* The first call: the head is in. Answers nothing yet unless it must. */
static enum MHD_Result on_head(struct api_server *srv, struct MHD_Connection *c, const char *url,
                               const char *method, void **con_cls)
{
    struct api_req *rq = calloc(1, sizeof(*rq));
    if (!rq)
        return MHD_NO;
    rq->srv = srv;
    rq->conn = c;
    rq->start_ns = moat_now_ns();
    rq->route_label = "unknown";
    buf_init(&rq->body, srv->deps.cfg->max_body_kb << 10);
    *con_cls = rq;
    api_guard_head_in(srv, c);
    uint64_t declared = 0;
    if (api_inspect_request(rq, url) && api_auth_head(srv, rq, method, url))
        api_route(srv, rq, method, url);
    if (!rq->has_response && rq->route->body)
        (void)check_length(srv, rq, &declared);
    if (rq->has_response && refuse_now(srv, rq, declared))
        return send_response(srv, rq);
    return MHD_YES;
}

/* A piece of the body: kept, or dropped after a refusal (up to the bound,
 * past which the connection is closed unanswered: a body without a length
 * that will not end). */
static enum MHD_Result on_body(struct api_server *srv, struct api_req *rq, const char *upload,
                               size_t *upload_size)
{
    bool keep = !rq->has_response && !rq->body_too_large;
    if (keep && buf_append(&rq->body, upload, *upload_size) == -ENOBUFS)
        rq->body_too_large = true; /* no Content-Length: read on, answer at the end */
    if (!keep || rq->body_too_large)
        rq->dropped += *upload_size;
    *upload_size = 0;
    return rq->dropped > (srv->deps.cfg->max_refused_body_mb << 20) ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct api_server *srv = cls;
    struct api_req *rq = *con_cls;
    if (!rq)
        return on_head(srv, c, url, method, con_cls);
    if (*upload_size)
        return on_body(srv, rq, upload, upload_size);
    if (!rq->suspended)
        api_guard_request_whole(srv, c);
    if (rq->has_response)
        return send_response(srv, rq);
    if (!rq->suspended && !rq->body_too_large && !api_idem_begin(srv, rq, method, url))
        return send_response(srv, rq);
    if (rq->suspended) {
        rq->suspended = false;
        rq->route->resume(srv, rq);
    } else if (rq->body_too_large) {
        api_reply_fail(rq, 413, "payload_too_large", NULL, "the request body is over %llu bytes",
                       (unsigned long long)rq->body.max);
    } else {
        rq->route->handle(srv, rq);
    }
    if (rq->suspended)
        return MHD_YES;
    if (!rq->has_response) /* a handler always answers or suspends */
        api_reply_fail(rq, 500, "internal", NULL, "no response was made");
    api_idem_end(srv, rq);
    bool accepted = rq->have_sub && rq->sub.job.id[0] && rq->status >= 200 && rq->status < 300;
    api_auth_done(srv, rq, accepted ? rq->sub.job.id : NULL);
    return send_response(srv, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    api_guard_request_done(cls, c);
    struct api_req *rq = *con_cls;
    if (rq) { /* never answered (the client went away): nothing is kept */
        api_idem_end(rq->srv, rq);
        api_auth_done(rq->srv, rq, NULL);
    }
    if (rq && rq->held)
        atomic_fetch_sub(&rq->srv->held, 1);
    req_free(rq);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_debug("event=http_error msg=\"%s\"", msg);
}

/* "host:port", "[v6]:port" -> a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, struct moat_err *err)
{
    char host[128];
    moat_strlcpy(host, listen, sizeof(host));
    char *colon = strrchr(host, ':');
    if (!colon)
        return moat_err_field(err, -EINVAL, "server.listen", "'%s' is not HOST:PORT", listen);
    *colon = '\0';
    const char *port = colon + 1;
    char *h = host;
    if (*h == '[') {
        h++;
        size_t n = strlen(h);
        if (n == 0 || h[n - 1] != ']')
            return moat_err_field(err, -EINVAL, "server.listen", "bad address '%s'", listen);
        h[n - 1] = '\0';
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int r = getaddrinfo(*h ? h : NULL, port, &hints, &ai);
    if (r != 0)
        return moat_err_field(err, -EINVAL, "server.listen", "bad address '%s': %s", listen,
                              gai_strerror(r));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

unsigned api_http_threads(const struct moat_config *cfg)
{
    if (cfg->http_threads)
        return (unsigned)cfg->http_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int api_server_start(const struct api_deps *deps, struct api_server **out, struct moat_err *err)
{
    struct sockaddr_storage ss = {0};
    int r = parse_listen(deps->cfg->listen, &ss, err);
    if (r < 0)
        return r;
    struct api_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->deps = *deps;
    srv->http_hist = calloc((api_route_count() + 1) * API_STATUS_SLOTS, sizeof(*srv->http_hist));
    if (!srv->http_hist) {
        r = -ENOMEM;
        goto fail;
    }
    r = api_languages_build(srv);
    if (r < 0) {
        moat_err_set(err, r, "cannot list the languages");
        goto fail;
    }
    r = api_auth_start(srv, err);
    if (r < 0)
        goto fail;
    r = api_guard_start(srv);
    if (r < 0) {
        moat_err_set(err, r, "cannot start the connection guard");
        goto fail;
    }
    const struct moat_config *cfg = deps->cfg;
    unsigned threads = api_http_threads(cfg);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(cfg->connection_memory_kb << 10), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_NOTIFY_CONNECTION, api_guard_notify, srv, MHD_OPTION_UNESCAPE_CALLBACK,
        api_guard_unescape, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_END);
    if (!srv->mhd) {
        r = -EADDRINUSE;
        moat_err_field(err, r, "server.listen", "cannot listen on %s", cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    *out = srv;
    return 0;
fail:
    api_server_stop(srv);
    return r;
}

unsigned api_server_port(const struct api_server *srv)
{
    return srv->port;
}

void api_server_stop(struct api_server *srv)
{
    if (!srv)
        return;
    /* No new connections; then every suspended request must be answered
     * before the daemon stops (a stopping daemon drops them unanswered):
     * submissions are resumed once written (the store closes after the
     * server), waiters by exec_release with the job as it is. */
    if (srv->mhd) {
        MHD_socket s = MHD_quiesce_daemon(srv->mhd);
        if (s != MHD_INVALID_SOCKET)
            (void)close(s);
    }
    if (srv->deps.exec)
        exec_release(srv->deps.exec, srv);
    for (int i = 0; srv->mhd && i < 10000 && atomic_load(&srv->held); i++)
        (void)usleep(1000);
    if (srv->mhd && atomic_load(&srv->held)) {
        /* A commit still owes requests their answer (a stalled disk): the
         * store will resume them later, so neither the daemon nor srv may
         * go. The process is exiting: leaving them is the safe choice. */
        log_error("event=stop_incomplete held=%u", atomic_load(&srv->held));
        return;
    }
    api_guard_stop(srv);
    if (srv->mhd)
        MHD_stop_daemon(srv->mhd);
    api_guard_free(srv);
    api_auth_stop(srv);
    free(srv->languages_json);
    free(srv->http_hist);
    free(srv);
}
