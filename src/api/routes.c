/*
 * The routes of API.md: the native /v1 API, the seeds' compatible shapes,
 * and the service routes (health, readiness, metrics, languages, the
 * OpenAPI document).
 */
#include "judge0-internal.h"
#include "server-internal.h"

#include "moat/exec.h"
#include "moat/obs.h"

extern const unsigned char moat_openapi_yaml[];
extern const size_t moat_openapi_yaml_len;

/* ---- reading jobs ---- */

/* A read the store failed: 503 while it is away (a database that does not
 * answer comes back by itself), 500 for anything else. */
static void reply_read_failed(struct api_req *rq, int r, const struct moat_err *err)
{
    if (r == -ENOTCONN) {
        rq->retry_after = 1;
        api_reply_fail(rq, 503, "store_unavailable", NULL, "the store does not answer: %s",
                       err->msg);
        return;
    }
    api_reply_fail(rq, 500, "internal", NULL, "the store cannot be read: %s", err->msg);
}

/* Loads rq->id into *j, answering 404 (or 500, 503) itself when it cannot. */
static bool load_job(struct api_server *srv, struct api_req *rq, unsigned what, struct job *j)
{
    struct moat_err err = {0};
    int r = exec_get(srv->deps.exec, rq->id, what, j, &err);
    if (r == -ENOENT) {
        api_reply_fail(rq, 404, "not_found", NULL, "no job %s", rq->id);
        return false;
    }
    if (r < 0) {
        reply_read_failed(rq, r, &err);
        return false;
    }
    return true;
}

json_t *api_job_render(struct api_server *srv, enum api_shape shape, const struct job *j)
{
    struct job view = api_job_clipped(j, (size_t)(srv->deps.cfg->max_inline_output_kb << 10));
    return api_job_json_shaped(shape, &view);
}

/* The job in the shape its route speaks. */
static void reply_job(struct api_server *srv, struct api_req *rq, unsigned status,
                      const struct job *j)
{
    api_reply_json(rq, status, api_job_render(srv, rq->route->shape, j));
}

/* After a wait: the job as it is now; 200 once final, else 202. */
static void reply_waited(struct api_server *srv, struct api_req *rq)
{
    if (rq->waited) { /* rendered by whoever finished it: no read */
        api_reply_json(rq, 200, rq->waited);
        rq->waited = NULL;
        return;
    }
    struct job j = {0};
    if (!load_job(srv, rq, EXEC_GET_OUTPUT, &j))
        return;
    reply_job(srv, rq, job_status_final(j.status) ? 200 : 202, &j);
    if (!job_status_final(j.status))
        (void)snprintf(rq->location, sizeof(rq->location), "/v1/jobs/%s", j.id);
    job_release(&j);
}

/* ---- submissions ---- */

static void submit_handle(struct api_server *srv, struct api_req *rq)
{
    const struct moat_config *cfg = srv->deps.cfg;
    const char *ctype =
        MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *qlang = rq->route->shape == API_SHAPE_SEED002 ? api_query(rq, "language") : NULL;
    struct api_error e = {0};
    if (api_decode_submit(cfg, srv->deps.langs, rq->route->shape, ctype, qlang, rq->body.data,
                          rq->body.len, &rq->sub, &e) < 0) {
        api_reply_error(rq, &e);
        return;
    }
    rq->have_sub = true;
    if (!api_auth_admit(srv, rq, &rq->sub.job, &e)) {
        api_reply_error(rq, &e);
        return;
    }
    buf_release(&rq->body); /* the job holds its own copies now */
    rq->wait = (rq->sub.wait || api_query_wait(rq)) && cfg->max_wait_ms > 0;
    api_req_suspend(rq);
    int r = exec_submit(srv->deps.exec, &rq->sub.job, rq->wait, srv, api_on_notice, rq);
    if (r == 0) {
        moat_strlcpy(rq->id, rq->sub.job.id, sizeof(rq->id));
        return;
    }
    rq->submit_error = r; /* refused at once: answered when resumed */
    api_req_resume(rq, API_RESUME_REFUSED);
}

