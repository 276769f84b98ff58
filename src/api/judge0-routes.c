/*
 * The Judge0 CE routes: submissions (one, a batch, wait=true), their reads
 * and deletion, and the lists and service routes a Judge0 client reads.
 * The submissions go the native way (exec_submit, suspension, exec's
 * notices); only the shapes are Judge0's, built by judge0-decode.c and
 * judge0-render.c.
 */
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "auth.h"
#include "judge0-internal.h"
#include "server-internal.h"

#define J0_PER_PAGE_MAX 100 /* a page of GET /submissions (the store's most) */

/* {"error": message} with status. */
__attribute__((format(printf, 3, 4))) static void reply_error(struct api_req *rq, unsigned status,
                                                              const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_reply_json(rq, status, json_pack("{s:s}", "error", msg));
}

static bool query_bool(struct api_req *rq, const char *name)
{
    const char *v = api_query(rq, name);
    bool b = false;
    return v && parse_bool(v, &b) == 0 && b;
}

/* The query of a submission route; false (answered 400) for bad fields. */
static bool read_query(struct api_req *rq, struct j0_query *q)
{
    *q = (struct j0_query){.base64 = query_bool(rq, "base64_encoded"),
                           .wait = query_bool(rq, "wait")};
    char msg[256];
    if (j0_parse_fields(api_query(rq, "fields"), &q->fields, msg, sizeof(msg)) < 0) {
        reply_error(rq, 400, "%s", msg);
        return false;
    }
    return true;
}

/* The request's body as JSON; NULL (answered 400) when it is not. */
static json_t *read_body(struct api_req *rq)
{
    const char *ct =
        MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!api_media_type_is(ct, NULL) && !api_media_type_is(ct, "application/json")) {
        reply_error(rq, 400, "the body must be JSON (Content-Type: application/json)");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len,
                              JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        reply_error(rq, 400, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                    jerr.text);
    return root;
}

/* Reads token's job into *j; false when answered (404, 503, 500). */
static bool load(struct api_server *srv, struct api_req *rq, unsigned what, struct job *j)
{
    if (!moat_uuid_valid(rq->id)) {
        reply_error(rq, 404, "submission not found");
        return false;
    }
    struct moat_err err = {0};
    int r = exec_get(srv->deps.exec, rq->id, what, j, &err);
    if (r == -ENOENT) {
        reply_error(rq, 404, "submission not found");
        return false;
    }
    if (r < 0) {
        rq->retry_after = 1;
        reply_error(rq, r == -ENOTCONN ? 503 : 500, "the store cannot be read: %s", err.msg);
        return false;
    }
    return true;
}

/* The submission of rq->id as q asks, with status. */
static void reply_submission(struct api_server *srv, struct api_req *rq, unsigned status,
                             const struct j0_query *q, bool on_create)
{
    struct job j = {0};
    if (!load(srv, rq, EXEC_GET_CODE | EXEC_GET_OUTPUT, &j))
        return;
    struct job view = api_job_clipped(&j, (size_t)(srv->deps.cfg->max_inline_output_kb << 10));
    bool utf8 = false;
    json_t *o = j0_submission_json(&view, q, srv->deps.langs, &utf8);
    if (utf8 && on_create) /* Judge0: the token, and why nothing else */
        api_reply_json(rq, status, json_pack("{s:s, s:s}", "token", j.id, "error", J0_UTF8_ERROR));
    else if (utf8)
        reply_error(rq, 400, "%s", J0_UTF8_ERROR);
    else
        api_reply_json(rq, status, o);
    job_release(&j);
}

/* An accepted submission's refusal by exec, in Judge0's words. */
static void reply_refused(struct api_req *rq, int e)
{
    rq->retry_after = 1;
    if (e == -EAGAIN)
        reply_error(rq, 503, "queue is full");
    else
        reply_error(rq, 503, "the submission could not be accepted (%s)", strerror(-e));
}

/* ---- POST /submissions ---- */

