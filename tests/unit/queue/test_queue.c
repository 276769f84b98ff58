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
    struct moat_config cfg = {.max_queue = max};
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
    assert_int_equal(queue_push(q, id, prio, 0, false), 0);
}

static unsigned take_n(struct queue *q, int *prio)
{
    char id[MOAT_UUID_LEN + 1];
    assert_int_equal(queue_take(q, 0, id, prio), 0);
    queue_ack(q, id);
    return id_num(id);
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
    char id[MOAT_UUID_LEN + 1];
    assert_int_equal(queue_take(q, 0, id, NULL), -ETIMEDOUT);
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
    char id[MOAT_UUID_LEN + 1];
    uint64_t t0 = now_ms();
    make_id(id, 1);
    assert_int_equal(queue_push(q, id, 10, t0 + 400, false), 0);
    make_id(id, 2);
    assert_int_equal(queue_push(q, id, 0, 0, false), 0);
    make_id(id, 3); /* due already: not delayed at all */
    assert_int_equal(queue_push(q, id, 0, t0 > 0 ? t0 - 1 : 0, false), 0);

    /* The higher priority is delayed: the low ones come first (the delay is
     * long enough for a loaded machine to get here before it ends). */
    assert_int_equal(take_n(q, NULL), 2);
    assert_int_equal(take_n(q, NULL), 3);
    assert_int_equal(queue_take(q, 0, id, NULL), -ETIMEDOUT);
    assert_int_equal(queue_take(q, 20, id, NULL), -ETIMEDOUT);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 1);

    /* A taker blocked forever is woken by the delayed entry's time. */
    int p = -1;
    assert_int_equal(queue_take(q, -1, id, &p), 0);
    assert_true(now_ms() >= t0 + 400);
    assert_int_equal(id_num(id), 1);
    assert_int_equal(p, 10);
    queue_ack(q, id);
    queue_close(q);
}

static void test_delayed_due_order(void **state)
{
    (void)state;
    struct queue *q = open_queue(100);
    char id[MOAT_UUID_LEN + 1];
    uint64_t t0 = now_ms();
    const uint64_t delay[] = {120, 40, 80, 40};
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(delay); i++) {
        make_id(id, i);
        assert_int_equal(queue_push(q, id, 5, t0 + delay[i], false), 0);
    }
    /* Same level: due order, push order among equal times. */
    const unsigned want[] = {1, 3, 2, 0};
    for (unsigned i = 0; i < MOAT_ARRAY_SIZE(want); i++) {
        assert_int_equal(queue_take(q, 2000, id, NULL), 0);
        assert_int_equal(id_num(id), want[i]);
        assert_true(now_ms() >= t0 + delay[want[i]]);
    }
    queue_close(q);
}

static void test_timeout_waits(void **state)
{
    (void)state;
    struct queue *q = open_queue(100);
    char id[MOAT_UUID_LEN + 1];
    uint64_t t0 = now_ms();
    assert_int_equal(queue_take(q, 60, id, NULL), -ETIMEDOUT);
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
    assert_int_equal(queue_push(q, id, 5, 0, true), 0);
    make_id(id, 2);
    assert_int_equal(queue_push(q, id, 5, 0, true), 0);
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
    for (unsigned i = 0; i < 5; i++)
        push_n(q, i, 5);
    make_id(id, 9);
    assert_int_equal(queue_push(q, id, 5, now_ms() + 100000, false), 0);

    make_id(id, 2); /* the middle of a FIFO */
    assert_int_equal(queue_remove(q, id), 0);
    assert_int_equal(queue_remove(q, id), -ENOENT);
    make_id(id, 9); /* a delayed one */
    assert_int_equal(queue_remove(q, id), 0);
    make_id(id, 77); /* never there */
    assert_int_equal(queue_remove(q, id), -ENOENT);
    assert_int_equal(queue_remove(q, "not-an-id-because-it-is-far-too-long-to-be-one"), -ENOENT);

    assert_int_equal(queue_take(q, 0, id, NULL), 0);
    assert_int_equal(id_num(id), 0);
    assert_int_equal(queue_remove(q, id), -ENOENT); /* taken */
    queue_ack(q, id);
    make_id(id, 0);
    assert_int_equal(take_n(q, NULL), 1);
    assert_int_equal(take_n(q, NULL), 3);
    make_id(id, 4); /* the last one: the level's tail */
    assert_int_equal(queue_remove(q, id), 0);
    assert_int_equal(queue_take(q, 0, id, NULL), -ETIMEDOUT);
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
    assert_int_equal(queue_push(q, id, 11, 0, false), -EINVAL);
    assert_int_equal(queue_push(q, id, -1, 0, false), -EINVAL);
    assert_int_equal(queue_push(q, "", 5, 0, false), -EINVAL);
    assert_int_equal(queue_push(q, "0123456789-0123456789-0123456789-01234", 5, 0, false), -EINVAL);

    /* A second push of a waiting id changes nothing and frees its place. */
    assert_int_equal(queue_reserve(q), 0);
    assert_int_equal(queue_push(q, id, 5, 0, true), 0);
    assert_int_equal(queue_reserve(q), -EAGAIN);
    struct queue_stats st;
    queue_stats(q, &st);
    assert_int_equal(st.depth, 1);
    assert_int_equal(st.reserved, 0);
    queue_close(q);
}

