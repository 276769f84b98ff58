/*
 * The store's API keys and Idempotency-Key records, passed through for the
 * API (which never touches the store itself).
 */
#include "exec-internal.h"

#include "moat/store.h"

int exec_keys_list(struct exec *ex, size_t max, struct store_key **out, size_t *n,
                   struct moat_err *err)
{
    return store_key_list(ex->deps.store, max, out, n, err);
}

int exec_idem_claim(struct exec *ex, const char *owner, const char *key, const char *body_hash,
                    int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                    struct moat_err *err)
{
    return store_idem_claim(ex->deps.store, owner, key, body_hash, now_ms, expire_before_ms, out,
                            err);
}

int exec_idem_settle(struct exec *ex, const char *owner, const char *key, unsigned status,
                     const char *ctype, const char *location, const char *body, size_t len,
                     struct moat_err *err)
{
    return store_idem_settle(ex->deps.store, owner, key, status, ctype, location, body, len, err);
}

int exec_idem_drop(struct exec *ex, const char *owner, const char *key, int64_t created_ms,
                   struct moat_err *err)
{
    return store_idem_drop(ex->deps.store, owner, key, created_ms, err);
}