void j0_submit(struct api_server *srv, struct api_req *rq)
{
    struct j0_query q;
    if (!read_query(rq, &q))
        return;
    if (q.wait && srv->deps.cfg->max_wait_ms == 0) {
        reply_error(rq, 400, "wait not allowed");
        return;
    }
    json_t *root = read_body(rq);
    if (!root)
        return;
    struct j0_submit sub;
    json_t *errors = NULL;
    int r = j0_decode_submission(srv->deps.cfg, srv->deps.langs, root, q.base64, &sub, &errors);
    json_decref(root);
    if (r < 0) {
        if (errors)
            api_reply_json(rq, 422, errors);
        else
            reply_error(rq, 500, "out of memory");
        return;
    }
    /* the callback URL is echoed from the metadata; its delivery is the
     * webhooks' (not part of this route) */
    free(sub.callback_url);
    rq->sub = (struct api_submit){.job = sub.job};
    rq->have_sub = true;
    struct api_error e = {0};
    if (!api_auth_admit(srv, rq, &rq->sub.job, &e)) { /* the API key's maxima and quotas */
        reply_error(rq, e.status, "%s", e.message);
        return;
    }
    buf_release(&rq->body);
    rq->wait = q.wait;
    api_req_suspend(rq);
    r = exec_submit(srv->deps.exec, &rq->sub.job, rq->wait, srv, api_on_notice, rq);
    if (r == 0) {
        moat_strlcpy(rq->id, rq->sub.job.id, sizeof(rq->id));
        return;
    }
    rq->submit_error = r;
    api_req_resume(rq, API_RESUME_REFUSED);
}

void j0_submit_resume(struct api_server *srv, struct api_req *rq)
{
    int why = atomic_load(&rq->resume_reason);
    /* a final job comes rendered natively with the notice: read it again
     * in Judge0's shape (its code and stdin too) */
    json_decref(rq->waited);
    rq->waited = NULL;
    if (why == API_RESUME_REFUSED) {
        reply_refused(rq, rq->submit_error);
        return;
    }
    if (why == API_RESUME_ACCEPTED) {
        api_reply_json(rq, 201, json_pack("{s:s}", "token", rq->sub.job.id));
        return;
    }
    struct j0_query q;
    if (read_query(rq, &q))
        reply_submission(srv, rq, 201, &q, true);
}

/* ---- GET and DELETE /submissions/{token} ---- */

void j0_get(struct api_server *srv, struct api_req *rq)
{
    struct j0_query q;
    if (!read_query(rq, &q))
        return;
    if (q.wait && srv->deps.cfg->max_wait_ms > 0 && moat_uuid_valid(rq->id)) {
        api_wait_for_job(srv, rq);
        return;
    }
    reply_submission(srv, rq, 200, &q, false);
}

void j0_get_resume(struct api_server *srv, struct api_req *rq)
{
    json_decref(rq->waited);
    rq->waited = NULL;
    struct j0_query q;
    if (read_query(rq, &q))
        reply_submission(srv, rq, 200, &q, false);
}

void j0_delete(struct api_server *srv, struct api_req *rq)
{
    struct j0_query q;
    if (!read_query(rq, &q))
        return;
    if (!moat_uuid_valid(rq->id)) {
        reply_error(rq, 404, "submission not found");
        return;
    }
    struct moat_err err = {0};
    enum job_status was = JOB_STATUS_QUEUED;
    int r = exec_cancel(srv->deps.exec, rq->id, &was, &err);
    if (r == -ENOENT) {
        reply_error(rq, 404, "submission not found");
        return;
    }
    if (r == -EALREADY) {
        reply_error(rq, 400, "submission %s has finished: this server keeps finished submissions",
                    rq->id);
        return;
    }
    if (r < 0) {
        rq->retry_after = 1;
        reply_error(rq, 503, "the submission could not be cancelled: %s", err.msg);
        return;
    }
    q.base64 = true; /* Judge0 always answers a deletion in base64 */
    reply_submission(srv, rq, 200, &q, false);
}

/* ---- batches ---- */

struct j0_batch {
    json_t *answers;        /* one per member: {"token"} or its errors */
    struct j0_submit *subs; /* the valid members, submitted in turn */
    size_t *index;          /* subs[i] is member index[i] */
    size_t nsubs, next;
    size_t accepted;
    bool queue_full;      /* a member was refused for it */
    struct api_error key; /* the first member the API key refused (status 0: none) */
};

