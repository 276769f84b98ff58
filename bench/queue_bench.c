/*
 * queue_bench: the queue's publish-to-take latency, push rate and idle
 * cost, for one driver.
 *
 *   make -C build queue_bench
 *   python3 tests/servers/nats.py --run -- build/tests/unit/queue_bench    # JetStream
 *   build/tests/unit/queue_bench local                                     # in-process
 *
 * The queue is MOAT_TEST_NATS_URL (or the first argument: a nats:// URL or
 * "local"); a stream of its own per run. It measures:
 *   latency  one taker blocked in queue_take; the main thread pushes one
 *            entry (queue_push: JetStream's ack included) and waits until
 *            the taker has it; LATENCY_ROUNDS times, p50/p99/max of push
 *            start -> take returned;
 *   pushes   PUSHES queue_push_async with all of them in flight, start ->
 *            last done; then the same entries taken and acked by TAKERS
 *            threads, first take -> last ack;
 *   idle     CPU time of this process over IDLE_S seconds with TAKERS
 *            threads blocked in queue_take on an empty queue.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/queue.h"
#include "moat/util.h"

#define LATENCY_ROUNDS 2000
#define PUSHES 20000
#define TAKERS 4
#define IDLE_S 5
#define WAIT_MS 30000

static uint64_t now_ns(void)
{
    return moat_now_ns();
}

static void make_id(char out[MOAT_UUID_LEN + 1], unsigned run, unsigned n)
{
    (void)snprintf(out, MOAT_UUID_LEN + 1, "00000000-0000-7000-%04x-%012u", run & 0xffffu, n);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- latency ---- */

struct lat {
    struct queue *q;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t taken_ns;
    unsigned taken;
    bool stop;
};