static void reply_accepted(struct api_req *rq)
{
    const struct job *j = &rq->sub.job;
    (void)snprintf(rq->location, sizeof(rq->location), "/v1/jobs/%s", j->id);
    char text[128];
    size_t n = api_accepted_text(rq->route->shape, j->id, text, sizeof(text));
    if (n)
        api_reply_bytes(rq, 202, "application/json", text, n);
    else /* seed 000 answers with the job's record */
        api_reply_json(rq, 202, api_job_json_seed000(j));
}

static void reply_refused(struct api_server *srv, struct api_req *rq)
{
    int e = rq->submit_error;
    rq->retry_after = 1;
    if (e == -EAGAIN) {
        api_reply_fail(rq, 429, "queue_full", NULL,
                       "the queue holds its maximum of %llu jobs; try again later",
                       (unsigned long long)srv->deps.cfg->max_queue);
        return;
    }
    if (e == -ENOMEM) {
        api_reply_fail(rq, 500, "internal", NULL, "out of memory");
        return;
    }
    if (e == -ESHUTDOWN) {
        api_reply_fail(rq, 503, "stopping", NULL,
                       "the server is stopping; nothing was accepted (send it to another node)");
        return;
    }
    api_reply_fail(rq, 503, e == -ENOTCONN ? "queue_unavailable" : "store_unavailable", NULL,
                   "the job could not be %s (%s); nothing was accepted",
                   e == -ENOTCONN ? "queued" : "stored", strerror(-e));
}

static void submit_resume(struct api_server *srv, struct api_req *rq)
{
    int why = atomic_load(&rq->resume_reason);
    if (why == API_RESUME_ACCEPTED)
        reply_accepted(rq);
    else if (why == API_RESUME_REFUSED)
        reply_refused(srv, rq);
    else /* the wait is over, one way or another */
        reply_waited(srv, rq);
}

/* ---- one job ---- */

static void job_get(struct api_server *srv, struct api_req *rq)
{
    struct job j = {0};
    if (!load_job(srv, rq, EXEC_GET_OUTPUT, &j))
        return;
    bool final = job_status_final(j.status);
    if (!final && api_query_wait(rq) && srv->deps.cfg->max_wait_ms > 0) {
        job_release(&j);
        api_wait_for_job(srv, rq);
        return;
    }
    reply_job(srv, rq, 200, &j);
    job_release(&j);
}

/* One stream of a finished job, whole, as text/plain: what its JSON leaves
 * out past max_inline_output_kb is here. */
static void job_output(struct api_server *srv, struct api_req *rq)
{
    enum api_stream stream = rq->route->stream;
    struct job j = {0};
    if (!load_job(srv, rq, stream == API_STREAM_STDOUT ? 0 : EXEC_GET_OUTPUT, &j))
        return;
    bool final = job_status_final(j.status);
    enum job_status st = j.status;
    if (!final) {
        job_release(&j);
        api_reply_fail(rq, 409, "not_finished", NULL,
                       "job %s is %s; its output comes when it has finished", rq->id,
                       job_status_name(st));
        return;
    }
    if (stream != API_STREAM_STDOUT) {
        const struct job_step *step = stream == API_STREAM_STDERR ? &j.run : &j.compile;
        bool err = stream != API_STREAM_COMPILE_STDOUT;
        api_reply_bytes(rq, 200, "text/plain; charset=utf-8", err ? step->err : step->out,
                        err ? step->err_len : step->out_len);
        job_release(&j);
        return;
    }
    job_release(&j);
    char *data = NULL;
    size_t len = 0;
    struct moat_err err = {0};
    int r = exec_get_output(srv->deps.exec, rq->id, &data, &len, &err);
    if (r == -ENOENT) {
        api_reply_bytes(rq, 200, "text/plain; charset=utf-8", "", 0);
        return;
    }
    if (r < 0) {
        reply_read_failed(rq, r, &err);
        return;
    }
    api_reply_bytes(rq, 200, "text/plain; charset=utf-8", data, len);
    free(data);
}

