/* The local queue: order, delays, the bound, removal, shutdown, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/queue.h"
#include "moat/util.h"
#include "moat_test.h"

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

static struct queue *open_queue(uint64_t max)
{
    struct moat_config cfg;
    config_defaults(&cfg);
    cfg.max_queue = max;
    struct queue *q = NULL;
    struct moat_err err = {0};
    assert_int_equal(queue_open(&cfg, &q, &err), 0);
    assert_non_null(q);
    return q;
}

static void push_n(struct queue *q, unsigned n, int prio)
{
    char id[MOAT_UUID_LEN + 1];
    make_id(id, n);
    assert_int_equal(queue_push(q, id, prio, false), 0);
}

static unsigned take_n(struct queue *q, int *prio)
{
    struct queue_entry e;
    assert_int_equal(queue_take(q, 0, &e), 0);
    if (prio)
        *prio = e.priority;
    queue_ack(q, &e);
    assert_null(e.handle);
    return id_num(e.id);
}

/* Entry n, due delay_ms from now (as a retry's backoff makes it): pushed,
 * taken and sent back. The queue must hold nothing else ready. Returns
 * when it is due at the earliest. */
static uint64_t push_delayed(struct queue *q, unsigned n, int prio, uint64_t delay_ms)
{
    push_n(q, n, prio);
    struct queue_entry e;
    assert_int_equal(queue_take(q, 0, &e), 0);
    assert_int_equal(id_num(e.id), n);
    uint64_t due = now_ms() + delay_ms;
    assert_int_equal(queue_retry(q, &e, delay_ms), 0);
    assert_null(e.handle);
    return due;
}

static int take_none(struct queue *q, int timeout_ms)
{
    struct queue_entry e;
    return queue_take(q, timeout_ms, &e);
}

static void test_priority_order(void **state)
{
    (void)state;
    struct queue *q = open_queue(100);
    const int prios[] = {3, 10, 0, 5, 7, 1};
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(prios); i++)
        push_n(q, i, prios[i]);
    const unsigned want[] = {1, 4, 3, 0, 5, 2};
    const int want_prio[] = {10, 7, 5, 3, 1, 0};
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(want); i++) {
        int p = -1;
        assert_int_equal(take_n(q, &p), want[i]);
        assert_int_equal(p, want_prio[i]);
    }
    assert_int_equal(take_none(q, 0), -ETIMEDOUT);
    queue_close(q);
}

static void test_fifo_within_priority(void **state)
{
    (void)state;
    struct queue *q = open_queue(10000);
    /* Two interleaved levels: each keeps its own push order. */
    for (unsigned i = 0; i < 2000; i++)
        push_n(q, i, i % 2 ? 8 : 2);
    for (unsigned i = 1; i < 2000; i += 2)
        assert_int_equal(take_n(q, NULL), i);
    for (unsigned i = 0; i < 2000; i += 2)
        assert_int_equal(take_n(q, NULL), i);
    queue_close(q);
}

static void test_delayed_not_taken_early(void **state)
{
    (void)state;
    struct queue *q = open_queue(100);
    uint64_t due = push_delayed(q, 1, 10, 400);
    (void)push_delayed(q, 3, 0, 0); /* due at once: not delayed at all */
    push_n(q, 2, 0);

    /* The higher priority is delayed: the low ones come first (the delay is
     * long enough for a loaded machine to get here before it ends). */
    assert_int_equal(take_n(q, NULL), 3);
    assert_int_equal(take_n(q, NULL), 2);
    assert_int_equal(take_none(q, 0), -ETIMEDOUT);
    assert_int_equal(take_none(q, 20), -ETIMEDOUT);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 1);

    /* A taker blocked forever is woken by the delayed entry's time. */
    struct queue_entry e;
    assert_int_equal(queue_take(q, -1, &e), 0);
    assert_true(now_ms() >= due);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.priority, 10);
    assert_int_equal(e.deliveries, 2);
    queue_ack(q, &e);
    queue_close(q);
}

static void test_delayed_due_order(void **state)
{
    (void)state;
    struct queue *q = open_queue(100);
    const uint64_t delay[] = {120, 40, 80, 40};
    uint64_t due[MOAT_ARRAY_SIZE(delay)];
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(delay); i++)
        due[i] = push_delayed(q, i, 5, delay[i]);
    /* Same level: due order, send-back order among equal times. */
    const unsigned want[] = {1, 3, 2, 0};
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(want); i++) {
        struct queue_entry e;
        assert_int_equal(queue_take(q, 2000, &e), 0);
        assert_int_equal(id_num(e.id), want[i]);
        assert_true(now_ms() >= due[want[i]]);
        queue_ack(q, &e);
    }
    queue_close(q);
}

