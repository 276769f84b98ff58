/*
 * API keys and Idempotency-Key records in PostgreSQL: single statements
 * on a reader connection (each its own transaction), outside the writer's
 * batches, so that a claim answers at once whether it won. The claim is
 * one INSERT ... ON CONFLICT DO NOTHING: of concurrent claims of one key
 * on any node, one alone inserts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "postgres-internal.h"

#define T PG_SCHEMA "."

static int fail(int e, const char *what, const char *msg, struct moat_err *err)
{
    return moat_err_set(err, e, "cannot %s: %s", what, msg);
}

int pg_key_add(struct store *st, const struct store_key *k, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char nums[8][24];
    const uint64_t v[] = {(uint64_t)k->created_ms, k->jobs_per_minute,  k->concurrent_jobs,
                          k->max.time_ms,          k->max.wall_time_ms, k->max.memory_mb,
                          k->max.max_processes,    k->max.max_output_kb};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(v); i++)
        (void)snprintf(nums[i], sizeof(nums[i]), "%" PRIu64, v[i]);
    const char *values[] = {k->id,   k->name, k->hash, nums[0], nums[1], nums[2],
                            nums[3], nums[4], nums[5], nums[6], nums[7], k->languages};
    PGresult *res = NULL;
    char msg[200];
    int e = pg_aux_query(s,
                         "INSERT INTO " T "api_keys (id, name, hash, created_ms, jobs_per_minute,"
                         " concurrent_jobs, max_time_ms, max_wall_time_ms, max_memory_mb,"
                         " max_processes, max_output_kb, languages) VALUES ($1, $2, $3, $4, $5,"
                         " $6, $7, $8, $9, $10, $11, $12)",
                         12, values, NULL, 0, &res, msg, sizeof(msg));
    PQclear(res);
    if (e == -EEXIST)
        return moat_err_set(err, e, "key %s exists", k->id);
    return e < 0 ? fail(e, "add the key", msg, err) : 0;
}

int pg_key_list(struct store *st, size_t max, struct store_key **out, size_t *n,
                struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    PGresult *res = NULL;
    char msg[200];
    int e = pg_aux_query(s,
                         "SELECT id::text, name, hash, created_ms, revoked_ms, jobs_per_minute,"
                         " concurrent_jobs, max_time_ms, max_wall_time_ms, max_memory_mb,"
                         " max_processes, max_output_kb, languages FROM " T "api_keys"
                         " ORDER BY created_ms, id",
                         0, NULL, NULL, 0, &res, msg, sizeof(msg));
    if (e < 0)
        return fail(e, "list the keys", msg, err);
    size_t rows = (size_t)PQntuples(res), bytes = 0;
    if (rows > max) {
        PQclear(res);
        return moat_err_set(err, -E2BIG, "more than %zu keys", max);
    }
    struct store_key *v = NULL;
    if (rows && (!size_mul(rows, sizeof(*v), &bytes) || !(v = calloc(1, bytes)))) {
        PQclear(res);
        return moat_err_set(err, -ENOMEM, "out of memory listing keys");
    }
    for (size_t i = 0; i < rows; i++) {
        struct store_key *k = &v[i];
        int row = (int)i;
        pg_text(res, row, 0, k->id, sizeof(k->id));
        pg_text(res, row, 1, k->name, sizeof(k->name));
        pg_text(res, row, 2, k->hash, sizeof(k->hash));
        k->created_ms = pg_int(res, row, 3);
        k->revoked_ms = pg_int(res, row, 4);
        k->jobs_per_minute = (uint64_t)pg_int(res, row, 5);
        k->concurrent_jobs = (uint64_t)pg_int(res, row, 6);
        k->max.time_ms = (uint64_t)pg_int(res, row, 7);
        k->max.wall_time_ms = (uint64_t)pg_int(res, row, 8);
        k->max.memory_mb = (uint64_t)pg_int(res, row, 9);
        k->max.max_processes = (uint64_t)pg_int(res, row, 10);
        k->max.max_output_kb = (uint64_t)pg_int(res, row, 11);
        pg_text(res, row, 12, k->languages, sizeof(k->languages));
    }
    PQclear(res);
    *out = v;
    *n = rows;
    return 0;
}

int pg_key_revoke(struct store *st, const char *id, int64_t now_ms, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char now[24];
    (void)snprintf(now, sizeof(now), "%" PRId64, now_ms > 0 ? now_ms : 1);
    const char *values[] = {id, now};
    PGresult *res = NULL;
    char msg[200];
    /* the row as it was before: absent, revoked already, or revoked now */
    int e = pg_aux_query(s,
                         "WITH old AS (SELECT revoked_ms FROM " T "api_keys WHERE id = $1::uuid),"
                         " upd AS (UPDATE " T "api_keys SET revoked_ms = $2::bigint"
                         "  WHERE id = $1::uuid AND revoked_ms = 0 RETURNING 1)"
                         " SELECT (SELECT revoked_ms FROM old), (SELECT count(*) FROM upd)",
                         2, values, NULL, 0, &res, msg, sizeof(msg));
    if (e < 0)
        return fail(e, "revoke the key", msg, err);
    bool absent = PQgetisnull(res, 0, 0);
    int64_t updated = pg_int(res, 0, 1);
    PQclear(res);
    if (absent)
        return moat_err_set(err, -ENOENT, "no key %s", id);
    if (updated == 0)
        return moat_err_set(err, -EALREADY, "key %s was revoked already", id);
    return 0;
}