static void *lat_taker(void *arg)
{
    struct lat *l = arg;
    for (;;) {
        struct queue_entry e;
        int r = queue_take(l->q, 1000, &e);
        uint64_t t = now_ns();
        if (r == -ETIMEDOUT) {
            pthread_mutex_lock(&l->mu);
            bool stop = l->stop;
            pthread_mutex_unlock(&l->mu);
            if (stop)
                return NULL;
            continue;
        }
        if (r != 0) {
            (void)fprintf(stderr, "take: %d\n", r);
            return NULL;
        }
        queue_ack(l->q, &e);
        pthread_mutex_lock(&l->mu);
        l->taken_ns = t;
        l->taken++;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

static int bench_latency(struct queue *q, unsigned run)
{
    struct lat l = {.q = q, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    if (pthread_create(&th, NULL, lat_taker, &l) != 0)
        return -1;
    uint64_t *ns = calloc(LATENCY_ROUNDS, sizeof(*ns));
    int rc = ns ? 0 : -1;
    for (unsigned i = 0; rc == 0 && i < LATENCY_ROUNDS; i++) {
        char id[MOAT_UUID_LEN + 1];
        make_id(id, run, 1000000u + i);
        uint64_t t0 = now_ns();
        int r = queue_push(q, id, (int)(i % 11), false);
        if (r < 0) {
            (void)fprintf(stderr, "push: %d\n", r);
            rc = -1;
            break;
        }
        pthread_mutex_lock(&l.mu);
        uint64_t until = now_ns() + (uint64_t)WAIT_MS * 1000000u;
        while (l.taken < i + 1 && now_ns() < until) {
            struct timespec ts;
            (void)clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            (void)pthread_cond_timedwait(&l.cv, &l.mu, &ts);
        }
        bool got = l.taken == i + 1;
        uint64_t t1 = l.taken_ns;
        pthread_mutex_unlock(&l.mu);
        if (!got) {
            (void)fprintf(stderr, "entry %u not taken within %d ms\n", i, WAIT_MS);
            rc = -1;
            break;
        }
        ns[i] = t1 - t0;
    }
    pthread_mutex_lock(&l.mu);
    l.stop = true;
    pthread_mutex_unlock(&l.mu);
    (void)pthread_join(th, NULL);
    if (rc == 0) {
        qsort(ns, LATENCY_ROUNDS, sizeof(*ns), cmp_u64);
        (void)printf("latency push->take (%d rounds, 1 taker): p50 %.2f ms  p99 %.2f ms  max "
                     "%.2f ms\n",
                     LATENCY_ROUNDS, (double)ns[LATENCY_ROUNDS / 2] / 1e6,
                     (double)ns[LATENCY_ROUNDS * 99 / 100] / 1e6,
                     (double)ns[LATENCY_ROUNDS - 1] / 1e6);
    }
    free(ns);
    return rc;
}

/* ---- push rate, then take rate ---- */

static _Atomic unsigned done_n, done_failed;
static _Atomic uint64_t done_last_ns;

static void on_done(void *cls, int result)
{
    (void)cls;
    if (result != 0)
        atomic_fetch_add(&done_failed, 1);
    atomic_store(&done_last_ns, now_ns());
    atomic_fetch_add(&done_n, 1);
}

struct drain {
    struct queue *q;
    _Atomic unsigned taken;
    _Atomic uint64_t first_ns, last_ns;
};

static void *drain_taker(void *arg)
{
    struct drain *d = arg;
    while (atomic_load(&d->taken) < PUSHES) {
        struct queue_entry e;
        int r = queue_take(d->q, 1000, &e);
        if (r == -ETIMEDOUT)
            continue;
        if (r != 0)
            break;
        uint64_t zero = 0;
        (void)atomic_compare_exchange_strong(&d->first_ns, &zero, now_ns());
        queue_ack(d->q, &e);
        atomic_store(&d->last_ns, now_ns());
        atomic_fetch_add(&d->taken, 1);
    }
    return NULL;
}

static int bench_rate(struct queue *q, unsigned run)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < PUSHES; i++) {
        char id[MOAT_UUID_LEN + 1];
        make_id(id, run, i);
        if (queue_push_async(q, id, (int)(i % 11), false, NULL, 0, on_done, NULL) != 0)
            return -1;
    }
    uint64_t sent = now_ns();
    uint64_t until = now_ns() + (uint64_t)WAIT_MS * 1000000u;
    while (atomic_load(&done_n) < PUSHES && now_ns() < until)
        (void)usleep(1000);
    if (atomic_load(&done_n) < PUSHES) {
        (void)fprintf(stderr, "%u of %d pushes done\n", atomic_load(&done_n), PUSHES);
        return -1;
    }
    double s = (double)(atomic_load(&done_last_ns) - t0) / 1e9;
    (void)printf("push_async: %d in flight, %.0f pushes/s (calls returned after %.0f ms, "
                 "last done after %.0f ms, %u failed)\n",
                 PUSHES, PUSHES / s, (double)(sent - t0) / 1e6, s * 1e3, atomic_load(&done_failed));

    struct drain d = {.q = q};
    pthread_t th[TAKERS];
    for (int i = 0; i < TAKERS; i++)
        if (pthread_create(&th[i], NULL, drain_taker, &d) != 0)
            return -1;
    for (int i = 0; i < TAKERS; i++)
        (void)pthread_join(th[i], NULL);
    if (atomic_load(&d.taken) < PUSHES)
        return -1;
    s = (double)(atomic_load(&d.last_ns) - atomic_load(&d.first_ns)) / 1e9;
    (void)printf("take+ack: %d entries, %d takers, %.0f entries/s\n", PUSHES, TAKERS, PUSHES / s);
    return 0;
}

/* ---- idle ---- */

struct idle {
    struct queue *q;
};

static void *idle_taker(void *arg)
{
    struct idle *x = arg;
    struct queue_entry e;
    int r = queue_take(x->q, -1, &e);
    if (r == 0)
        queue_release(x->q, &e, true);
    return NULL;
}

static double cpu_s(void)
{
    struct rusage ru;
    (void)getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int bench_idle(struct queue *q)
{
    struct idle x = {.q = q};
    pthread_t th[TAKERS];
    for (int i = 0; i < TAKERS; i++)
        if (pthread_create(&th[i], NULL, idle_taker, &x) != 0)
            return -1;
    (void)sleep(1); /* settle: the takers find every level empty */
    double c0 = cpu_s();
    (void)sleep(IDLE_S);
    double c1 = cpu_s();
    queue_shutdown(q);
    for (int i = 0; i < TAKERS; i++)
        (void)pthread_join(th[i], NULL);
    (void)printf("idle: %d takers blocked, %.2f ms CPU per second\n", TAKERS,
                 (c1 - c0) * 1e3 / IDLE_S);
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : getenv("MOAT_TEST_NATS_URL");
    if (!url || !*url) {
        (void)fprintf(stderr,
                      "usage: queue_bench nats://HOST:PORT|local (or MOAT_TEST_NATS_URL)\n");
        return 2;
    }
    moat_log_level = LOG_ERROR;
    unsigned run = (unsigned)getpid();
    struct moat_config cfg;
    config_defaults(&cfg);
    moat_strlcpy(cfg.queue, url, sizeof(cfg.queue));
    (void)snprintf(cfg.stream, sizeof(cfg.stream), "BENCH_%u", run);
    (void)snprintf(cfg.subject_prefix, sizeof(cfg.subject_prefix), "bench%u", run);
    moat_strlcpy(cfg.node, "bench", sizeof(cfg.node));
    cfg.max_queue = 1000000;
    struct queue *q = NULL;
    struct moat_err err = {0};
    if (queue_open(&cfg, &q, &err) < 0) {
        (void)fprintf(stderr, "queue_open: %s\n", err.msg);
        return 1;
    }
    (void)printf("queue %s\n", strncmp(url, "nats://", 7) == 0 ? "jetstream" : url);
    int rc = bench_latency(q, run);
    if (rc == 0)
        rc = bench_rate(q, run);
    if (rc == 0)
        rc = bench_idle(q);
    queue_close(q);
    return rc == 0 ? 0 : 1;
}