static void test_timeout_waits(void **state)
{
    (void)state;
    struct queue *q = open_queue(100);
    uint64_t t0 = now_ms();
    assert_int_equal(take_none(q, 60), -ETIMEDOUT);
    assert_true(now_ms() >= t0 + 60);
    queue_close(q);
}

static void test_reserve_bound(void **state)
{
    (void)state;
    struct queue *q = open_queue(3);
    struct queue_stats st;
    for (int i = 0; i < 3; i++)
        assert_int_equal(queue_reserve(q), 0);
    assert_int_equal(queue_reserve(q), -EAGAIN);
    queue_unreserve(q);
    assert_int_equal(queue_reserve(q), 0);
    assert_int_equal(queue_reserve(q), -EAGAIN);

    char id[MOAT_UUID_LEN + 1];
    make_id(id, 1);
    assert_int_equal(queue_push(q, id, 5, true), 0);
    make_id(id, 2);
    assert_int_equal(queue_push(q, id, 5, true), 0);
    queue_stats(q, &st);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.reserved, 1);
    assert_int_equal(st.max, 3);
    /* Pushed entries still hold their places. */
    assert_int_equal(queue_reserve(q), -EAGAIN);
    assert_int_equal(take_n(q, NULL), 1);
    assert_int_equal(queue_reserve(q), 0);
    assert_int_equal(queue_reserve(q), -EAGAIN);
    queue_unreserve(q);
    queue_unreserve(q);
    queue_stats(q, &st);
    assert_int_equal(st.reserved, 0);
    /* Unreserving more than was reserved does not wrap. */
    queue_unreserve(q);
    queue_stats(q, &st);
    assert_int_equal(st.reserved, 0);
    assert_int_equal(st.depth, 1);
    queue_close(q);
}

static void test_unreserved_exceeds_bound(void **state)
{
    (void)state;
    struct queue *q = open_queue(2);
    for (unsigned i = 0; i < 5; i++)
        push_n(q, i, 4);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 5);
    assert_int_equal(queue_reserve(q), -EAGAIN);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(take_n(q, NULL), i);
    assert_int_equal(queue_reserve(q), 0);
    queue_close(q);
}

static void test_remove(void **state)
{
    (void)state;
    struct queue *q = open_queue(100);
    char id[MOAT_UUID_LEN + 1];
    (void)push_delayed(q, 9, 5, 100000);
    for (unsigned i = 0; i < 5; i++)
        push_n(q, i, 5);

    make_id(id, 2); /* the middle of a FIFO */
    assert_int_equal(queue_remove(q, id), 0);
    assert_int_equal(queue_remove(q, id), -ENOENT);
    make_id(id, 9); /* a delayed one */
    assert_int_equal(queue_remove(q, id), 0);
    make_id(id, 77); /* never there */
    assert_int_equal(queue_remove(q, id), -ENOENT);
    assert_int_equal(queue_remove(q, "not-an-id-because-it-is-far-too-long-to-be-one"), -ENOENT);

    struct queue_entry e;
    assert_int_equal(queue_take(q, 0, &e), 0);
    assert_int_equal(id_num(e.id), 0);
    assert_int_equal(queue_remove(q, e.id), -ENOENT); /* taken */
    queue_ack(q, &e);
    assert_int_equal(take_n(q, NULL), 1);
    assert_int_equal(take_n(q, NULL), 3);
    make_id(id, 4); /* the last one: the level's tail */
    assert_int_equal(queue_remove(q, id), 0);
    assert_int_equal(take_none(q, 0), -ETIMEDOUT);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.in_flight, 0);
    queue_close(q);
}

static void test_bad_input_and_duplicates(void **state)
{
    (void)state;
    struct queue *q = open_queue(1);
    char id[MOAT_UUID_LEN + 1];
    make_id(id, 1);
    assert_int_equal(queue_push(q, id, 11, false), -EINVAL);
    assert_int_equal(queue_push(q, id, -1, false), -EINVAL);
    assert_int_equal(queue_push(q, "", 5, false), -EINVAL);
    assert_int_equal(queue_push(q, "0123456789-0123456789-0123456789-01234", 5, false), -EINVAL);

    /* A second push of a waiting id changes nothing and frees its place. */
    assert_int_equal(queue_reserve(q), 0);
    assert_int_equal(queue_push(q, id, 5, true), 0);
    assert_int_equal(queue_reserve(q), -EAGAIN);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 1);
    assert_int_equal(st.reserved, 0);
    /* an entry already ended is not ended again */
    struct queue_entry e;
    assert_int_equal(queue_take(q, 0, &e), 0);
    queue_ack(q, &e);
    queue_ack(q, &e);
    queue_release(q, &e, true);
    assert_int_equal(queue_retry(q, &e, 0), -EINVAL);
    assert_int_equal(queue_touch(q, &e), -EINVAL);
    assert_int_equal(take_none(q, 0), -ETIMEDOUT);
    queue_close(q);
}