static void job_cancel(struct api_server *srv, struct api_req *rq)
{
    struct moat_err err = {0};
    enum job_status was = JOB_STATUS_QUEUED;
    int r = exec_cancel(srv->deps.exec, rq->id, &was, &err);
    if (r == -ENOENT) {
        api_reply_fail(rq, 404, "not_found", NULL, "no job %s", rq->id);
        return;
    }
    if (r == -EALREADY) {
        api_reply_fail(rq, 409, "already_finished", NULL, "job %s has already %s", rq->id,
                       was == JOB_STATUS_CANCELLED ? "been cancelled" : "finished");
        return;
    }
    if (r < 0) {
        rq->retry_after = 1;
        api_reply_fail(rq, 503, "store_unavailable", NULL, "the job could not be cancelled: %s",
                       err.msg);
        return;
    }
    struct job j = {0};
    if (!load_job(srv, rq, EXEC_GET_OUTPUT, &j))
        return;
    api_reply_json(rq, 200, api_job_render(srv, API_SHAPE_NATIVE, &j));
    job_release(&j);
}

/* ---- the service ---- */

static void languages(struct api_server *srv, struct api_req *rq)
{
    api_reply_bytes(rq, 200, "application/json", srv->languages_json, srv->languages_len);
}

static void healthz(struct api_server *srv, struct api_req *rq)
{
    (void)srv;
    static const char ok[] = "{\"status\":\"ok\"}";
    api_reply_bytes(rq, 200, "application/json", ok, sizeof(ok) - 1);
}

static void readyz(struct api_server *srv, struct api_req *rq)
{
    const char *why = NULL;
    if (!exec_ready(srv->deps.exec, &why)) {
        rq->retry_after = 1;
        api_reply_fail(rq, 503, "not_ready", NULL, "%s", why);
        return;
    }
    static const char ok[] = "{\"status\":\"ready\"}";
    api_reply_bytes(rq, 200, "application/json", ok, sizeof(ok) - 1);
}

static void metrics(struct api_server *srv, struct api_req *rq)
{
    struct buf out;
    buf_init(&out, 64u << 20);
    if (srv->deps.metrics && obs_render(srv->deps.metrics, &out) < 0) {
        buf_release(&out);
        api_reply_fail(rq, 500, "internal", NULL, "the metrics cannot be rendered");
        return;
    }
    api_reply_bytes(rq, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "",
                    out.len);
    buf_release(&out);
}

static void version(struct api_server *srv, struct api_req *rq)
{
    const char *about = srv->deps.about_json;
    if (!about) {
        api_reply_fail(rq, 404, "not_found", NULL, "no version information");
        return;
    }
    api_reply_bytes(rq, 200, "application/json", about, strlen(about));
}

static void openapi(struct api_server *srv, struct api_req *rq)
{
    (void)srv;
    api_reply_bytes(rq, 200, "application/yaml", moat_openapi_yaml, moat_openapi_yaml_len);
}

int api_languages_build(struct api_server *srv)
{
    json_t *arr = json_array();
    if (!arr)
        return -ENOMEM;
    const struct lang_registry *reg = srv->deps.langs;
    for (size_t i = 0; i < lang_count(reg); i++) {
        const struct lang *l = lang_at(reg, i);
        if (!lang_available(l))
            continue;
        char version[64] = "";
        (void)lang_version(l, srv->deps.cfg->cache_dir, version, sizeof(version));
        json_t *aliases = json_array();
        for (size_t k = 0; aliases && k < l->naliases; k++)
            json_array_append_new(aliases, json_string(l->aliases[k]));
        json_array_append_new(arr,
                              json_pack("{s:s, s:o*, s:s, s:b}", "name", l->name, "aliases",
                                        aliases, "version", version, "compiled", lang_compiled(l)));
    }
    char *text = json_dumps(arr, JOB_JSON_DUMP_FLAGS);
    json_decref(arr);
    if (!text)
        return -ENOMEM;
    srv->languages_json = text;
    srv->languages_len = strlen(text);
    return 0;
}

