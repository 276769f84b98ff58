/*
 * The NATS API (docs/nats.md): request/reply subjects an API node answers
 * when the cluster's queue is NATS.
 *   compiler.execute.request  seed 004: {"language","code","input"}, code
 *                             and input base64; the server's defaults
 *   problems.execute.request  seed 004: the same, and timeoutMs,
 *                             wallTimeoutMs, memoryMb
 *   <prefix>.jobs.submit      the native body of POST /v1/jobs; with
 *                             "wait": true the reply is the final job
 * Each is a queue-group subscription (group "moat"), so one API node of
 * the cluster answers each request. A request is decoded as its HTTP
 * twin is (api_decode_submit), submitted through exec, and answered on its
 * reply subject once exec's notice comes: the final job, or an error.
 * Result events of every job are on <prefix>.events.final.<id> (the
 * queue's events, published by the node that made the job final).
 *
 * Threads: libnats delivers each subscription's messages on its own
 * thread; decoding and submitting happen there. exec's notices come on
 * exec's threads and must not block, so they only hand the request to
 * this front end's replier thread, which reads the job when needed,
 * renders and publishes the reply.
 */
#include "api-internal.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "moat/api.h"
#include "moat/exec.h"
#include "moat/obs.h"
#include "moat/util.h"

#define NATS_GROUP "moat"
/* The most servers server.queue may name. */
#define NATS_MAX_SERVERS 16
/* How long a stop waits for the requests it has taken to be answered. */
#define STOP_WAIT_MS 5000

enum { SUB_COMPILER, SUB_PROBLEMS, SUB_SUBMIT, SUB_MAX_ };

struct nats_req {
    struct api_nats *an;
    struct nats_req *next; /* on the replier's list */
    char *reply;           /* the subject the answer goes to */
    enum api_shape shape;
    int sub; /* SUB_* */
    uint64_t start_ns;
    struct api_submit submit;
    bool have_job;
    bool wait;
    enum exec_notice_kind kind;
    int error;
    json_t *rendered; /* the final job, rendered with the notice */
};

struct api_nats {
    const struct moat_config *cfg;
    const struct lang_registry *langs;
    struct exec *exec;
    struct obs_registry *metrics;
    natsOptions *opts;
    natsConnection *nc;
    natsSubscription *subs[SUB_MAX_];
    char subject_submit[96];

    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct nats_req *head, *tail; /* notices to answer */
    bool stopping;
    pthread_t replier;
    bool replier_started;
    atomic_uint open; /* requests taken and not answered yet */
};

static const char *const sub_names[SUB_MAX_] = {
    [SUB_COMPILER] = "compiler.execute.request",
    [SUB_PROBLEMS] = "problems.execute.request",
    [SUB_SUBMIT] = "jobs.submit",
};

/* ---- answering ---- */

static void observe(struct api_nats *an, const struct nats_req *rq, const char *outcome)
{
    if (!an->metrics)
        return;
    char labels[128];
    (void)snprintf(labels, sizeof(labels), "subject=\"%s\",outcome=\"%s\"", sub_names[rq->sub],
                   outcome);
    obs_counter_add(obs_counter(an->metrics, "moat_nats_requests_total",
                                "NATS API requests answered, by subject and outcome", labels),
                    1);
    (void)snprintf(labels, sizeof(labels), "subject=\"%s\"", sub_names[rq->sub]);
    obs_histogram_since(obs_histogram(an->metrics, "moat_nats_request_duration_seconds",
                                      "time from a NATS API request to its reply", labels),
                        rq->start_ns);
}

