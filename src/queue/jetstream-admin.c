/*
 * Looking at the stream by job (remove, holds) and the events between
 * nodes (listen, announce).
 *
 * Each job has its own subject, P.jobs.<priority>.<id>, so a job is found
 * without its priority through the filter P.jobs.*.<id>:
 *   - remove purges that filter. JetStream cannot tell a waiting message
 *     from one a taker holds, so a job taken and not ended is removed too
 *     (0): its taker's ack then does nothing, and the taker finds the job
 *     cancelled in the store anyway;
 *   - holds asks the stream which subjects it has: one request per id when
 *     the ids are few against the stream, else one listing of every job
 *     subject (paged by nats.c), looked up by id.
 *
 * Events are core NATS messages on P.events.final.<id>, tagged with this
 * handle's random instance id in a header: a node hears its own messages
 * too and skips them.
 */
#include "jetstream-internal.h"

#include <jansson.h>

#include "moat/util.h"

/* Below this many stream messages per id asked, one listing of the whole
 * stream is cheaper than a request per id. */
#define HOLDS_LIST_RATIO 16

/* ---- remove ---- */

int jsq_remove(void *state, const char *id)
{
    struct jsq_queue *q = state;
    if (!jsq_connected(q))
        return -ENOTCONN;
    char api[128], filter[JS_SUBJECT_MAX], body[JS_SUBJECT_MAX + 32];
    (void)snprintf(api, sizeof(api), "$JS.API.STREAM.PURGE.%s", q->stream);
    (void)snprintf(filter, sizeof(filter), "%s.jobs.*.%s", q->prefix, id);
    int n = snprintf(body, sizeof(body), "{\"filter\":\"%s\"}", filter);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -ENAMETOOLONG;
    /* js_PurgeStream does not say how many it purged: the API does */
    natsMsg *reply = NULL;
    natsStatus s = natsConnection_Request(&reply, q->nc, api, body, n, JS_API_WAIT_MS);
    int r = jsq_errno(s, 0);
    if (r < 0)
        return r;
    json_error_t jerr;
    json_t *o = json_loadb(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, &jerr);
    natsMsg_Destroy(reply);
    json_int_t purged = 0;
    int ok = 0;
    if (!o || json_unpack(o, "{s:b, s?:I}", "success", &ok, "purged", &purged) != 0 || !ok)
        r = -EIO;
    json_decref(o);
    if (r < 0)
        return r;
    if (purged <= 0)
        return -ENOENT;
    (void)pthread_mutex_lock(&q->mu);
    q->ended_since += (uint64_t)purged;
    (void)pthread_mutex_unlock(&q->mu);
    return 0;
}

/* ---- holds ---- */

/* The subjects of the stream under filter: *si, or -errno. */
static int stream_subjects(struct jsq_queue *q, const char *filter, jsStreamInfo **si)
{
    jsOptions o;
    (void)jsOptions_Init(&o);
    o.Wait = JS_API_WAIT_MS;
    o.Stream.Info.SubjectsFilter = filter;
    jsErrCode jerr = 0;
    return jsq_errno(js_GetStreamInfo(si, q->js, q->stream, &o, &jerr), jerr);
}

static int holds_each(struct jsq_queue *q, const char *const *ids, size_t n, bool *held)
{
    for (size_t i = 0; i < n; i++) {
        char filter[JS_SUBJECT_MAX];
        (void)snprintf(filter, sizeof(filter), "%s.jobs.*.%s", q->prefix, ids[i]);
        jsStreamInfo *si = NULL;
        int r = stream_subjects(q, filter, &si);
        if (r < 0)
            return r;
        const jsStreamStateSubjects *subj = si->State.Subjects;
        held[i] = false;
        for (int k = 0; subj && k < subj->Count; k++)
            held[i] = held[i] || subj->List[k].Msgs > 0;
        jsStreamInfo_Destroy(si);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int holds_listing(struct jsq_queue *q, const char *const *ids, size_t n, bool *held)
{
    char filter[JS_SUBJECT_MAX];
    (void)snprintf(filter, sizeof(filter), "%s.jobs.*.*", q->prefix);
    jsStreamInfo *si = NULL;
    int r = stream_subjects(q, filter, &si);
    if (r < 0)
        return r;
    const jsStreamStateSubjects *subj = si->State.Subjects;
    size_t count = subj && subj->Count > 0 ? (size_t)subj->Count : 0;
    const char **have = calloc(count ? count : 1, sizeof(*have));
    if (!have) {
        jsStreamInfo_Destroy(si);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        const char *s = strrchr(subj->List[i].Subject, '.');
        if (s && subj->List[i].Msgs > 0)
            have[k++] = s + 1;
    }
    qsort(have, k, sizeof(*have), cmp_str);
    for (size_t i = 0; i < n; i++)
        held[i] = bsearch(&ids[i], have, k, sizeof(*have), cmp_str) != NULL;
    free(have);
    jsStreamInfo_Destroy(si);
    return 0;
}

int jsq_holds(void *state, const char *const *ids, size_t n, bool *held)
{
    struct jsq_queue *q = state;
    if (!jsq_connected(q))
        return -ENOTCONN;
    (void)pthread_mutex_lock(&q->mu);
    uint64_t msgs = q->stream_msgs + q->pushed_since;
    (void)pthread_mutex_unlock(&q->mu);
    if ((uint64_t)n * HOLDS_LIST_RATIO < msgs)
        return holds_each(q, ids, n, held);
    return holds_listing(q, ids, n, held);
}

/* ---- events ---- */

int jsq_listen(void *state, queue_event_fn fn, void *cls)
{
    struct jsq_queue *q = state;
    (void)pthread_mutex_lock(&q->mu);
    q->listener = fn;
    q->listener_cls = cls;
    (void)pthread_mutex_unlock(&q->mu);
    return 0;
}

int jsq_announce(void *state, enum queue_event ev, const char *id, const char *data, size_t len)
{
    struct jsq_queue *q = state;
    (void)ev; /* queue.c lets only QUEUE_EVENT_FINAL through */
    if (!jsq_connected(q))
        return -ENOTCONN;
    if (len > INT32_MAX)
        return -E2BIG;
    char subject[JS_SUBJECT_MAX];
    int n = snprintf(subject, sizeof(subject), "%s.events.final.%s", q->prefix, id);
    if (n < 0 || (size_t)n >= sizeof(subject))
        return -ENAMETOOLONG;
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subject, NULL, data, (int)len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, JS_INSTANCE_HEADER, q->instance);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(q->nc, m);
    natsMsg_Destroy(m);
    return jsq_errno(s, 0);
}

void jsq_on_event(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    struct jsq_queue *q = closure;
    const char *from = NULL;
    char head[JS_SUBJECT_MAX];
    int n = snprintf(head, sizeof(head), "%s.events.final.", q->prefix);
    const char *subject = natsMsg_GetSubject(msg);
    bool mine = natsMsgHeader_Get(msg, JS_INSTANCE_HEADER, &from) == NATS_OK && from &&
                strcmp(from, q->instance) == 0;
    const char *id = n > 0 && strncmp(subject, head, (size_t)n) == 0 ? subject + n : NULL;
    size_t idlen = id ? strlen(id) : 0;
    (void)pthread_mutex_lock(&q->mu);
    queue_event_fn fn = q->listener;
    void *cls = q->listener_cls;
    (void)pthread_mutex_unlock(&q->mu);
    if (fn && !mine && idlen >= 1 && idlen <= MOAT_UUID_LEN)
        fn(cls, QUEUE_EVENT_FINAL, id, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}
