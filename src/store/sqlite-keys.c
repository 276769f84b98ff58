/*
 * API keys and Idempotency-Key records in SQLite. Rare and small writes
 * (an admin's `moat keys`, a submission that names an Idempotency-Key):
 * they go through one connection of their own, synchronously, instead of
 * the writer's batches, so that a claim answers at once whether it won.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-internal.h"

#define KEY_COLUMNS                                                                                \
    "id, name, hash, created_ms, revoked_ms, jobs_per_minute, concurrent_jobs, max_time_ms,"       \
    " max_wall_time_ms, max_memory_mb, max_processes, max_output_kb, languages"

/* Takes the aux connection (opened on first use); amu held on success. */
static int aux_take(struct sq_store *s, struct moat_err *err)
{
    pthread_mutex_lock(&s->amu);
    if (s->adb)
        return 0;
    int r = sq_connect(s->path, false, &s->adb, err);
    if (r < 0)
        pthread_mutex_unlock(&s->amu);
    return r;
}

static void aux_give(struct sq_store *s)
{
    pthread_mutex_unlock(&s->amu);
}

static int prepare(struct sq_store *s, const char *sql, sqlite3_stmt **q, struct moat_err *err)
{
    int rc = sqlite3_prepare_v2(s->adb, sql, -1, q, NULL);
    if (rc != SQLITE_OK)
        return moat_err_set(err, sq_errno(rc), "cannot prepare: %s", sqlite3_errmsg(s->adb));
    return 0;
}

static int failed(struct sq_store *s, int rc, const char *what, struct moat_err *err)
{
    return moat_err_set(err, sq_errno(rc), "cannot %s: %s", what, sqlite3_errmsg(s->adb));
}

static void col_text(sqlite3_stmt *q, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    moat_strlcpy(out, t ? (const char *)t : "", size);
}

static uint64_t col_u64(sqlite3_stmt *q, int col)
{
    int64_t v = sqlite3_column_int64(q, col);
    return v < 0 ? 0 : (uint64_t)v;
}

int sq_key_add(struct store *st, const struct store_key *k, struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    int e = aux_take(s, err);
    if (e < 0)
        return e;
    sqlite3_stmt *q = NULL;
    e = prepare(s,
                "INSERT INTO api_keys (" KEY_COLUMNS ") VALUES "
                "(?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                &q, err);
    if (e == 0) {
        (void)sqlite3_bind_text(q, 1, k->id, -1, SQLITE_STATIC);
        (void)sqlite3_bind_text(q, 2, k->name, -1, SQLITE_STATIC);
        (void)sqlite3_bind_text(q, 3, k->hash, -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(q, 4, k->created_ms);
        const uint64_t v[] = {k->jobs_per_minute,  k->concurrent_jobs, k->max.time_ms,
                              k->max.wall_time_ms, k->max.memory_mb,   k->max.max_processes,
                              k->max.max_output_kb};
        for (int i = 0; i < (int)MOAT_ARRAY_SIZE(v); i++)
            (void)sqlite3_bind_int64(q, 5 + i, (sqlite3_int64)v[i]);
        (void)sqlite3_bind_text(q, 12, k->languages, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            e = moat_err_set(err, -EEXIST, "key %s exists", k->id);
        else if (rc != SQLITE_DONE)
            e = failed(s, rc, "add the key", err);
    }
    (void)sqlite3_finalize(q);
    aux_give(s);
    return e;
}

int sq_key_list(struct store *st, size_t max, struct store_key **out, size_t *n,
                struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    int e = aux_take(s, err);
    if (e < 0)
        return e;
    sqlite3_stmt *q = NULL;
    struct store_key *v = NULL;
    size_t len = 0, cap = 0;
    e = prepare(s, "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_ms, id", &q, err);
    int rc = SQLITE_DONE;
    while (e == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == max) {
            e = moat_err_set(err, -E2BIG, "more than %zu keys", max);
            break;
        }
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16, bytes = 0;
            struct store_key *nv = NULL;
            if (size_mul(ncap, sizeof(*v), &bytes))
                nv = realloc(v, bytes);
            if (!nv) {
                e = moat_err_set(err, -ENOMEM, "out of memory listing keys");
                break;
            }
            v = nv;
            cap = ncap;
        }
        struct store_key *k = &v[len++];
        *k = (struct store_key){0};
        col_text(q, 0, k->id, sizeof(k->id));
        col_text(q, 1, k->name, sizeof(k->name));
        col_text(q, 2, k->hash, sizeof(k->hash));
        k->created_ms = sqlite3_column_int64(q, 3);
        k->revoked_ms = sqlite3_column_int64(q, 4);
        k->jobs_per_minute = col_u64(q, 5);
        k->concurrent_jobs = col_u64(q, 6);
        k->max.time_ms = col_u64(q, 7);
        k->max.wall_time_ms = col_u64(q, 8);
        k->max.memory_mb = col_u64(q, 9);
        k->max.max_processes = col_u64(q, 10);
        k->max.max_output_kb = col_u64(q, 11);
        col_text(q, 12, k->languages, sizeof(k->languages));
    }
    if (e == 0 && rc != SQLITE_DONE)
        e = failed(s, rc, "list the keys", err);
    (void)sqlite3_finalize(q);
    aux_give(s);
    if (e < 0) {
        free(v);
        return e;
    }
    *out = v;
    *n = len;
    return 0;
}

int sq_key_revoke(struct store *st, const char *id, int64_t now_ms, struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    int e = aux_take(s, err);
    if (e < 0)
        return e;
    sqlite3_stmt *q = NULL;
    e = prepare(s, "SELECT revoked_ms FROM api_keys WHERE id = ?1", &q, err);
    int64_t revoked = -1;
    if (e == 0) {
        (void)sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            revoked = sqlite3_column_int64(q, 0);
        else if (rc != SQLITE_DONE)
            e = failed(s, rc, "read the key", err);
    }
    (void)sqlite3_finalize(q);
    q = NULL;
    if (e == 0 && revoked < 0)
        e = moat_err_set(err, -ENOENT, "no key %s", id);
    else if (e == 0 && revoked > 0)
        e = moat_err_set(err, -EALREADY, "key %s was revoked already", id);
    if (e == 0)
        e = prepare(s, "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms = 0", &q,
                    err);
    if (e == 0) {
        (void)sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(q, 2, now_ms > 0 ? now_ms : 1);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_DONE)
            e = failed(s, rc, "revoke the key", err);
    }
    (void)sqlite3_finalize(q);
    aux_give(s);
    return e;
}