/* Publishes body (stolen) to the request's reply subject and frees rq. */
static void answer(struct nats_req *rq, json_t *body, const char *outcome)
{
    struct api_nats *an = rq->an;
    char *text = body ? json_dumps(body, JOB_JSON_DUMP_FLAGS) : NULL;
    json_decref(body);
    size_t len = text ? strlen(text) : 0;
    int64_t max = natsConnection_GetMaxPayload(an->nc);
    if (text && max > 0 && (int64_t)len > max) {
        /* too large for the broker: say where the whole job is */
        free(text);
        json_t *o = json_pack("{s:b, s:s, s:s}", "success", 0, "jobId",
                              rq->have_job ? rq->submit.job.id : "", "error",
                              "the result is larger than the NATS server's max_payload; read it "
                              "from GET /v1/jobs/{id}");
        text = o ? json_dumps(o, JOB_JSON_DUMP_FLAGS) : NULL;
        json_decref(o);
        len = text ? strlen(text) : 0;
    }
    if (text) {
        natsStatus s = natsConnection_Publish(an->nc, rq->reply, text, (int)len);
        if (s != NATS_OK)
            log_warn("event=nats_reply_failed subject=%s error=\"%s\"", sub_names[rq->sub],
                     natsStatus_GetText(s));
    }
    free(text);
    observe(an, rq, outcome);
    if (rq->have_job)
        job_release(&rq->submit.job);
    json_decref(rq->rendered);
    free(rq->reply);
    free(rq);
    atomic_fetch_sub(&an->open, 1);
}

/* An error in the shape the subject speaks: seed 004's {"success":false,
 * "error","code","field"}, or API.md's {"error":{...}} with the status. */
static json_t *error_body(const struct nats_req *rq, const struct api_error *e)
{
    if (rq->shape == API_SHAPE_SEED004 || rq->shape == API_SHAPE_SEED004_PROBLEM)
        return json_pack("{s:b, s:s, s:s, s:s*}", "success", 0, "error", e->message, "code",
                         e->code, "field", e->field[0] ? e->field : NULL);
    json_t *o = api_error_json(e);
    if (o)
        (void)json_object_set_new(o, "status", json_integer(e->status));
    return o;
}

static void answer_error(struct nats_req *rq, const struct api_error *e)
{
    answer(rq, error_body(rq, e), e->code);
}

/* The refusal of a submission, as the HTTP API words it. */
static void answer_refused(struct nats_req *rq, int err)
{
    struct api_error e = {0};
    if (err == -EAGAIN)
        api_error_set(&e, 429, "queue_full", NULL, "the queue is full; try again later");
    else if (err == -ENOMEM)
        api_error_set(&e, 500, "internal", NULL, "out of memory");
    else
        api_error_set(&e, 503, err == -ENOTCONN ? "queue_unavailable" : "store_unavailable", NULL,
                      "the job could not be accepted (%s); nothing was accepted", strerror(-err));
    answer_error(rq, &e);
}

static json_t *render(struct api_nats *an, enum api_shape shape, const struct job *j)
{
    struct job view = api_job_clipped(j, (size_t)(an->cfg->max_inline_output_kb << 10));
    return api_job_json_shaped(shape, &view);
}

/* On the replier thread: the answer a notice calls for. */
static void answer_notice(struct nats_req *rq)
{
    struct api_nats *an = rq->an;
    if (rq->kind == EXEC_REFUSED) {
        answer_refused(rq, rq->error);
        return;
    }
    if (rq->kind == EXEC_ACCEPTED) {
        answer(rq, json_pack("{s:s, s:s}", "jobId", rq->submit.job.id, "status", "queued"),
               "accepted");
        return;
    }
    if (rq->rendered) {
        json_t *body = rq->rendered;
        rq->rendered = NULL;
        answer(rq, body, "final");
        return;
    }
    /* final elsewhere, the wait over, or the node stopping: the job as it is */
    struct job j = {0};
    struct moat_err err = {0};
    int r = exec_get(an->exec, rq->submit.job.id, EXEC_GET_OUTPUT, &j, &err);
    if (r < 0) {
        struct api_error e = {0};
        api_error_set(&e, r == -ENOTCONN ? 503 : 500,
                      r == -ENOTCONN ? "store_unavailable" : "internal", NULL,
                      "job %s cannot be read: %s", rq->submit.job.id, err.msg);
        answer_error(rq, &e);
        return;
    }
    bool final = job_status_final(j.status);
    answer(rq, render(an, rq->shape, &j), final ? "final" : "not_final");
    job_release(&j);
}

