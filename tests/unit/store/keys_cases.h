/*
 * The cases of API keys and Idempotency-Key records, run by test_store.c
 * (SQLite) and test_postgres.c (PostgreSQL) on a store each opened: both
 * drivers must behave the same. Include after store_fx.h.
 */
#ifndef MOAT_KEYS_CASES_H
#define MOAT_KEYS_CASES_H

#include <pthread.h>

static inline void make_key(struct store_key *k, const char *name, int64_t created_ms)
{
    *k = (struct store_key){.created_ms = created_ms,
                            .jobs_per_minute = 60,
                            .concurrent_jobs = 4,
                            .max = {.time_ms = 1000,
                                    .wall_time_ms = 3000,
                                    .memory_mb = 64,
                                    .max_processes = 8,
                                    .max_output_kb = 32}};
    moat_uuid7(k->id);
    moat_strlcpy(k->name, name, sizeof(k->name));
    moat_sha256_hex(name, strlen(name), k->hash);
    moat_strlcpy(k->languages, "python,c", sizeof(k->languages));
}

static inline void assert_key_equal(const struct store_key *a, const struct store_key *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->hash, b->hash);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->revoked_ms, b->revoked_ms);
    assert_int_equal(a->jobs_per_minute, b->jobs_per_minute);
    assert_int_equal(a->concurrent_jobs, b->concurrent_jobs);
    assert_memory_equal(&a->max, &b->max, sizeof(a->max));
    assert_string_equal(a->languages, b->languages);
}

