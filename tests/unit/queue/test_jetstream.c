/*
 * The JetStream queue against a real nats-server, started for this test by
 * tests/servers/nats.py (MOAT_TEST_NATS_URL; MOAT_TEST_NATS_CONTROL stops
 * and starts it). Each case uses a stream and a subject prefix of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/queue.h"
#include "moat/util.h"
#include "moat_test.h"

#define WAIT_MS 10000 /* the bound of every wait for an event */

static const char *nats_url;
static unsigned case_no;

static void make_id(char out[MOAT_UUID_LEN + 1], unsigned n)
{
    (void)snprintf(out, MOAT_UUID_LEN + 1, "00000000-0000-7000-8000-%012u", n);
}

static unsigned id_num(const char *id)
{
    uint64_t v = 0;
    assert_int_equal(parse_u64(id + 24, 0, UINT32_MAX, &v), 0);
    return (unsigned)v;
}

static uint64_t now_ms(void)
{
    return moat_now_ns() / 1000000u;
}

/* A configuration of its own stream (name), as a node of a cluster. */
static void config_for(struct moat_config *cfg, const char *name, uint64_t ack_wait_s, uint64_t max)
{
    config_defaults(cfg);
    moat_strlcpy(cfg->queue, nats_url, sizeof(cfg->queue));
    (void)snprintf(cfg->stream, sizeof(cfg->stream), "T_%s", name);
    (void)snprintf(cfg->subject_prefix, sizeof(cfg->subject_prefix), "t%s", name);
    moat_strlcpy(cfg->node, "test", sizeof(cfg->node));
    cfg->ack_wait_s = ack_wait_s;
    cfg->max_queue = max;
}

/* A fresh stream's name for this case. */
static void new_name(char out[32])
{
    (void)snprintf(out, 32, "%u_%u", (unsigned)getpid(), ++case_no);
}

static struct queue *open_named(const char *name, uint64_t ack_wait_s, uint64_t max)
{
    struct moat_config cfg;
    config_for(&cfg, name, ack_wait_s, max);
    struct queue *q = NULL;
    struct moat_err err = {0};
    int r = queue_open(&cfg, &q, &err);
    if (r < 0)
        fail_msg("queue_open: %d %s: %s", r, err.field, err.msg);
    assert_non_null(q);
    return q;
}

static struct queue *open_new(uint64_t ack_wait_s)
{
    char name[32];
    new_name(name);
    return open_named(name, ack_wait_s, 100000);
}

static void push_n(struct queue *q, unsigned n, int prio)
{
    char id[MOAT_UUID_LEN + 1];
    make_id(id, n);
    assert_int_equal(queue_push(q, id, prio, false), 0);
}

/* Takes one entry (waiting up to WAIT_MS); the caller ends it. */
static void take_one(struct queue *q, struct queue_entry *e)
{
    int r = queue_take(q, WAIT_MS, e);
    if (r != 0)
        fail_msg("queue_take: %d", r);
    assert_non_null(e->handle);
}

static unsigned take_ack(struct queue *q, int *prio)
{
    struct queue_entry e;
    take_one(q, &e);
    if (prio)
        *prio = e.priority;
    queue_ack(q, &e);
    assert_null(e.handle);
    return id_num(e.id);
}

static int take_none(struct queue *q, int timeout_ms)
{
    struct queue_entry e;
    int r = queue_take(q, timeout_ms, &e);
    if (r == 0) {
        queue_release(q, &e, true);
        fail_msg("took %s (delivery %u), expected nothing", e.id, e.deliveries);
    }
    return r;
}