/* An entry is its taker's until it ends it one way: ack (gone), retry
 * (back after a delay), release (back at once, or left to a new taker);
 * deliveries count the takes. */
static void test_entry_lifecycle(void **state)
{
    (void)state;
    struct queue *q = open_queue(10);
    struct queue_stats st;
    assert_true(queue_in_process(q));
    assert_true(queue_ready(q));
    push_n(q, 1, 5);
    push_n(q, 2, 5);
    struct queue_entry e;
    assert_int_equal(queue_take(q, 0, &e), 0);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.deliveries, 1);
    assert_int_equal(queue_touch(q, &e), 0);
    queue_stats(q, &st);
    assert_int_equal(st.depth, 1);
    assert_int_equal(st.in_flight, 1);

    /* a retry: back after its delay, behind what is ready */
    assert_int_equal(queue_retry(q, &e, 30), 0);
    assert_null(e.handle);
    queue_stats(q, &st);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(take_n(q, NULL), 2);
    assert_int_equal(queue_take(q, 1000, &e), 0);
    assert_int_equal(id_num(e.id), 1);
    assert_int_equal(e.deliveries, 2);

    /* released for redelivery: back at once */
    queue_release(q, &e, true);
    assert_int_equal(queue_take(q, 0, &e), 0);
    assert_int_equal(e.deliveries, 3);
    /* a copy pushed while it is taken (recovery): sending it back keeps one */
    push_n(q, 1, 5);
    assert_int_equal(queue_retry(q, &e, 0), 0);
    queue_stats(q, &st);
    assert_int_equal(st.depth, 1);
    assert_int_equal(queue_take(q, 0, &e), 0);
    /* released without redelivery: gone (its new taker has it) */
    queue_release(q, &e, false);
    assert_int_equal(take_none(q, 0), -ETIMEDOUT);
    queue_stats(q, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.in_flight, 0);
    /* no other node: events go nowhere, and fail nothing */
    char id[MOAT_UUID_LEN + 1];
    make_id(id, 1);
    assert_int_equal(queue_announce(q, QUEUE_EVENT_FINAL, id, "{}", 2), 0);
    queue_close(q);
}

struct taker {
    struct queue *q;
    _Atomic pid_t tid; /* the thread's, once it runs */
    int rc;
};

static void *blocked_taker(void *arg)
{
    struct taker *t = arg;
    atomic_store(&t->tid, (pid_t)syscall(SYS_gettid));
    t->rc = take_none(t->q, -1);
    return NULL;
}

/* Whether thread tid of this process sleeps in futex(2), as a taker
 * blocked in queue_take does (pthread_cond_wait): the kernel's word, from
 * /proc/self/task/<tid>/syscall ("202 0x..." while in that call). */
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

static bool all_blocked(struct taker *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pid_t tid = atomic_load(&t[i].tid);
        if (tid == 0 || !in_futex(tid))
            return false;
    }
    return true;
}

static void test_shutdown_wakes_taker(void **state)
{
    (void)state;
    struct queue *q = open_queue(10);
    struct taker t[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        t[i] = (struct taker){.q = q, .rc = 1};
        assert_int_equal(pthread_create(&th[i], NULL, blocked_taker, &t[i]), 0);
    }
    /* The shutdown must find the takers asleep, else it only shows that a
     * take after it fails: wait until all three sleep in the kernel. A
     * taker queued on the queue's mutex sleeps in futex(2) too, but only
     * while another runs with the mutex held, so not all three at once;
     * and either way the shutdown must end each take. */
    uint64_t dl = moat_test_deadline_ms(10000);
    while (!all_blocked(t, 3) && moat_test_before(dl))
        ;
    bool blocked = all_blocked(t, 3);
    queue_shutdown(q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(t[i].rc, -ESHUTDOWN);
    }
    if (!blocked)
        fail_msg("the takers were not all blocked in queue_take after 10 s");
    /* From now on, even with entries waiting. */
    push_n(q, 1, 5);
    assert_int_equal(take_none(q, 1000), -ESHUTDOWN);
    assert_false(queue_ready(q));
    queue_close(q);
}

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 20000u

struct mt {
    struct queue *q;
    unsigned base;
    _Atomic unsigned *seen;
    _Atomic unsigned *taken;
};