static int idem_read(struct sq_store *s, const char *owner, const char *key, struct store_idem *out,
                     struct moat_err *err)
{
    sqlite3_stmt *q = NULL;
    int e = prepare(s,
                    "SELECT body_hash, created_ms, status, ctype, location, body"
                    " FROM idempotency WHERE owner = ?1 AND key = ?2",
                    &q, err);
    if (e == 0) {
        (void)sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
        (void)sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            col_text(q, 0, out->body_hash, sizeof(out->body_hash));
            out->created_ms = sqlite3_column_int64(q, 1);
            out->status = (unsigned)col_u64(q, 2);
            col_text(q, 3, out->ctype, sizeof(out->ctype));
            col_text(q, 4, out->location, sizeof(out->location));
            const void *b = sqlite3_column_blob(q, 5);
            size_t len = (size_t)sqlite3_column_bytes(q, 5);
            if (b) {
                out->body = moat_memdup0(b, len);
                out->body_len = len;
                if (!out->body)
                    e = moat_err_set(err, -ENOMEM, "out of memory");
            }
        } else {
            e = rc == SQLITE_DONE ? moat_err_set(err, -EAGAIN, "the record went away")
                                  : failed(s, rc, "read the idempotency record", err);
        }
    }
    (void)sqlite3_finalize(q);
    return e;
}

/* Runs one statement with text parameters. */
static int run(struct sq_store *s, const char *sql, const char *const *texts, size_t ntexts,
               int64_t num, int *changes, struct moat_err *err)
{
    sqlite3_stmt *q = NULL;
    int e = prepare(s, sql, &q, err);
    if (e == 0) {
        for (size_t i = 0; i < ntexts; i++)
            (void)sqlite3_bind_text(q, (int)i + 1, texts[i], -1, SQLITE_STATIC);
        (void)sqlite3_bind_int64(q, (int)ntexts + 1, num);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_DONE)
            e = failed(s, rc, "write the idempotency record", err);
        else if (changes)
            *changes = sqlite3_changes(s->adb);
    }
    (void)sqlite3_finalize(q);
    return e;
}

int sq_idem_claim(struct store *st, const char *owner, const char *key, const char *body_hash,
                  int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                  struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    int e = aux_take(s, err);
    if (e < 0)
        return e;
    e = run(s, "DELETE FROM idempotency WHERE created_ms < ?1", NULL, 0, expire_before_ms, NULL,
            err);
    int changes = 0;
    const char *t[] = {owner, key, body_hash};
    if (e == 0)
        e = run(s,
                "INSERT INTO idempotency (owner, key, body_hash, created_ms)"
                " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                t, 3, now_ms, &changes, err);
    if (e == 0 && changes == 0)
        e = idem_read(s, owner, key, out, err);
    aux_give(s);
    if (e < 0)
        return e;
    return changes ? 1 : 0;
}

int sq_idem_settle(struct store *st, const char *owner, const char *key, unsigned status,
                   const char *ctype, const char *location, const char *body, size_t len,
                   struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    int e = aux_take(s, err);
    if (e < 0)
        return e;
    sqlite3_stmt *q = NULL;
    e = prepare(s,
                "UPDATE idempotency SET status = ?3, ctype = ?4, location = ?5, body = ?6"
                " WHERE owner = ?1 AND key = ?2",
                &q, err);
    if (e == 0) {
        (void)sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
        (void)sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
        (void)sqlite3_bind_int(q, 3, (int)status);
        (void)sqlite3_bind_text(q, 4, ctype, -1, SQLITE_STATIC);
        (void)sqlite3_bind_text(q, 5, location, -1, SQLITE_STATIC);
        (void)sqlite3_bind_blob64(q, 6, body ? body : "", len, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_DONE)
            e = failed(s, rc, "settle the idempotency record", err);
    }
    (void)sqlite3_finalize(q);
    aux_give(s);
    return e;
}

int sq_idem_drop(struct store *st, const char *owner, const char *key, int64_t created_ms,
                 struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    int e = aux_take(s, err);
    if (e < 0)
        return e;
    const char *t[] = {owner, key};
    e = run(s,
            "DELETE FROM idempotency WHERE owner = ?1 AND key = ?2"
            " AND (?3 = 0 OR (created_ms = ?3 AND status = 0))",
            t, 2, created_ms, NULL, err);
    aux_give(s);
    return e;
}