/* ---- routing ---- */

#define NATIVE API_SHAPE_NATIVE
static const struct api_route routes[] = {
    {"POST", "/v1/jobs", "/v1/jobs", submit_handle, submit_resume, true, NATIVE},
    {"GET", "/v1/jobs/{id}", "/v1/jobs/{id}", job_get, reply_waited, false, NATIVE},
    {"DELETE", "/v1/jobs/{id}", "/v1/jobs/{id}", job_cancel, NULL, false, NATIVE},
    {"GET", "/v1/jobs/{id}/output", "/v1/jobs/{id}/output", job_output, NULL, false, NATIVE,
     API_STREAM_STDOUT},
    {"GET", "/v1/jobs/{id}/stderr", "/v1/jobs/{id}/stderr", job_output, NULL, false, NATIVE,
     API_STREAM_STDERR},
    {"GET", "/v1/jobs/{id}/compile/output", "/v1/jobs/{id}/compile/output", job_output, NULL, false,
     NATIVE, API_STREAM_COMPILE_STDOUT},
    {"GET", "/v1/jobs/{id}/compile/stderr", "/v1/jobs/{id}/compile/stderr", job_output, NULL, false,
     NATIVE, API_STREAM_COMPILE_STDERR},
    {"GET", "/v1/languages", "/v1/languages", languages, NULL, false, NATIVE},
    {"GET", "/healthz", "/healthz", healthz, NULL, false, NATIVE, API_STREAM_NONE, true},
    {"GET", "/readyz", "/readyz", readyz, NULL, false, NATIVE, API_STREAM_NONE, true},
    {"GET", "/metrics", "/metrics", metrics, NULL, false, NATIVE, API_STREAM_NONE, true},
    {"GET", "/openapi.yaml", "/openapi.yaml", openapi, NULL, false, NATIVE},
    {"GET", "/v1/version", "/v1/version", version, NULL, false, NATIVE},
    {"POST", "/job", "/job", submit_handle, submit_resume, true, API_SHAPE_SEED000},
    {"GET", "/job/{id}", "/job/{id}", job_get, reply_waited, false, API_SHAPE_SEED000},
    {"GET", "/job/{id}/output", "/job/{id}/output", job_output, NULL, false, API_SHAPE_SEED000,
     API_STREAM_STDOUT},
    {"POST", "/api/v1/execute", "/api/v1/execute", submit_handle, submit_resume, true,
     API_SHAPE_SEED002},
    {"GET", "/api/v1/execute/{id}", "/api/v1/execute/{id}", job_get, reply_waited, false,
     API_SHAPE_SEED002},
    /* Piston v2 (piston.c) */
    {"POST", "/api/v2/execute", "/api/v2/execute", api_piston_execute, api_piston_execute_resume,
     true, API_SHAPE_PISTON},
    {"GET", "/api/v2/runtimes", "/api/v2/runtimes", api_piston_runtimes, NULL, false,
     API_SHAPE_PISTON},
    {"GET", "/api/v2/packages", "/api/v2/packages", api_piston_packages, NULL, false,
     API_SHAPE_PISTON},
    {"POST", "/api/v2/packages", "/api/v2/packages", api_piston_packages, NULL, true,
     API_SHAPE_PISTON},
    {"DELETE", "/api/v2/packages", "/api/v2/packages", api_piston_packages, NULL, true,
     API_SHAPE_PISTON},
    /* Judge0 CE (judge0-routes.c); {t} and {n} are checked by the handlers,
     * which answer in Judge0's shape */
    {"POST", "/submissions", "/submissions", j0_submit, j0_submit_resume, true, NATIVE},
    {"GET", "/submissions", "/submissions", j0_list, NULL, false, NATIVE},
    {"POST", "/submissions/batch", "/submissions/batch", j0_batch_submit, j0_batch_resume, true,
     NATIVE},
    {"GET", "/submissions/batch", "/submissions/batch", j0_batch_get, NULL, false, NATIVE},
    {"GET", "/submissions/{t}", "/submissions/{t}", j0_get, j0_get_resume, false, NATIVE},
    {"DELETE", "/submissions/{t}", "/submissions/{t}", j0_delete, NULL, false, NATIVE},
    {"GET", "/languages", "/languages", j0_languages, NULL, false, NATIVE},
    {"GET", "/languages/all", "/languages/all", j0_languages_all, NULL, false, NATIVE},
    {"GET", "/languages/{n}", "/languages/{n}", j0_language, NULL, false, NATIVE},
    {"GET", "/statuses", "/statuses", j0_statuses, NULL, false, NATIVE},
    {"GET", "/about", "/about", j0_about, NULL, false, NATIVE},
    {"GET", "/config_info", "/config_info", j0_config_info, NULL, false, NATIVE},
    {"GET", "/system_info", "/system_info", j0_system_info, NULL, false, NATIVE},
    {"GET", "/workers", "/workers", j0_workers, NULL, false, NATIVE},
};