static void test_inflight_and_requeue(void **state)
{
    (void)state;
    struct queue *q = open_queue(10);
    struct queue_stats st;
    char id[MOAT_UUID_LEN + 1];
    push_n(q, 1, 5);
    push_n(q, 2, 5);
    assert_int_equal(queue_take(q, 0, id, NULL), 0);
    queue_stats(q, &st);
    assert_int_equal(st.depth, 1);
    assert_int_equal(st.in_flight, 1);

    /* A retry: the taken id goes back (delayed) before it is acked. */
    assert_int_equal(queue_push(q, id, 5, now_ms() + 30, false), 0);
    queue_ack(q, id);
    queue_ack(q, id); /* twice: no effect */
    queue_ack(q, "00000000-0000-7000-8000-000000000099");
    queue_stats(q, &st);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(take_n(q, NULL), 2);
    assert_int_equal(queue_take(q, 1000, id, NULL), 0);
    assert_int_equal(id_num(id), 1);
    queue_stats(q, &st);
    assert_int_equal(st.in_flight, 1);
    queue_ack(q, id);
    queue_stats(q, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.in_flight, 0);
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
    char id[MOAT_UUID_LEN + 1];
    atomic_store(&t->tid, (pid_t)syscall(SYS_gettid));
    t->rc = queue_take(t->q, -1, id, NULL);
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
    char id[MOAT_UUID_LEN + 1];
    assert_int_equal(queue_take(q, 1000, id, NULL), -ESHUTDOWN);
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
        /* Every 16th entry is briefly delayed, to mix both paths. */
        uint64_t nb = n % 16 == 0 ? now_ms() + 5 : 0;
        if (queue_push(m->q, id, (int)(n % 11), nb, false) != 0)
            return (void *)1;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct mt *m = arg;
    char id[MOAT_UUID_LEN + 1];
    for (;;) {
        int r = queue_take(m->q, 100, id, NULL);
        if (r == -ESHUTDOWN)
            return NULL;
        if (r == -ETIMEDOUT)
            continue;
        if (r != 0)
            return (void *)1;
        uint64_t v = 0;
        if (parse_u64(id + 24, 0, PRODUCERS * PER_PRODUCER - 1, &v) < 0)
            return (void *)1;
        atomic_fetch_add(&m->seen[v], 1u);
        queue_ack(m->q, id);
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
            assert_int_equal(queue_push(q, id, (int)(next % 11), 0, false), 0);
        }
        for (unsigned i = 0; i < BATCH; i++, got++) {
            assert_int_equal(queue_take(q, 0, id, NULL), 0);
            queue_ack(q, id);
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
        cmocka_unit_test(test_inflight_and_requeue),
        cmocka_unit_test(test_shutdown_wakes_taker),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_throughput),
    };
    return moat_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
