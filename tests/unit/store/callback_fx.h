/*
 * The webhook delivery state of a job, the same test on both stores
 * (test_store.c: SQLite, test_postgres.c: PostgreSQL). Include after
 * store_fx.h.
 */
#ifndef MOAT_CALLBACK_FX_H
#define MOAT_CALLBACK_FX_H

#include "store_fx.h"

/* The ids store_callback_due answers at now. */
static inline size_t callback_due(struct store *st, int64_t now, char (*ids)[MOAT_UUID_LEN + 1],
                                  size_t max)
{
    struct moat_err err = {0};
    size_t n = 99;
    if (store_callback_due(st, now, ids, max, &n, &err) < 0)
        fail_msg("due: %s", err.msg);
    return n;
}

static inline void callback_get(struct store *st, const char *id, struct job_callback *out)
{
    struct moat_err err = {0};
    struct job got = {0};
    assert_int_equal(store_get(st, id, 0, &got, &err), 0);
    *out = got.callback;
    job_release(&got);
}

/* A job with a callback, finished: its delivery due; claimed (counted,
 * leased: not due, not claimable again); a retry recorded (due at its
 * time); a stale record refused; a lease that ran out claimable again;
 * delivered (the last error kept); a job without a callback never due. */
static inline void store_fx_callback_cycle(struct store *st)
{
    struct moat_err err = {0};
    char ids[4][MOAT_UUID_LEN + 1];
    struct job a, plain;
    simple_job(&a, 1);
    simple_job(&plain, 2);
    moat_strlcpy(a.callback.url, "https://example.com/hook?x=1", sizeof(a.callback.url));
    a.callback.shape = JOB_CALLBACK_JUDGE0;
    a.callback.status = JOB_CALLBACK_PENDING;
    assert_int_equal(store_insert(st, &a, &err), 0);
    assert_int_equal(store_insert(st, &plain, &err), 0);

    struct job_callback cb;
    callback_get(st, a.id, &cb);
    assert_string_equal(cb.url, "https://example.com/hook?x=1");
    assert_int_equal(cb.shape, JOB_CALLBACK_JUDGE0);
    assert_int_equal(cb.status, JOB_CALLBACK_PENDING);
    assert_int_equal(cb.attempts, 0);
    assert_string_equal(cb.last_error, "");
    callback_get(st, plain.id, &cb);
    assert_string_equal(cb.url, "");
    assert_int_equal(cb.status, JOB_CALLBACK_NONE);

    /* not final yet: not due, not claimable */
    uint32_t at = 0;
    assert_int_equal(callback_due(st, 1000, ids, 4), 0);
    assert_int_equal(store_callback_claim(st, a.id, 1000, 500, &at, &err), -EALREADY);
    uint32_t n = 0;
    assert_int_equal(store_start(st, a.id, 5, false, &n, &err), 0);
    assert_int_equal(store_start(st, plain.id, 5, false, &n, &err), 0);
    a.attempts = plain.attempts = 1;
    a.status = plain.status = JOB_STATUS_COMPLETED;
    a.finished_ms = plain.finished_ms = 6;
    fill_step(&a.run, JOB_VERDICT_OK, "x", 1, "", 0);
    fill_step(&plain.run, JOB_VERDICT_OK, "y", 1, "", 0);
    assert_int_equal(store_finish(st, &a, &err), 0);
    assert_int_equal(store_finish(st, &plain, &err), 0);

    assert_int_equal(callback_due(st, 1000, ids, 4), 1);
    assert_string_equal(ids[0], a.id);
    assert_int_equal(store_callback_due(st, 1000, ids, 0, &(size_t){0}, &err), 0);

    /* attempt 1: leased until 1500 */
    assert_int_equal(store_callback_claim(st, a.id, 1000, 500, &at, &err), 0);
    assert_int_equal(at, 1);
    assert_int_equal(callback_due(st, 1499, ids, 4), 0);
    assert_int_equal(store_callback_claim(st, a.id, 1499, 500, &at, &err), -EALREADY);
    struct store_callback_outcome o = {.attempt = 1,
                                       .status = JOB_CALLBACK_PENDING,
                                       .next_ms = 3000,
                                       .error = "the receiver answered 500"};
    assert_int_equal(store_callback_record(st, a.id, &o, &err), 0);
    callback_get(st, a.id, &cb);
    assert_int_equal(cb.status, JOB_CALLBACK_PENDING);
    assert_int_equal(cb.attempts, 1);
    assert_int_equal(cb.next_ms, 3000);
    assert_string_equal(cb.last_error, "the receiver answered 500");
    /* the retry is due at 3000, not before */
    assert_int_equal(callback_due(st, 2999, ids, 4), 0);
    assert_int_equal(callback_due(st, 3000, ids, 4), 1);

    /* attempt 2 claimed; its claimer goes silent; the lease runs out:
     * attempt 3; attempt 2's late record is refused */
    assert_int_equal(store_callback_claim(st, a.id, 3000, 100, &at, &err), 0);
    assert_int_equal(at, 2);
    assert_int_equal(store_callback_claim(st, a.id, 3100, 100, &at, &err), 0);
    assert_int_equal(at, 3);
    o = (struct store_callback_outcome){.attempt = 2, .status = JOB_CALLBACK_FAILED, .error = "x"};
    assert_int_equal(store_callback_record(st, a.id, &o, &err), -ESTALE);
    /* a delivered record keeps the last error (error NULL) */
    o = (struct store_callback_outcome){
        .attempt = 3, .status = JOB_CALLBACK_DELIVERED, .delivered_ms = 3150};
    assert_int_equal(store_callback_record(st, a.id, &o, &err), 0);
    callback_get(st, a.id, &cb);
    assert_int_equal(cb.status, JOB_CALLBACK_DELIVERED);
    assert_int_equal(cb.attempts, 3);
    assert_int_equal(cb.delivered_ms, 3150);
    assert_string_equal(cb.last_error, "the receiver answered 500");
    /* final: never due again, nothing more recorded */
    assert_int_equal(callback_due(st, INT64_MAX / 2, ids, 4), 0);
    assert_int_equal(store_callback_claim(st, a.id, INT64_MAX / 2, 1, &at, &err), -EALREADY);
    assert_int_equal(store_callback_record(st, a.id, &o, &err), -ESTALE);

    /* a long error is cut on a character boundary */
    struct job b;
    simple_job(&b, 3);
    moat_strlcpy(b.callback.url, "http://example.com/", sizeof(b.callback.url));
    b.callback.status = JOB_CALLBACK_PENDING;
    assert_int_equal(store_insert(st, &b, &err), 0);
    assert_int_equal(store_cancel(st, b.id, 7, NULL, &err), 0);
    assert_int_equal(store_callback_claim(st, b.id, 10, 10, &at, &err), 0);
    char long_err[400];
    memset(long_err, 'e', sizeof(long_err));
    memcpy(long_err + 253, "\xc3\xa9\xc3\xa9", 4); /* é across the 255-byte cut */
    long_err[sizeof(long_err) - 1] = '\0';
    o = (struct store_callback_outcome){
        .attempt = 1, .status = JOB_CALLBACK_FAILED, .error = long_err};
    assert_int_equal(store_callback_record(st, b.id, &o, &err), 0);
    callback_get(st, b.id, &cb);
    assert_int_equal(cb.status, JOB_CALLBACK_FAILED);
    assert_int_equal(cb.shape, JOB_CALLBACK_NATIVE);
    assert_int_equal(strlen(cb.last_error), 255); /* 253 'e' and one é */
    assert_memory_equal(cb.last_error + 253, "\xc3\xa9", 2);

    /* malformed ids and statuses */
    assert_int_equal(store_callback_claim(st, "nope", 1, 1, &at, &err), -ENOENT);
    o.status = JOB_CALLBACK_NONE;
    assert_int_equal(store_callback_record(st, b.id, &o, &err), -EINVAL);
    job_release(&a);
    job_release(&b);
    job_release(&plain);
}

#endif