/* Asks tests/servers/nats.py to "kill" or "start" the server. */
static void control(const char *cmd)
{
    const char *path = getenv("MOAT_TEST_NATS_CONTROL");
    assert_non_null(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    moat_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char line[64];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    assert_int_equal(write_full(fd, line, (size_t)n), 0);
    char answer[256] = "";
    size_t got = 0;
    while (got < sizeof(answer) - 1 && !strchr(answer, '\n')) {
        ssize_t k = read(fd, answer + got, sizeof(answer) - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        answer[got] = '\0';
    }
    (void)close(fd);
    if (strncmp(answer, "ok", 2) != 0)
        fail_msg("control %s: %s", cmd, answer);
}

/* ---- order ---- */

static void test_priority_order(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    const int prios[] = {3, 10, 0, 5, 7, 1};
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(prios); i++)
        push_n(q, i, prios[i]);
    const unsigned want[] = {1, 4, 3, 0, 5, 2};
    const int want_prio[] = {10, 7, 5, 3, 1, 0};
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(want); i++) {
        int p = -1;
        assert_int_equal(take_ack(q, &p), want[i]);
        assert_int_equal(p, want_prio[i]);
    }
    assert_int_equal(take_none(q, 200), -ETIMEDOUT);
    queue_close(q);
}

static void test_fifo_within_priority(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    for (unsigned i = 0; i < 200; i++)
        push_n(q, i, i % 2 ? 8 : 2);
    for (unsigned i = 1; i < 200; i += 2)
        assert_int_equal(take_ack(q, NULL), i);
    for (unsigned i = 0; i < 200; i += 2)
        assert_int_equal(take_ack(q, NULL), i);
    assert_int_equal(take_none(q, 100), -ETIMEDOUT);
    queue_close(q);
}

/* Levels found empty are looked at again once something is pushed, and a
 * later, higher priority entry still goes first. */
static void test_wakes_for_new_entry(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    assert_int_equal(take_none(q, 300), -ETIMEDOUT);
    push_n(q, 1, 2);
    push_n(q, 2, 9);
    assert_int_equal(take_ack(q, NULL), 2);
    assert_int_equal(take_ack(q, NULL), 1);
    queue_close(q);
}

/* ---- pushes ---- */

struct done_log {
    _Atomic unsigned calls[1000];
    _Atomic int result[1000];
    _Atomic unsigned total;
};

struct done_arg {
    struct done_log *log;
    unsigned i;
};

static void on_done(void *cls, int result)
{
    struct done_arg *a = cls;
    atomic_fetch_add(&a->log->calls[a->i], 1);
    atomic_store(&a->log->result[a->i], result);
    atomic_fetch_add(&a->log->total, 1);
}

static void wait_done(struct done_log *log, unsigned n)
{
    uint64_t dl = moat_test_deadline_ms(WAIT_MS);
    while (atomic_load(&log->total) < n && moat_test_before(dl))
        ;
    if (atomic_load(&log->total) < n)
        fail_msg("%u of %u pushes done", atomic_load(&log->total), n);
}

static void test_duplicate_push_is_one_entry(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    push_n(q, 7, 5);
    push_n(q, 7, 5);
    struct done_log *log = calloc(1, sizeof(*log));
    assert_non_null(log);
    struct done_arg a = {.log = log, .i = 0};
    char id[MOAT_UUID_LEN + 1];
    make_id(id, 7);
    assert_int_equal(queue_push_async(q, id, 5, false, NULL, 0, on_done, &a), 0);
    wait_done(log, 1);
    assert_int_equal(atomic_load(&log->result[0]), 0);
    assert_int_equal(take_ack(q, NULL), 7);
    assert_int_equal(take_none(q, 300), -ETIMEDOUT);
    free(log);
    queue_close(q);
}

