/*
 * The Piston v2 routes (docs/piston.md). POST /api/v2/execute is a
 * submission that always waits: Piston answers with the finished run, so
 * the request is suspended until the job is final (at most
 * server.max_wait_ms) and answered in Piston's shape, errors included
 * ({"message": "..."}).
 */
#include "piston-internal.h"
#include "server-internal.h"

/* Piston's error shape with any status. */
__attribute__((format(printf, 3, 4))) static void reply_message(struct api_req *rq, unsigned status,
                                                                const char *fmt, ...)
{
    struct api_error e = {.status = status, .code = "piston"};
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(e.message, sizeof(e.message), fmt, ap);
    va_end(ap);
    api_reply_json(rq, status, api_piston_error_json(&e));
}

void api_piston_execute(struct api_server *srv, struct api_req *rq)
{
    const struct moat_config *cfg = srv->deps.cfg;
    if (cfg->max_wait_ms == 0) {
        reply_message(rq, 503,
                      "this server does not wait for jobs (server.max_wait_ms is 0), and "
                      "/api/v2/execute answers with the finished run");
        return;
    }
    const char *ctype =
        MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    struct api_error e = {0};
    if (api_piston_decode(cfg, srv->deps.langs, ctype, rq->body.data, rq->body.len, &rq->sub, &e) <
        0) {
        api_reply_json(rq, e.status, api_piston_error_json(&e));
        return;
    }
    rq->have_sub = true;
    if (!api_auth_admit(srv, rq, &rq->sub.job, &e)) { /* the API key's maxima and quotas */
        api_reply_json(rq, e.status, api_piston_error_json(&e));
        return;
    }
    buf_release(&rq->body); /* the job holds its own copies now */
    rq->wait = true;
    api_req_suspend(rq);
    int r = exec_submit(srv->deps.exec, &rq->sub.job, true, srv, api_on_notice, rq);
    if (r == 0) {
        moat_strlcpy(rq->id, rq->sub.job.id, sizeof(rq->id));
        return;
    }
    rq->submit_error = r; /* refused at once: answered when resumed */
    api_req_resume(rq, API_RESUME_REFUSED);
}

static void reply_refused(struct api_server *srv, struct api_req *rq)
{
    int e = rq->submit_error;
    rq->retry_after = 1;
    if (e == -EAGAIN)
        reply_message(rq, 429, "the queue holds its maximum of %llu jobs; try again later",
                      (unsigned long long)srv->deps.cfg->max_queue);
    else if (e == -ENOMEM)
        reply_message(rq, 500, "out of memory");
    else
        reply_message(rq, 503, "the job could not be %s (%s); nothing was accepted",
                      e == -ENOTCONN ? "queued" : "stored", strerror(-e));
}

/* The finished job, read back when the notice did not render it (a job
 * recorded by another node). */
static void reply_final(struct api_server *srv, struct api_req *rq)
{
    if (rq->waited) {
        api_reply_json(rq, 200, rq->waited);
        rq->waited = NULL;
        return;
    }
    struct job j = {0};
    struct moat_err err = {0};
    int r = exec_get(srv->deps.exec, rq->id, EXEC_GET_OUTPUT, &j, &err);
    if (r < 0) {
        rq->retry_after = 1;
        reply_message(rq, 503, "job %s finished but cannot be read: %s", rq->id, err.msg);
        return;
    }
    if (job_status_final(j.status))
        api_reply_json(rq, 200, api_job_render(srv, API_SHAPE_PISTON, &j));
    else
        reply_message(rq, 500, "job %s is %s", rq->id, job_status_name(j.status));
    job_release(&j);
}

void api_piston_execute_resume(struct api_server *srv, struct api_req *rq)
{
    switch ((enum api_resume_reason)atomic_load(&rq->resume_reason)) {
    case API_RESUME_REFUSED:
        reply_refused(srv, rq);
        return;
    case API_RESUME_FINISHED:
        reply_final(srv, rq);
        return;
    case API_RESUME_DEADLINE:
        /* Piston has no answer for a run still going: a 500 that says
         * where the job's result will be */
        reply_message(rq, 500,
                      "job %s did not finish within the server's maximum wait of %llu ms; "
                      "GET /v1/jobs/%s has it when it does",
                      rq->id, (unsigned long long)srv->deps.cfg->max_wait_ms, rq->id);
        return;
    case API_RESUME_ACCEPTED: /* not sent to a waiting submission */
    case API_RESUME_NONE:
    case API_RESUME_SHUTDOWN:
        break;
    }
    rq->retry_after = 1;
    reply_message(rq, 503, "the server is stopping");
}

void api_piston_runtimes(struct api_server *srv, struct api_req *rq)
{
    api_reply_json(rq, 200, api_piston_runtimes_json(srv->deps.langs, srv->deps.cfg->cache_dir));
}

/* moat has no package manager: its languages are the server's
 * languages.ini. The list is empty; installing or removing is 404. */
void api_piston_packages(struct api_server *srv, struct api_req *rq)
{
    (void)srv;
    if (strcmp(rq->route->method, "GET") == 0) {
        api_reply_bytes(rq, 200, "application/json", "[]", 2);
        return;
    }
    reply_message(rq, 404,
                  "moat has no packages to install or remove: its languages are configured on "
                  "the server (GET /api/v2/runtimes lists them)");
}