size_t api_route_count(void)
{
    return MOAT_ARRAY_SIZE(routes);
}

size_t api_route_index(const struct api_route *r)
{
    return (size_t)(r - routes);
}

/* Matches url against pattern; the {id} (or {t}, {n}: any placeholder)
 * segment is copied into id (empty or over-long segments do not match). */
static bool match(const char *pattern, const char *url, char *id, size_t idsz)
{
    while (*pattern && *url) {
        const char *close = *pattern == '{' ? strchr(pattern, '}') : NULL;
        if (close) {
            const char *end = strchr(url, '/');
            size_t n = end ? (size_t)(end - url) : strlen(url);
            if (n == 0 || n >= idsz)
                return false;
            memcpy(id, url, n);
            id[n] = '\0';
            url += n;
            pattern = close + 1;
            continue;
        }
        if (*pattern != *url)
            return false;
        pattern++;
        url++;
    }
    return *pattern == '\0' && (*url == '\0' || strcmp(url, "/") == 0);
}

void api_route(struct api_server *srv, struct api_req *rq, const char *method, const char *url)
{
    char allow[64] = "";
    char id[MOAT_UUID_LEN + 8];
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(routes); i++) {
        const struct api_route *r = &routes[i];
        if (srv->deps.service_only && !r->service)
            continue;
        id[0] = '\0';
        if (!match(r->pattern, url, id, sizeof(id)))
            continue;
        if (strcmp(r->method, method) != 0) {
            if (!strstr(allow, r->method)) {
                size_t n = strlen(allow);
                (void)snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", r->method);
            }
            continue;
        }
        rq->route = r;
        rq->route_label = r->label;
        if (strstr(r->pattern, "{id}") && !moat_uuid_valid(id)) {
            api_reply_fail(rq, 404, "not_found", NULL, "no job %.40s", id);
            return;
        }
        /* a segment longer than an id is no id (never cut into one) */
        if (strlen(id) < sizeof(rq->id))
            moat_strlcpy(rq->id, id, sizeof(rq->id));
        return;
    }
    if (allow[0]) {
        /* a static string for the header: the sets that exist */
        static const char *const sets[] = {"GET",         "POST",      "GET, DELETE",
                                           "DELETE, GET", "POST, GET", "POST, GET, DELETE"};
        for (size_t i = 0; i < MOAT_ARRAY_SIZE(sets); i++)
            if (strcmp(sets[i], allow) == 0)
                rq->allow = sets[i];
        api_reply_fail(rq, 405, "method_not_allowed", NULL, "%s is not allowed here; use %s",
                       method, allow);
        return;
    }
    api_reply_fail(rq, 404, "not_found", NULL, "no route %.100s", url);
}
