/*
 * Idempotency-Key on submissions (any POST route that takes a body): the
 * first request with a key claims it in the store for its caller (the API
 * key's id, or "" for anonymous callers) together with a hash of its path
 * and body; its answer, when it is a success (2xx), is kept there for
 * auth.idempotency_hours and replayed to every retry with the same body.
 * A retry with another body is refused (422), one made while the first is
 * still being answered gets 409. The claim is one atomic insert in the
 * store: of concurrent retries, on any node, one alone submits.
 */
#include "server-internal.h"

#include "moat/store.h"

/* A claim is in flight at most the longest wait (server.max_wait_ms) and
 * this much for the rest (the store's commit, the answer); older, it was
 * abandoned. */
#define IDEM_STALE_MS 60000

/* 1..255 visible ASCII characters (the draft's sf-string, in practice a
 * UUID or a client's token). */
static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return true;
}

/* SHA-256 of "path\nbody": the same key on another route is another body. */
static void body_hash(const struct api_req *rq, const char *url, char out[MOAT_SHA256_HEX_LEN + 1])
{
    size_t ulen = strlen(url), len = 0;
    char *all = NULL;
    if (size_add(ulen + 1, rq->body.len, &len))
        all = malloc(len ? len : 1);
    if (!all) { /* hash the body alone rather than fail the request */
        moat_sha256_hex(rq->body.data, rq->body.len, out);
        return;
    }
    memcpy(all, url, ulen);
    all[ulen] = '\n';
    if (rq->body.len)
        memcpy(all + ulen + 1, rq->body.data, rq->body.len);
    moat_sha256_hex(all, len, out);
    free(all);
}

static void replay(struct api_req *rq, struct store_idem *rec)
{
    moat_strlcpy(rq->auth.ctype, rec->ctype, sizeof(rq->auth.ctype));
    moat_strlcpy(rq->location, rec->location, sizeof(rq->location));
    api_reply_bytes(rq, rec->status, NULL, rec->body ? rec->body : "", rec->body_len);
    rq->ctype = rq->auth.ctype[0] ? rq->auth.ctype : NULL;
    rq->auth.idem_replayed = true;
}

bool api_idem_begin(struct api_server *srv, struct api_req *rq, const char *method, const char *url)
{
    if (!rq->route || !rq->route->body || strcmp(method, "POST") != 0)
        return true;
    const char *key = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (!key)
        return true;
    if (!key_ok(key)) {
        api_reply_fail(rq, 400, "invalid_field", "Idempotency-Key",
                       "Idempotency-Key must be 1 to 255 visible ASCII characters");
        return false;
    }
    char hash[MOAT_SHA256_HEX_LEN + 1];
    body_hash(rq, url, hash);
    const char *owner = rq->auth.keyed ? rq->auth.key_id : "";
    int64_t now = (int64_t)moat_realtime_ms();
    int64_t keep = (int64_t)srv->deps.cfg->idempotency_hours * 3600 * 1000;
    /* a claim in flight longer than any answer takes was abandoned (its
     * node died, or could not record the answer): taken over */
    int64_t stale = (int64_t)srv->deps.cfg->max_wait_ms + IDEM_STALE_MS;
    struct store_idem rec = {0};
    struct moat_err err = {0};
    int r = exec_idem_claim(srv->deps.exec, owner, key, hash, now, now - keep, &rec, &err);
    if (r == 0 && rec.status == 0 && now - rec.created_ms > stale) {
        free(TAKE_PTR(rec.body));
        r = exec_idem_drop(srv->deps.exec, owner, key, rec.created_ms, &err);
        if (r == 0)
            r = exec_idem_claim(srv->deps.exec, owner, key, hash, now, now - keep, &rec, &err);
    }
    if (r == 1) {
        rq->auth.idem_claimed = true;
        moat_strlcpy(rq->auth.idem_key, key, sizeof(rq->auth.idem_key));
        return true;
    }
    if (r < 0) {
        rq->retry_after = 1;
        api_reply_fail(rq, 503, "store_unavailable", NULL,
                       "the Idempotency-Key cannot be checked: %s", err.msg);
        return false;
    }
    if (strcmp(rec.body_hash, hash) != 0)
        api_reply_fail(rq, 422, "idempotency_key_reused", "Idempotency-Key",
                       "this Idempotency-Key was used with another request body");
    else if (rec.status == 0) {
        rq->retry_after = 1;
        api_reply_fail(rq, 409, "idempotency_in_progress", "Idempotency-Key",
                       "the first request with this Idempotency-Key is still being answered");
    } else
        replay(rq, &rec);
    free(rec.body);
    return false;
}

void api_idem_end(struct api_server *srv, struct api_req *rq)
{
    if (!rq->auth.idem_claimed)
        return;
    rq->auth.idem_claimed = false;
    const char *owner = rq->auth.keyed ? rq->auth.key_id : "";
    struct moat_err err = {0};
    int r;
    if (rq->has_response && rq->status >= 200 && rq->status < 300)
        r = exec_idem_settle(srv->deps.exec, owner, rq->auth.idem_key, rq->status,
                             rq->ctype ? rq->ctype : "", rq->location, rq->resp, rq->resp_len,
                             &err);
    else
        r = exec_idem_drop(srv->deps.exec, owner, rq->auth.idem_key, 0, &err);
    if (r < 0 && rq->has_response && rq->status >= 200 && rq->status < 300) {
        /* not kept: better a retry that makes a second job than a key
         * stuck in flight until the claim is taken over */
        struct moat_err ignored = {0};
        r = exec_idem_drop(srv->deps.exec, owner, rq->auth.idem_key, 0, &ignored);
    }
    if (r < 0)
        log_warn("event=idempotency_record_failed msg=\"%s\"", err.msg);
}