static inline void keys_case_round_trip(struct store *st)
{
    struct store_key a, b, *v = NULL;
    size_t n = 9;
    assert_int_equal(store_key_list(st, 10, &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(v);
    make_key(&a, "first", 1000);
    make_key(&b, "second", 2000);
    b.jobs_per_minute = b.concurrent_jobs = 0;
    b.max = (struct moat_limits){0};
    b.languages[0] = '\0';
    assert_int_equal(store_key_add(st, &b, NULL), 0);
    assert_int_equal(store_key_add(st, &a, NULL), 0);
    /* the same key (hash) twice, the same id twice */
    struct store_key dup = a;
    moat_uuid7(dup.id);
    assert_int_equal(store_key_add(st, &dup, NULL), -EEXIST);
    dup = b;
    moat_sha256_hex("other", 5, dup.hash);
    assert_int_equal(store_key_add(st, &dup, NULL), -EEXIST);
    /* malformed: no hash */
    dup.hash[0] = '\0';
    assert_int_equal(store_key_add(st, &dup, NULL), -EINVAL);

    assert_int_equal(store_key_list(st, 10, &v, &n, NULL), 0);
    assert_int_equal(n, 2); /* oldest first */
    assert_key_equal(&v[0], &a);
    assert_key_equal(&v[1], &b);
    free(v);
    assert_int_equal(store_key_list(st, 1, &v, &n, NULL), -E2BIG);

    assert_int_equal(store_key_revoke(st, a.id, 5000, NULL), 0);
    assert_int_equal(store_key_revoke(st, a.id, 6000, NULL), -EALREADY);
    char unknown[MOAT_UUID_LEN + 1];
    moat_uuid7(unknown);
    assert_int_equal(store_key_revoke(st, unknown, 6000, NULL), -ENOENT);
    assert_int_equal(store_key_revoke(st, "not-a-uuid", 6000, NULL), -ENOENT);
    assert_int_equal(store_key_list(st, 10, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    a.revoked_ms = 5000;
    assert_key_equal(&v[0], &a);
    assert_key_equal(&v[1], &b);
    free(v);
}

static inline void keys_case_idempotency(struct store *st)
{
    char h1[MOAT_SHA256_HEX_LEN + 1], h2[MOAT_SHA256_HEX_LEN + 1];
    moat_sha256_hex("body 1", 6, h1);
    moat_sha256_hex("body 2", 6, h2);
    struct store_idem rec;
    assert_int_equal(store_idem_claim(st, "", "k1", h1, 1000, 0, &rec, NULL), 1);
    /* claimed, not answered yet */
    assert_int_equal(store_idem_claim(st, "", "k1", h2, 1001, 0, &rec, NULL), 0);
    assert_string_equal(rec.body_hash, h1);
    assert_int_equal(rec.status, 0);
    assert_int_equal(rec.created_ms, 1000);
    assert_null(rec.body);
    /* answered: the answer, bytes as they were (a NUL inside) */
    static const char body[] = "{\"jobId\":\"x\"}\0tail";
    assert_int_equal(store_idem_settle(st, "", "k1", 202, "application/json", "/v1/jobs/x", body,
                                       sizeof(body), NULL),
                     0);
    assert_int_equal(store_idem_claim(st, "", "k1", h1, 1002, 0, &rec, NULL), 0);
    assert_int_equal(rec.status, 202);
    assert_string_equal(rec.ctype, "application/json");
    assert_string_equal(rec.location, "/v1/jobs/x");
    assert_int_equal(rec.body_len, sizeof(body));
    assert_memory_equal(rec.body, body, sizeof(body));
    free(rec.body);
    /* per owner */
    assert_int_equal(store_idem_claim(st, "owner-b", "k1", h2, 1003, 0, &rec, NULL), 1);
    /* dropped: claimable again */
    assert_int_equal(store_idem_drop(st, "owner-b", "k1", 0, NULL), 0);
    assert_int_equal(store_idem_claim(st, "owner-b", "k1", h2, 1004, 0, &rec, NULL), 1);
    /* an abandoned claim is dropped only as it was: in flight, made then */
    assert_int_equal(store_idem_drop(st, "owner-b", "k1", 1003, NULL), 0);
    assert_int_equal(store_idem_claim(st, "owner-b", "k1", h2, 1005, 0, &rec, NULL), 0);
    assert_int_equal(rec.created_ms, 1004);
    assert_int_equal(store_idem_drop(st, "owner-b", "k1", 1004, NULL), 0);
    assert_int_equal(store_idem_claim(st, "owner-b", "k1", h2, 1006, 0, &rec, NULL), 1);
    assert_int_equal(store_idem_settle(st, "owner-b", "k1", 202, "", "", "x", 1, NULL), 0);
    assert_int_equal(store_idem_drop(st, "owner-b", "k1", 1006, NULL), 0); /* answered: kept */
    assert_int_equal(store_idem_claim(st, "owner-b", "k1", h2, 1007, 0, &rec, NULL), 0);
    assert_int_equal(rec.status, 202);
    free(rec.body);
    /* expired: records made before expire_before_ms go */
    assert_int_equal(store_idem_claim(st, "", "k1", h2, 90000, 1001, &rec, NULL), 1);
    assert_int_equal(store_idem_claim(st, "", "k1", h1, 90001, 1001, &rec, NULL), 0);
    assert_string_equal(rec.body_hash, h2);
    free(rec.body);
}

struct claim_race {
    struct store *st;
    pthread_barrier_t *gate;
    int result;
};

static inline void *claim_one(void *arg)
{
    struct claim_race *c = arg;
    struct store_idem rec;
    (void)pthread_barrier_wait(c->gate);
    c->result = store_idem_claim(c->st, "race", "key", "h", 5000, 0, &rec, NULL);
    if (c->result == 0)
        free(rec.body);
    return NULL;
}

static inline void keys_case_claim_race(struct store *st)
{
    enum { N = 8 };
    pthread_barrier_t gate;
    pthread_barrier_init(&gate, NULL, N);
    struct claim_race c[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        c[i] = (struct claim_race){.st = st, .gate = &gate};
        assert_int_equal(pthread_create(&t[i], NULL, claim_one, &c[i]), 0);
    }
    int won = 0, lost = 0;
    for (int i = 0; i < N; i++) {
        (void)pthread_join(t[i], NULL);
        won += c[i].result == 1;
        lost += c[i].result == 0;
    }
    pthread_barrier_destroy(&gate);
    assert_int_equal(won, 1);
    assert_int_equal(lost, N - 1);
}

#endif