int pg_idem_claim(struct store *st, const char *owner, const char *key, const char *body_hash,
                  int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                  struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char now[24], before[24];
    (void)snprintf(now, sizeof(now), "%" PRId64, now_ms);
    (void)snprintf(before, sizeof(before), "%" PRId64, expire_before_ms);
    PGresult *res = NULL;
    char msg[200];
    const char *old[] = {before};
    int e = pg_aux_query(s, "DELETE FROM " T "idempotency WHERE created_ms < $1::bigint", 1, old,
                         NULL, 0, &res, msg, sizeof(msg));
    PQclear(res);
    res = NULL;
    const char *values[] = {owner, key, body_hash, now};
    if (e == 0)
        e = pg_aux_query(s,
                         "INSERT INTO " T "idempotency (owner, key, body_hash, created_ms)"
                         " VALUES ($1, $2, $3, $4::bigint) ON CONFLICT DO NOTHING RETURNING 1",
                         4, values, NULL, 0, &res, msg, sizeof(msg));
    if (e < 0)
        return fail(e, "claim the idempotency key", msg, err);
    bool won = PQntuples(res) == 1;
    PQclear(res);
    if (won)
        return 1;
    res = NULL;
    e = pg_aux_query(s,
                     "SELECT body_hash, created_ms, status, ctype, location, body FROM " T
                     "idempotency WHERE owner = $1 AND key = $2",
                     2, values, NULL, 0, &res, msg, sizeof(msg));
    if (e < 0)
        return fail(e, "read the idempotency record", msg, err);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return moat_err_set(err, -EAGAIN, "the record went away");
    }
    pg_text(res, 0, 0, out->body_hash, sizeof(out->body_hash));
    out->created_ms = pg_int(res, 0, 1);
    out->status = (unsigned)pg_int(res, 0, 2);
    pg_text(res, 0, 3, out->ctype, sizeof(out->ctype));
    pg_text(res, 0, 4, out->location, sizeof(out->location));
    if (!PQgetisnull(res, 0, 5)) {
        out->body_len = (size_t)PQgetlength(res, 0, 5);
        out->body = moat_memdup0(PQgetvalue(res, 0, 5), out->body_len);
        if (!out->body)
            e = moat_err_set(err, -ENOMEM, "out of memory");
    }
    PQclear(res);
    return e;
}

int pg_idem_settle(struct store *st, const char *owner, const char *key, unsigned status,
                   const char *ctype, const char *location, const char *body, size_t len,
                   struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    if (len > INT32_MAX)
        return moat_err_set(err, -E2BIG, "answer too large to keep");
    char st_text[16];
    (void)snprintf(st_text, sizeof(st_text), "%u", status);
    const char *values[] = {owner, key, st_text, ctype, location, body ? body : ""};
    const int lengths[] = {0, 0, 0, 0, 0, (int)len};
    PGresult *res = NULL;
    char msg[200];
    int e = pg_aux_query(s,
                         "UPDATE " T "idempotency SET status = $3::integer, ctype = $4,"
                         " location = $5, body = $6 WHERE owner = $1 AND key = $2",
                         6, values, lengths, 1u << 5, &res, msg, sizeof(msg));
    PQclear(res);
    return e < 0 ? fail(e, "settle the idempotency record", msg, err) : 0;
}

int pg_idem_drop(struct store *st, const char *owner, const char *key, int64_t created_ms,
                 struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char created[24];
    (void)snprintf(created, sizeof(created), "%" PRId64, created_ms);
    const char *values[] = {owner, key, created};
    PGresult *res = NULL;
    char msg[200];
    int e = pg_aux_query(s,
                         "DELETE FROM " T "idempotency WHERE owner = $1 AND key = $2"
                         " AND ($3::bigint = 0 OR (created_ms = $3::bigint AND status = 0))",
                         3, values, NULL, 0, &res, msg, sizeof(msg));
    PQclear(res);
    return e < 0 ? fail(e, "drop the idempotency record", msg, err) : 0;
}