static void *replier_main(void *arg)
{
    struct api_nats *an = arg;
    pthread_mutex_lock(&an->mu);
    for (;;) {
        while (!an->head && !an->stopping)
            pthread_cond_wait(&an->cond, &an->mu);
        struct nats_req *rq = an->head;
        if (!rq)
            break; /* stopping, and nothing left */
        an->head = rq->next;
        if (!an->head)
            an->tail = NULL;
        pthread_mutex_unlock(&an->mu);
        answer_notice(rq);
        pthread_mutex_lock(&an->mu);
    }
    pthread_mutex_unlock(&an->mu);
    return NULL;
}

/* exec_notice_fn: never blocks; the replier answers. */
static void on_notice(void *cls, const struct exec_notice *n)
{
    struct nats_req *rq = cls;
    struct api_nats *an = rq->an;
    rq->kind = n->kind;
    rq->error = n->error;
    if (n->kind == EXEC_FINAL && n->final)
        rq->rendered = render(an, rq->shape, n->final);
    pthread_mutex_lock(&an->mu);
    rq->next = NULL;
    if (an->tail)
        an->tail->next = rq;
    else
        an->head = rq;
    an->tail = rq;
    pthread_cond_signal(&an->cond);
    pthread_mutex_unlock(&an->mu);
}

/* ---- requests ---- */

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    struct api_nats *an = closure;
    int which = SUB_COMPILER;
    for (int i = 0; i < SUB_MAX_; i++)
        if (an->subs[i] == sub)
            which = i;
    const char *reply = natsMsg_GetReply(msg);
    if (!reply || !reply[0]) {
        log_debug("event=nats_request_dropped subject=%s reason=no_reply_subject",
                  sub_names[which]);
        natsMsg_Destroy(msg);
        return;
    }
    struct nats_req *rq = calloc(1, sizeof(*rq));
    char *reply_copy = moat_strdup(reply);
    if (!rq || !reply_copy) {
        free(rq);
        free(reply_copy);
        natsMsg_Destroy(msg);
        return;
    }
    *rq = (struct nats_req){.an = an, .reply = reply_copy, .sub = which, .start_ns = moat_now_ns()};
    rq->shape = which == SUB_COMPILER   ? API_SHAPE_SEED004
                : which == SUB_PROBLEMS ? API_SHAPE_SEED004_PROBLEM
                                        : API_SHAPE_NATIVE;
    atomic_fetch_add(&an->open, 1);
    struct api_error e = {0};
    int r = api_decode_submit(an->cfg, an->langs, rq->shape, NULL, NULL, natsMsg_GetData(msg),
                              (size_t)natsMsg_GetDataLength(msg), &rq->submit, &e);
    natsMsg_Destroy(msg);
    if (r < 0) {
        answer_error(rq, &e);
        return;
    }
    rq->have_job = true;
    rq->wait = rq->shape != API_SHAPE_NATIVE || rq->submit.wait;
    r = exec_submit(an->exec, &rq->submit.job, rq->wait, an, on_notice, rq);
    if (r < 0)
        answer_refused(rq, r);
}

/* ---- start, stop ---- */

static int nats_err(natsStatus s, struct moat_err *err, const char *what)
{
    const char *detail = nats_GetLastError(NULL);
    return moat_err_set(err, -ENOTCONN, "NATS API: %s: %s%s%s", what, natsStatus_GetText(s),
                        detail && detail[0] ? ": " : "", detail ? detail : "");
}

static int subscribe(struct api_nats *an, struct moat_err *err)
{
    (void)snprintf(an->subject_submit, sizeof(an->subject_submit), "%s.jobs.submit",
                   an->cfg->subject_prefix);
    const char *subjects[SUB_MAX_] = {sub_names[SUB_COMPILER], sub_names[SUB_PROBLEMS],
                                      an->subject_submit};
    for (int i = 0; i < SUB_MAX_; i++) {
        natsStatus s = natsConnection_QueueSubscribe(&an->subs[i], an->nc, subjects[i], NATS_GROUP,
                                                     on_msg, an);
        if (s != NATS_OK)
            return nats_err(s, err, subjects[i]);
    }
    return 0;
}