static void *producer(void *arg)
{
    struct mt *m = arg;
    char id[MOAT_UUID_LEN + 1];
    for (unsigned i = 0; i < PER_PRODUCER; i++) {
        unsigned n = m->base + i;
        make_id(id, n);
        if (queue_push(m->q, id, (int)(n % 11), false) != 0)
            return (void *)1;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct mt *m = arg;
    struct queue_entry e;
    for (;;) {
        int r = queue_take(m->q, 100, &e);
        if (r == -ESHUTDOWN)
            return NULL;
        if (r == -ETIMEDOUT)
            continue;
        if (r != 0)
            return (void *)1;
        uint64_t v = 0;
        if (parse_u64(e.id + 24, 0, PRODUCERS * PER_PRODUCER - 1, &v) < 0)
            return (void *)1;
        /* Every 16th entry is sent back once, briefly delayed, to mix
         * both paths; it counts when it is acknowledged. */
        if (v % 16 == 0 && e.deliveries == 1) {
            if (queue_retry(m->q, &e, 5) != 0)
                return (void *)1;
            continue;
        }
        atomic_fetch_add(&m->seen[v], 1u);
        queue_ack(m->q, &e);
        atomic_fetch_add(m->taken, 1u);
    }
}

static void test_many_threads(void **state)
{
    (void)state;
    struct queue *q = open_queue(10);
    _Atomic unsigned *seen = calloc(PRODUCERS * PER_PRODUCER, sizeof(*seen));
    assert_non_null(seen);
    _Atomic unsigned taken = 0;
    struct mt pm[PRODUCERS], cm[CONSUMERS];
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    for (unsigned i = 0; i < CONSUMERS; i++) {
        cm[i] = (struct mt){.q = q, .seen = seen, .taken = &taken};
        assert_int_equal(pthread_create(&ct[i], NULL, consumer, &cm[i]), 0);
    }
    for (unsigned i = 0; i < PRODUCERS; i++) {
        pm[i] = (struct mt){.q = q, .base = i * PER_PRODUCER, .seen = seen, .taken = &taken};
        assert_int_equal(pthread_create(&pt[i], NULL, producer, &pm[i]), 0);
    }
    for (unsigned i = 0; i < PRODUCERS; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(pt[i], &ret), 0);
        assert_null(ret);
    }
    uint64_t dl = moat_test_deadline_ms(30000);
    while (atomic_load(&taken) < PRODUCERS * PER_PRODUCER && moat_test_before(dl))
        ;
    queue_shutdown(q);
    for (unsigned i = 0; i < CONSUMERS; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(ct[i], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(atomic_load(&taken), PRODUCERS * PER_PRODUCER);
    for (unsigned i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        if (atomic_load(&seen[i]) != 1)
            fail_msg("id %u taken %u times", i, atomic_load(&seen[i]));
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.in_flight, 0);
    free(seen);
    queue_close(q);
}

/* Prints the figure; timings are not asserted (machines and sanitizers vary). */
static void test_throughput(void **state)
{
    (void)state;
    enum { N = 1000000, BATCH = 1000 };
    struct queue *q = open_queue(N);
    char id[MOAT_UUID_LEN + 1];
    uint64_t t0 = moat_now_ns();
    unsigned next = 0, got = 0;
    while (next < N) {
        for (unsigned i = 0; i < BATCH; i++, next++) {
            make_id(id, next);
            assert_int_equal(queue_push(q, id, (int)(next % 11), false), 0);
        }
        for (unsigned i = 0; i < BATCH; i++, got++) {
            struct queue_entry e;
            assert_int_equal(queue_take(q, 0, &e), 0);
            queue_ack(q, &e);
        }
    }
    uint64_t ns = moat_now_ns() - t0;
    assert_int_equal(got, N);
    (void)printf("queue: %d push+take+ack in %.3f s: %.0f per second\n", N, (double)ns / 1e9,
                 (double)N * 1e9 / (double)(ns ? ns : 1));
    (void)fflush(stdout);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 0);
    queue_close(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_order),
        cmocka_unit_test(test_fifo_within_priority),
        cmocka_unit_test(test_delayed_not_taken_early),
        cmocka_unit_test(test_delayed_due_order),
        cmocka_unit_test(test_timeout_waits),
        cmocka_unit_test(test_reserve_bound),
        cmocka_unit_test(test_unreserved_exceeds_bound),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_bad_input_and_duplicates),
        cmocka_unit_test(test_entry_lifecycle),
        cmocka_unit_test(test_shutdown_wakes_taker),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_throughput),
    };
    return moat_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