static void batch_free(void *state)
{
    struct j0_batch *b = state;
    if (!b)
        return;
    json_decref(b->answers);
    for (size_t i = 0; i < b->nsubs; i++)
        j0_submit_release(&b->subs[i]);
    free(b->subs);
    free(b->index);
    free(b);
}

/* Submits the next valid member, or answers once none is left. */
static void batch_next(struct api_server *srv, struct api_req *rq)
{
    struct j0_batch *b = rq->route_state;
    if (b->next == b->nsubs) {
        if (!b->accepted && b->key.status) { /* the key's quota or maxima, for all */
            reply_error(rq, b->key.status, "%s", b->key.message);
            return;
        }
        if (!b->accepted && b->queue_full) { /* as Judge0: the batch did not fit */
            rq->retry_after = 1;
            reply_error(rq, 503, "queue is full");
            return;
        }
        api_reply_json(rq, b->accepted ? 201 : 422, json_incref(b->answers));
        return;
    }
    struct j0_submit *s = &b->subs[b->next];
    api_req_suspend(rq);
    int r = exec_submit(srv->deps.exec, &s->job, false, srv, api_on_notice, rq);
    if (r != 0) {
        rq->submit_error = r;
        api_req_resume(rq, API_RESUME_REFUSED);
    }
}

void j0_batch_resume(struct api_server *srv, struct api_req *rq)
{
    struct j0_batch *b = rq->route_state;
    int why = atomic_load(&rq->resume_reason);
    size_t at = b->index[b->next];
    json_t *answer;
    if (why == API_RESUME_ACCEPTED) {
        answer = json_pack("{s:s}", "token", b->subs[b->next].job.id);
        api_auth_done(srv, rq, b->subs[b->next].job.id); /* counted until final */
        b->accepted++;
    } else {
        b->queue_full |= rq->submit_error == -EAGAIN;
        answer = json_pack("{s:s}", "error",
                           rq->submit_error == -EAGAIN ? "queue is full"
                                                       : "the submission could not be accepted");
    }
    j0_submit_release(&b->subs[b->next]);
    b->next++;
    if (!answer || json_array_set_new(b->answers, at, answer) < 0) {
        reply_error(rq, 500, "out of memory");
        return;
    }
    batch_next(srv, rq);
}

/* Decodes every member; the valid ones the API key admits wait in b->subs. */
static int batch_decode(struct api_server *srv, struct api_req *rq, struct j0_batch *b,
                        json_t *members, bool base64)
{
    size_t n = json_array_size(members);
    b->subs = calloc(n ? n : 1, sizeof(*b->subs));
    b->index = calloc(n ? n : 1, sizeof(*b->index));
    if (!b->subs || !b->index)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *errors = NULL;
        int r = j0_decode_submission(srv->deps.cfg, srv->deps.langs, json_array_get(members, i),
                                     base64, &b->subs[b->nsubs], &errors);
        if (r == -ENOMEM)
            return r;
        if (r < 0) {
            if (json_array_append_new(b->answers, errors) < 0)
                return -ENOMEM;
            continue;
        }
        free(b->subs[b->nsubs].callback_url); /* the job's callback has it */
        b->subs[b->nsubs].callback_url = NULL;
        struct api_error e = {0};
        if (!api_auth_admit(srv, rq, &b->subs[b->nsubs].job, &e)) {
            j0_submit_release(&b->subs[b->nsubs]);
            if (!b->key.status)
                b->key = e;
            if (json_array_append_new(b->answers, json_pack("{s:s}", "error", e.message)) < 0)
                return -ENOMEM;
            continue;
        }
        b->index[b->nsubs++] = i;
        if (json_array_append_new(b->answers, json_null()) < 0)
            return -ENOMEM;
    }
    return 0;
}