/* libnats calls it once the connection is up (a retried first connect). */
static void on_connected(natsConnection *nc, void *closure)
{
    (void)nc;
    (void)closure;
    log_info("event=nats_api_connected");
}

static int connect_nats(struct api_nats *an, const char *node, struct moat_err *err)
{
    char name[128];
    (void)snprintf(name, sizeof(name), "moat-api-%s", node);
    char buf[sizeof(an->cfg->queue)];
    const char *urls[NATS_MAX_SERVERS];
    int n = str_split(an->cfg->queue, ',', buf, sizeof(buf), urls, NATS_MAX_SERVERS);
    if (n < 0)
        return moat_err_field(err, -EINVAL, "server.queue", "no usable nats:// URL in it");
    natsStatus s = natsOptions_Create(&an->opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(an->opts, urls, n);
    if (s == NATS_OK)
        s = natsOptions_SetName(an->opts, name);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(an->opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(an->opts, 250);
    /* a broker away at start: connect in the background, like a reconnect
     * (with a callback; without one, libnats blocks until it connects) */
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(an->opts, true, on_connected, an);
    if (s != NATS_OK)
        return nats_err(s, err, "options");
    s = natsConnection_Connect(&an->nc, an->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
        return nats_err(s, err, "connect");
    return 0;
}

int api_nats_start(const struct api_deps *deps, struct api_nats **out, struct moat_err *err)
{
    struct api_nats *an = calloc(1, sizeof(*an));
    if (!an)
        return moat_err_set(err, -ENOMEM, "out of memory");
    an->cfg = deps->cfg;
    an->langs = deps->langs;
    an->exec = deps->exec;
    an->metrics = deps->metrics;
    pthread_mutex_init(&an->mu, NULL);
    pthread_cond_init(&an->cond, NULL);
    atomic_init(&an->open, 0);
    int r = -pthread_create(&an->replier, NULL, replier_main, an);
    if (r < 0) {
        moat_err_set(err, r, "NATS API: cannot start its thread");
        api_nats_stop(an);
        return r;
    }
    an->replier_started = true;
    r = connect_nats(an, exec_node(deps->exec), err);
    if (r == 0)
        r = subscribe(an, err);
    if (r < 0) {
        api_nats_stop(an);
        return r;
    }
    *out = an;
    return 0;
}

void api_nats_stop(struct api_nats *an)
{
    if (!an)
        return;
    /* no new requests; those taken are answered (their watches end now) */
    for (int i = 0; i < SUB_MAX_; i++)
        if (an->subs[i])
            (void)natsSubscription_Unsubscribe(an->subs[i]);
    if (an->exec)
        exec_release(an->exec, an);
    for (int i = 0; i < STOP_WAIT_MS && atomic_load(&an->open); i++)
        (void)usleep(1000);
    if (atomic_load(&an->open)) {
        /* A submission still owes its notice (a stalled store): it will
         * come later, so nothing here may go. The process is exiting. */
        log_error("event=nats_stop_incomplete open=%u", atomic_load(&an->open));
        return;
    }
    if (an->replier_started) {
        pthread_mutex_lock(&an->mu);
        an->stopping = true;
        pthread_cond_signal(&an->cond);
        pthread_mutex_unlock(&an->mu);
        pthread_join(an->replier, NULL);
    }
    for (int i = 0; i < SUB_MAX_; i++)
        natsSubscription_Destroy(an->subs[i]);
    if (an->nc) {
        natsConnection_Close(an->nc);
        natsConnection_Destroy(an->nc);
    }
    natsOptions_Destroy(an->opts);
    pthread_cond_destroy(&an->cond);
    pthread_mutex_destroy(&an->mu);
    free(an);
}