static void test_push_async_done_once(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    enum { N = 500 };
    struct done_log *log = calloc(1, sizeof(*log));
    struct done_arg *args = calloc(N, sizeof(*args));
    assert_non_null(log);
    assert_non_null(args);
    for (unsigned i = 0; i < N; i++) {
        char id[MOAT_UUID_LEN + 1];
        make_id(id, i);
        args[i] = (struct done_arg){.log = log, .i = i};
        assert_int_equal(queue_push_async(q, id, (int)(i % 11), false, NULL, 0, on_done, &args[i]), 0);
    }
    wait_done(log, N);
    /* every entry is there, once */
    bool seen[N] = {0};
    for (unsigned i = 0; i < N; i++) {
        unsigned n = take_ack(q, NULL);
        assert_true(n < N);
        assert_false(seen[n]);
        seen[n] = true;
    }
    assert_int_equal(take_none(q, 100), -ETIMEDOUT);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&log->calls[i]), 1);
        assert_int_equal(atomic_load(&log->result[i]), 0);
    }
    queue_close(q);
    /* closed: nothing more came */
    assert_int_equal(atomic_load(&log->total), N);
    free(args);
    free(log);
}

static void test_reserve_bound(void **state)
{
    (void)state;
    char name[32];
    new_name(name);
    struct queue *q = open_named(name, 30, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(queue_reserve(q), 0);
    assert_int_equal(queue_reserve(q), -EAGAIN);
    queue_unreserve(q);
    assert_int_equal(queue_reserve(q), 0);
    char id[MOAT_UUID_LEN + 1];
    for (unsigned i = 0; i < 3; i++) {
        make_id(id, i);
        assert_int_equal(queue_push(q, id, 4, true), 0);
    }
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.reserved, 0);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.max, 3);
    assert_int_equal(queue_reserve(q), -EAGAIN); /* three wait */
    struct queue_entry e;
    take_one(q, &e);
    queue_stats(q, &st);
    assert_int_equal(st.in_flight, 1);
    assert_int_equal(st.depth, 2);
    queue_ack(q, &e);
    queue_stats(q, &st);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.depth, 2);
    assert_int_equal(queue_reserve(q), 0);
    assert_false(queue_in_process(q));
    assert_true(queue_ready(q));
    queue_close(q);
}

/* ---- deliveries ---- */

static void test_redelivery_after_ack_wait(void **state)
{
    (void)state;
    struct queue *q = open_new(1);
    push_n(q, 1, 5);
    struct queue_entry e[3];
    for (unsigned d = 1; d <= 3; d++) {
        /* not ended: the ack wait passes and it comes again */
        take_one(q, &e[d - 1]);
        assert_int_equal(id_num(e[d - 1].id), 1);
        assert_int_equal(e[d - 1].deliveries, d);
    }
    queue_release(q, &e[0], false);
    queue_release(q, &e[1], false);
    queue_ack(q, &e[2]);
    assert_int_equal(take_none(q, 2500), -ETIMEDOUT); /* past an ack wait: gone */
    queue_close(q);
}

/* What a pusher attaches travels with the entry, bytes as they were (a
 * NUL inside), to its first taker and to a later one after a lost taker;
 * an entry pushed without data has none. */
static void test_data_travels_with_entry(void **state)
{
    (void)state;
    struct queue *q = open_new(1);
    struct done_log *log = calloc(1, sizeof(*log));
    assert_non_null(log);
    struct done_arg a = {.log = log, .i = 0};
    char id[MOAT_UUID_LEN + 1];
    make_id(id, 1);
    static const char data[] = "{\"v\":1}\0tail";
    assert_int_equal(queue_push_async(q, id, 5, false, data, sizeof(data), on_done, &a), 0);
    wait_done(log, 1);
    assert_int_equal(atomic_load(&log->result[0]), 0);
    struct queue_entry e, again, plain;
    take_one(q, &e);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.len, sizeof(data));
    assert_memory_equal(e.data, data, sizeof(data));
    /* not ended: after the ack wait it comes again, its data with it */
    take_one(q, &again);
    assert_int_equal(id_num(again.id), 1);
    assert_int_equal(again.deliveries, 2);
    assert_int_equal(again.len, sizeof(data));
    assert_memory_equal(again.data, data, sizeof(data));
    queue_release(q, &e, false);
    queue_ack(q, &again);
    push_n(q, 2, 4);
    take_one(q, &plain);
    assert_int_equal(id_num(plain.id), 2);
    assert_null(plain.data);
    assert_int_equal(plain.len, 0);
    queue_ack(q, &plain);
    free(log);
    queue_close(q);
}