void j0_batch_submit(struct api_server *srv, struct api_req *rq)
{
    struct j0_query q;
    if (!read_query(rq, &q))
        return;
    json_t *root = read_body(rq);
    if (!root)
        return;
    json_t *members = json_object_get(root, "submissions");
    size_t n = json_array_size(members);
    uint64_t most = srv->deps.cfg->max_batch;
    if (!json_is_array(members) || n == 0 || n > most) {
        char why[96];
        if (json_is_array(members) && n > most)
            (void)snprintf(why, sizeof(why), "size of the batch must be at most %llu",
                           (unsigned long long)most);
        else
            moat_strlcpy(why, "must be a non-empty array of submissions", sizeof(why));
        json_decref(root); /* members was borrowed from it */
        api_reply_json(rq, 422, json_pack("{s:[s]}", "submissions", why));
        return;
    }
    struct j0_batch *b = calloc(1, sizeof(*b));
    if (b)
        b->answers = json_array(); /* new reference, freed with the batch */
    int r = b && b->answers ? batch_decode(srv, rq, b, members, q.base64) : -ENOMEM;
    json_decref(root);
    if (r < 0) {
        batch_free(b);
        reply_error(rq, 500, "out of memory");
        return;
    }
    buf_release(&rq->body);
    rq->route_state = b;
    rq->route_state_free = batch_free;
    batch_next(srv, rq);
}

void j0_batch_get(struct api_server *srv, struct api_req *rq)
{
    struct j0_query q;
    if (!read_query(rq, &q))
        return;
    const char *tokens = api_query(rq, "tokens");
    if (!tokens || !*tokens) {
        reply_error(rq, 400, "tokens are missing");
        return;
    }
    json_t *list = json_array(); /* new reference, given to the answer */
    size_t count = 0;
    for (const char *s = tokens; list && *s;) {
        size_t n = strcspn(s, ",");
        if (++count > srv->deps.cfg->max_batch) {
            json_decref(list);
            reply_error(rq, 400, "number of tokens must be at most %llu",
                        (unsigned long long)srv->deps.cfg->max_batch);
            return;
        }
        json_t *item = json_null();
        struct job j = {0};
        (void)snprintf(rq->id, sizeof(rq->id), "%.*s", (int)n, s);
        struct moat_err err = {0};
        if (n == MOAT_UUID_LEN && moat_uuid_valid(rq->id) &&
            exec_get(srv->deps.exec, rq->id, EXEC_GET_CODE | EXEC_GET_OUTPUT, &j, &err) == 0) {
            struct job view =
                api_job_clipped(&j, (size_t)(srv->deps.cfg->max_inline_output_kb << 10));
            bool utf8 = false;
            item = j0_submission_json(&view, &q, srv->deps.langs, &utf8);
            job_release(&j);
            if (utf8) {
                json_decref(list);
                reply_error(rq, 400, "%s", J0_UTF8_ERROR);
                return;
            }
        }
        if (json_array_append_new(list, item) < 0) {
            json_decref(list);
            list = NULL;
        }
        s += n;
        if (*s == ',')
            s++;
    }
    api_reply_json(rq, 200, list ? json_pack("{s:o}", "submissions", list) : NULL);
}

/* GET /submissions?page=&per_page=: newest first, Judge0's meta. */
void j0_list(struct api_server *srv, struct api_req *rq)
{
    struct j0_query q;
    if (!read_query(rq, &q))
        return;
    const char *p = api_query(rq, "page"), *pp = api_query(rq, "per_page");
    uint64_t page = 1, per = 20;
    if ((p && parse_u64(p, 1, UINT32_MAX, &page) < 0) ||
        (pp && parse_u64(pp, 1, J0_PER_PAGE_MAX, &per) < 0)) {
        reply_error(rq, 400, "page must be a number from 1 and per_page from 1 to %d",
                    J0_PER_PAGE_MAX);
        return;
    }
    char(*ids)[MOAT_UUID_LEN + 1] = calloc(per, sizeof(*ids));
    json_t *list = json_array(); /* new reference, given to the answer */
    size_t n = 0;
    uint64_t total = 0;
    struct moat_err err = {0};
    int r = ids && list
                ? exec_list(srv->deps.exec, (page - 1) * per, (size_t)per, ids, &n, &total, &err)
                : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++) {
        struct job j = {0};
        if (exec_get(srv->deps.exec, ids[i], EXEC_GET_CODE | EXEC_GET_OUTPUT, &j, &err) < 0)
            continue; /* gone since the page was read */
        struct job view = api_job_clipped(&j, (size_t)(srv->deps.cfg->max_inline_output_kb << 10));
        bool utf8 = false;
        json_t *o = j0_submission_json(&view, &q, srv->deps.langs, &utf8);
        job_release(&j);
        if (utf8)
            r = -EILSEQ;
        else if (!o || json_array_append_new(list, o) < 0)
            r = -ENOMEM;
    }
    free(ids);
    if (r < 0) {
        json_decref(list);
        if (r == -EILSEQ)
            reply_error(rq, 400, "%s", J0_UTF8_ERROR);
        else
            reply_error(rq, r == -ENOMEM ? 500 : 503, "the submissions cannot be read: %s",
                        r == -ENOMEM ? "out of memory" : err.msg);
        return;
    }
    uint64_t pages = (total + per - 1) / per;
    json_t *meta =
        json_pack("{s:I, s:o, s:o, s:I, s:I}", "current_page", (json_int_t)page, "next_page",
                  page < pages ? json_integer((json_int_t)page + 1) : json_null(), "prev_page",
                  page > 1 ? json_integer((json_int_t)page - 1) : json_null(), "total_pages",
                  (json_int_t)pages, "total_count", (json_int_t)total);
    if (!meta)
        json_decref(list);
    api_reply_json(rq, 200,
                   meta ? json_pack("{s:o, s:o}", "submissions", list, "meta", meta) : NULL);
}