/* Another node (a second handle on the stream) never gets a touched entry;
 * this one's takers do not either. */
static void test_touch_keeps_entry(void **state)
{
    (void)state;
    char name[32];
    new_name(name);
    struct queue *q = open_named(name, 1, 1000);
    struct queue *other = open_named(name, 1, 1000);
    push_n(q, 1, 5);
    struct queue_entry e;
    take_one(q, &e);
    /* four ack waits, touched three times per wait: never handed out */
    uint64_t end = now_ms() + 4000;
    while (now_ms() < end) {
        assert_int_equal(take_none(other, 150), -ETIMEDOUT);
        assert_int_equal(take_none(q, 150), -ETIMEDOUT);
        assert_int_equal(queue_touch(q, &e), 0);
    }
    queue_ack(q, &e);
    assert_int_equal(take_none(other, 2500), -ETIMEDOUT);
    queue_close(other);
    queue_close(q);
}

static void test_retry_delay(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    push_n(q, 1, 5);
    push_n(q, 2, 1);
    struct queue_entry e;
    take_one(q, &e);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(queue_retry(q, &e, 1500), 0);
    assert_null(e.handle);
    /* meanwhile the lower priority goes, and nothing else for a second */
    assert_int_equal(take_ack(q, NULL), 2);
    assert_int_equal(take_none(q, 1000), -ETIMEDOUT);
    take_one(q, &e);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.deliveries, 2);
    queue_ack(q, &e);
    queue_close(q);
}

static void test_release_redeliver_at_once(void **state)
{
    (void)state;
    struct queue *q = open_new(60); /* an ack wait the test never reaches */
    push_n(q, 1, 5);
    struct queue_entry e;
    take_one(q, &e);
    queue_release(q, &e, true);
    assert_null(e.handle);
    take_one(q, &e); /* within WAIT_MS: the Nak, not the ack wait */
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.deliveries, 2);
    queue_ack(q, &e);
    queue_close(q);
}

static void test_release_forget_not_acked(void **state)
{
    (void)state;
    struct queue *q = open_new(1);
    push_n(q, 1, 5);
    struct queue_entry e;
    take_one(q, &e);
    queue_release(q, &e, false);
    assert_null(e.handle);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.in_flight, 0);
    take_one(q, &e); /* not acked: back after the ack wait */
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.deliveries, 2);
    queue_ack(q, &e);
    queue_close(q);
}

/* ---- by id ---- */

static void test_remove(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    push_n(q, 1, 5);
    push_n(q, 2, 5);
    char id[MOAT_UUID_LEN + 1];
    make_id(id, 1);
    assert_int_equal(queue_remove(q, id), 0);
    assert_int_equal(queue_remove(q, id), -ENOENT);
    make_id(id, 99);
    assert_int_equal(queue_remove(q, id), -ENOENT);
    assert_int_equal(take_ack(q, NULL), 2);
    assert_int_equal(take_none(q, 300), -ETIMEDOUT);
    queue_close(q);
}

static void holds_of(struct queue *q, const unsigned *nums, size_t n, bool *held)
{
    char ids[8][MOAT_UUID_LEN + 1];
    const char *p[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        make_id(ids[i], nums[i]);
        p[i] = ids[i];
    }
    assert_int_equal(queue_holds(q, p, n, held), 0);
}