/* ---- languages, statuses, the service ---- */

void j0_languages(struct api_server *srv, struct api_req *rq)
{
    api_reply_json(rq, 200, j0_languages_json(srv->deps.langs, false));
}

void j0_languages_all(struct api_server *srv, struct api_req *rq)
{
    api_reply_json(rq, 200, j0_languages_json(srv->deps.langs, true));
}

void j0_language(struct api_server *srv, struct api_req *rq)
{
    uint64_t id = 0;
    json_t *o = parse_u64(rq->id, 1, LANG_JUDGE0_ID_MAX, &id) == 0
                    ? j0_language_json(srv->deps.langs, (unsigned)id)
                    : NULL;
    if (!o) {
        reply_error(rq, 404, "language with id %.16s doesn't exist", rq->id);
        return;
    }
    api_reply_json(rq, 200, o);
}

void j0_statuses(struct api_server *srv, struct api_req *rq)
{
    (void)srv;
    api_reply_json(rq, 200, j0_statuses_json());
}

void j0_about(struct api_server *srv, struct api_req *rq)
{
    (void)srv;
    /* the Judge0 CE version whose API this is, which clients check */
    api_reply_json(rq, 200,
                   json_pack("{s:s, s:s, s:s, s:s}", "version", "1.13.1", "homepage", "",
                             "source_code", "", "maintainer", "moat"));
}

void j0_config_info(struct api_server *srv, struct api_req *rq)
{
    api_reply_json(rq, 200, j0_config_info_json(srv->deps.cfg));
}

void j0_system_info(struct api_server *srv, struct api_req *rq)
{
    (void)srv;
    struct utsname u;
    if (uname(&u) < 0)
        moat_strlcpy(u.machine, "unknown", sizeof(u.machine));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    char mem[32];
    (void)snprintf(mem, sizeof(mem), "%.1fGi",
                   pages > 0 && page > 0 ? (double)pages * (double)page / (1024.0 * 1024 * 1024)
                                         : 0.0);
    api_reply_json(rq, 200,
                   json_pack("{s:s, s:i, s:s}", "Architecture", u.machine, "CPU(s)",
                             (int)(cpus > 0 ? cpus : 0), "Mem", mem));
}

void j0_workers(struct api_server *srv, struct api_req *rq)
{
    struct exec_stats st = {0};
    exec_stats(srv->deps.exec, &st);
    json_int_t busy = (json_int_t)st.busy, all = (json_int_t)st.workers;
    api_reply_json(rq, 200,
                   /* size: the queue's depth is the executors' to know, not this node's */
                   json_pack("[{s:s, s:n, s:I, s:I, s:I, s:I, s:I}]", "queue", "default", "size",
                             "available", all, "idle", all - busy, "working", busy, "paused",
                             (json_int_t)0, "failed", (json_int_t)0));
}