static void test_holds(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    push_n(q, 1, 9);
    push_n(q, 2, 3);
    const unsigned nums[] = {1, 2, 3};
    bool held[3];
    holds_of(q, nums, 3, held);
    assert_true(held[0]);
    assert_true(held[1]);
    assert_false(held[2]);
    /* taken and not ended: still held */
    struct queue_entry e;
    take_one(q, &e);
    assert_int_equal(id_num(e.id), 1);
    holds_of(q, nums, 3, held);
    assert_true(held[0]);
    queue_ack(q, &e);
    /* the ack is on its way: gone once it arrived */
    uint64_t dl = moat_test_deadline_ms(WAIT_MS);
    do
        holds_of(q, nums, 3, held);
    while (held[0] && moat_test_before(dl));
    assert_false(held[0]);
    assert_true(held[1]);
    /* many entries: the ids are asked one by one */
    for (unsigned i = 100; i < 200; i++)
        push_n(q, i, 0);
    const unsigned few[] = {2, 150, 7};
    holds_of(q, few, 3, held);
    assert_true(held[0]);
    assert_true(held[1]);
    assert_false(held[2]);
    queue_close(q);
}

/* ---- two nodes ---- */

struct events {
    pthread_mutex_t mu;
    unsigned finals, resyncs;
    char last_id[MOAT_UUID_LEN + 1];
    char last_data[64];
};

static void on_event(void *cls, enum queue_event ev, const char *id, const char *data, size_t len)
{
    struct events *x = cls;
    pthread_mutex_lock(&x->mu);
    if (ev == QUEUE_EVENT_RESYNC) {
        assert_string_equal(id, "");
        x->resyncs++;
    } else {
        x->finals++;
        moat_strlcpy(x->last_id, id, sizeof(x->last_id));
        size_t n = len < sizeof(x->last_data) - 1 ? len : sizeof(x->last_data) - 1;
        memcpy(x->last_data, data ? data : "", n);
        x->last_data[n] = '\0';
    }
    pthread_mutex_unlock(&x->mu);
}

static unsigned finals_of(struct events *x)
{
    pthread_mutex_lock(&x->mu);
    unsigned n = x->finals;
    pthread_mutex_unlock(&x->mu);
    return n;
}

static void wait_finals(struct events *x, unsigned n)
{
    uint64_t dl = moat_test_deadline_ms(WAIT_MS);
    while (finals_of(x) < n && moat_test_before(dl))
        ;
    assert_int_equal(finals_of(x), n);
}

static void test_two_nodes(void **state)
{
    (void)state;
    char name[32];
    new_name(name);
    struct queue *a = open_named(name, 30, 1000);
    struct queue *b = open_named(name, 30, 1000);
    push_n(a, 1, 5);
    struct queue_entry e;
    take_one(b, &e);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(take_none(a, 500), -ETIMEDOUT); /* b's, not a's */
    push_n(b, 2, 5);
    assert_int_equal(take_ack(a, NULL), 2);
    queue_ack(b, &e);

    struct events ea = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct events eb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(queue_listen(a, on_event, &ea), 0);
    assert_int_equal(queue_listen(b, on_event, &eb), 0);
    char id[MOAT_UUID_LEN + 1];
    make_id(id, 42);
    assert_int_equal(queue_announce(a, QUEUE_EVENT_FINAL, id, "{\"x\":1}", 7), 0);
    wait_finals(&eb, 1);
    assert_string_equal(eb.last_id, id);
    assert_string_equal(eb.last_data, "{\"x\":1}");
    /* b's answer reaches a after a's own event (one server, one order):
     * a skipped its own */
    make_id(id, 43);
    assert_int_equal(queue_announce(b, QUEUE_EVENT_FINAL, id, NULL, 0), 0);
    wait_finals(&ea, 1);
    assert_string_equal(ea.last_id, id);
    assert_string_equal(ea.last_data, "");
    assert_int_equal(finals_of(&eb), 1);
    queue_close(a);
    queue_close(b);
}

/* A node that dies holding an entry: another node, whose takers found
 * every level empty, gets it after the ack wait as a further delivery (no
 * signal comes: the sweep finds it); an entry pushed by a third node
 * reaches it too. */
static void test_lost_taker(void **state)
{
    (void)state;
    char name[32];
    new_name(name);
    struct queue *a = open_named(name, 1, 1000);
    struct queue *b = open_named(name, 1, 1000);
    assert_int_equal(take_none(b, 0), -ETIMEDOUT);
    push_n(a, 1, 6);
    struct queue_entry e;
    take_one(a, &e);
    assert_int_equal(e.deliveries, 1);
    queue_close(a); /* never ended, never touched again */
    take_one(b, &e);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.deliveries, 2);
    queue_ack(b, &e);
    /* and a push elsewhere reaches b's sleeping taker */
    struct queue *c = open_named(name, 1, 1000);
    assert_int_equal(take_none(b, 0), -ETIMEDOUT);
    push_n(c, 2, 3);
    assert_int_equal(take_ack(b, NULL), 2);
    queue_close(c);
    queue_close(b);
}

/* ---- the server away ---- */

static bool ready_is(struct queue *q, bool want)
{
    uint64_t dl = moat_test_deadline_ms(20000);
    while (queue_ready(q) != want && moat_test_before(dl))
        ;
    return queue_ready(q) == want;
}

static void test_server_restart(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    struct events ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(queue_listen(q, on_event, &ev), 0);
    push_n(q, 1, 5);
    assert_true(queue_ready(q));

    control("kill");
    assert_true(ready_is(q, false));
    char id[MOAT_UUID_LEN + 1];
    make_id(id, 2);
    assert_int_equal(queue_push(q, id, 5, false), -ENOTCONN);
    struct done_log *log = calloc(1, sizeof(*log));
    assert_non_null(log);
    struct done_arg a = {.log = log, .i = 0};
    assert_int_equal(queue_push_async(q, id, 5, false, NULL, 0, on_done, &a), 0);
    wait_done(log, 1);
    assert_int_equal(atomic_load(&log->result[0]), -ENOTCONN);
    assert_int_equal(take_none(q, 100), -ENOTCONN);
    pthread_mutex_lock(&ev.mu);
    assert_int_equal(ev.resyncs, 0);
    pthread_mutex_unlock(&ev.mu);

    control("start");
    assert_true(ready_is(q, true));
    uint64_t dl = moat_test_deadline_ms(WAIT_MS);
    unsigned resyncs = 0;
    do {
        pthread_mutex_lock(&ev.mu);
        resyncs = ev.resyncs;
        pthread_mutex_unlock(&ev.mu);
    } while (!resyncs && moat_test_before(dl));
    assert_int_equal(resyncs, 1);
    /* the stream kept its entry; pushes work again */
    assert_int_equal(take_ack(q, NULL), 1);
    assert_int_equal(queue_push(q, id, 5, false), 0);
    assert_int_equal(take_ack(q, NULL), 2);
    queue_close(q);
    free(log);
}

static void test_open_fails_without_server(void **state)
{
    (void)state;
    struct moat_config cfg;
    config_for(&cfg, "none", 30, 10);
    moat_strlcpy(cfg.queue, "nats://127.0.0.1:1", sizeof(cfg.queue));
    struct queue *q = NULL;
    struct moat_err err = {0};
    assert_int_equal(queue_open(&cfg, &q, &err), -ENOTCONN);
    assert_null(q);
    assert_string_equal(err.field, "server.queue");
}

/* ---- threads ---- */

struct taker {
    struct queue *q;
    _Atomic pid_t tid;
    _Atomic bool returned;
    int rc;
};

static void *blocked_taker(void *arg)
{
    struct taker *t = arg;
    atomic_store(&t->tid, (pid_t)syscall(SYS_gettid));
    struct queue_entry e;
    /* far longer than the case waits for it to return */
    t->rc = queue_take(t->q, 4 * WAIT_MS, &e);
    if (t->rc == 0)
        queue_release(t->q, &e, true);
    atomic_store(&t->returned, true);
    return NULL;
}

/* Whether thread tid sleeps in futex(2), as a blocked taker does. */
static bool in_futex(pid_t tid)
{
    char path[64], text[256];
    (void)snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (read_small_file_at(AT_FDCWD, path, text, sizeof text) <= 0)
        return false;
    char want[16];
    (void)snprintf(want, sizeof want, "%d ", SYS_futex);
    return str_has_prefix(text, want);
}

static void test_shutdown_wakes_taker(void **state)
{
    (void)state;
    struct queue *q = open_new(30);
    /* every level found empty: the taker below sleeps on the queue itself,
     * not in a fetch that would end on its own */
    assert_int_equal(take_none(q, 0), -ETIMEDOUT);
    struct taker t = {.q = q, .rc = 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, blocked_taker, &t), 0);
    uint64_t dl = moat_test_deadline_ms(WAIT_MS);
    while (!(atomic_load(&t.tid) && in_futex(atomic_load(&t.tid))) && moat_test_before(dl))
        ;
    uint64_t t0 = moat_now_ns();
    queue_shutdown(q);
    dl = moat_test_deadline_ms(WAIT_MS);
    while (!atomic_load(&t.returned) && moat_test_before(dl))
        ;
    if (!atomic_load(&t.returned))
        fail_msg("the blocked take did not return within %d ms of shutdown", WAIT_MS);
    assert_int_equal(pthread_join(th, NULL), 0);
    (void)printf("jetstream: a blocked take returned %.1f ms after shutdown\n",
                 (double)(moat_now_ns() - t0) / 1e6);
    assert_int_equal(t.rc, -ESHUTDOWN);
    assert_int_equal(take_none(q, 0), -ESHUTDOWN);
    assert_false(queue_ready(q));
    queue_close(q);
}

enum { MANY = 400, THREADS = 8 };

struct many {
    struct queue *q;
    _Atomic unsigned taken;
    _Atomic unsigned seen[MANY];
};

static void *many_taker(void *arg)
{
    struct many *m = arg;
    uint64_t end = now_ms() + 60000;
    while (atomic_load(&m->taken) < MANY && now_ms() < end) {
        struct queue_entry e;
        int r = queue_take(m->q, 200, &e);
        if (r == -ETIMEDOUT)
            continue;
        if (r != 0)
            break;
        unsigned n = id_num(e.id);
        if (n < MANY)
            atomic_fetch_add(&m->seen[n], 1);
        atomic_fetch_add(&m->taken, 1);
        queue_ack(m->q, &e);
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    struct many *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->q = open_new(30);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, many_taker, m), 0);
    for (unsigned i = 0; i < MANY; i++)
        push_n(m->q, i, (int)(i % 11));
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&m->taken), MANY);
    for (unsigned i = 0; i < MANY; i++)
        if (atomic_load(&m->seen[i]) != 1)
            fail_msg("entry %u taken %u times", i, atomic_load(&m->seen[i]));
    assert_int_equal(take_none(m->q, 100), -ETIMEDOUT);
    queue_close(m->q);
    free(m);
}

int main(void)
{
    nats_url = getenv("MOAT_TEST_NATS_URL");
    if (!nats_url || !*nats_url)
        return moat_test_skip("no NATS server: run under tests/servers/nats.py --run");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_order),
        cmocka_unit_test(test_fifo_within_priority),
        cmocka_unit_test(test_wakes_for_new_entry),
        cmocka_unit_test(test_duplicate_push_is_one_entry),
        cmocka_unit_test(test_push_async_done_once),
        cmocka_unit_test(test_reserve_bound),
        cmocka_unit_test(test_redelivery_after_ack_wait),
        cmocka_unit_test(test_data_travels_with_entry),
        cmocka_unit_test(test_touch_keeps_entry),
        cmocka_unit_test(test_retry_delay),
        cmocka_unit_test(test_release_redeliver_at_once),
        cmocka_unit_test(test_release_forget_not_acked),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_holds),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_lost_taker),
        cmocka_unit_test(test_shutdown_wakes_taker),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_open_fails_without_server),
        /* last: a failure there may leave the server down */
        cmocka_unit_test(test_server_restart),
    };
    return moat_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
