/*
 * The local queue driver: an in-process, bounded priority queue.
 *
 * One mutex guards everything; every operation is O(1) or O(log delayed):
 *   - one intrusive doubly-linked FIFO per priority level, and a bit mask
 *     of the non-empty levels, so take finds the highest level in one clz;
 *   - a min-heap of delayed entries (retry backoff) ordered by
 *     (not_before_ms, push order), moved to their level when due;
 *   - a hash map id -> node holding every entry, waiting or in flight, so
 *     remove and ack never scan. The hash is seeded per queue: ids are
 *     server-made, but a seed costs nothing and keeps chains short even if
 *     that ever changes.
 *
 * Invariant: depth == number of READY + DELAYED nodes; in_flight == number
 * of IN_FLIGHT nodes; every node is in the map exactly once.
 */
#include "queue-internal.h"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>

#include "moat/config.h"
#include "moat/job.h"
#include "moat/util.h"

#define LEVELS (JOB_PRIORITY_MAX - JOB_PRIORITY_MIN + 1)
_Static_assert(LEVELS <= 32, "the level mask is 32 bits");

#define MAP_INITIAL 1024u

enum node_state { NODE_READY, NODE_DELAYED, NODE_IN_FLIGHT };

struct node {
    struct node *prev, *next; /* level FIFO, READY only */
    struct node *hnext;       /* map chain */
    uint64_t hash;
    uint64_t not_before_ms;
    uint64_t seq;    /* push order: FIFO among equal not_before_ms */
    size_t heap_idx; /* DELAYED only */
    int prio;        /* level index, 0 = lowest */
    uint32_t deliveries;
    enum node_state state;
    char id[MOAT_UUID_LEN + 1];
};

struct level {
    struct node *head, *tail;
};

struct local {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct level levels[LEVELS];
    uint32_t ready_mask;
    struct node **heap;
    size_t heap_len, heap_cap;
    struct node **map;
    size_t map_size; /* power of two */
    size_t map_count;
    uint64_t seed;
    uint64_t seq;
    uint64_t depth, reserved, in_flight, max;
    unsigned waiters;
    bool shutdown;
};

static uint64_t now_ms(void)
{
    return moat_now_ns() / 1000000u;
}

/* ---- map ---- */

static uint64_t id_hash(const struct local *l, const char *id)
{
    /* FNV-1a, seeded. */
    uint64_t h = 0xcbf29ce484222325ull ^ l->seed;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static void map_grow(struct local *l)
{
    size_t size;
    if (!size_mul(l->map_size, 2, &size))
        return;
    struct node **m = calloc(size, sizeof(struct node *));
    if (!m)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < l->map_size; i++) {
        struct node *n = l->map[i];
        while (n) {
            struct node *next = n->hnext;
            size_t b = (size_t)n->hash & (size - 1);
            n->hnext = m[b];
            m[b] = n;
            n = next;
        }
    }
    free(l->map);
    l->map = m;
    l->map_size = size;
}

static void map_insert(struct local *l, struct node *n)
{
    if (l->map_count >= l->map_size)
        map_grow(l);
    size_t b = (size_t)n->hash & (l->map_size - 1);
    n->hnext = l->map[b];
    l->map[b] = n;
    l->map_count++;
}

static void map_delete(struct local *l, struct node *n)
{
    struct node **pp = &l->map[(size_t)n->hash & (l->map_size - 1)];
    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    l->map_count--;
}

/* The node of id that is waiting (in_flight false) or taken (true). */
static struct node *map_find(const struct local *l, const char *id, uint64_t h, bool in_flight)
{
    for (struct node *n = l->map[(size_t)h & (l->map_size - 1)]; n; n = n->hnext)
        if (n->hash == h && (n->state == NODE_IN_FLIGHT) == in_flight && !strcmp(n->id, id))
            return n;
    return NULL;
}

/* ---- level FIFOs ---- */

static void level_append(struct local *l, struct node *n)
{
    struct level *lv = &l->levels[n->prio];
    n->state = NODE_READY;
    n->next = NULL;
    n->prev = lv->tail;
    if (lv->tail)
        lv->tail->next = n;
    else
        lv->head = n;
    lv->tail = n;
    l->ready_mask |= 1u << n->prio;
}

static void level_unlink(struct local *l, struct node *n)
{
    struct level *lv = &l->levels[n->prio];
    if (n->prev)
        n->prev->next = n->next;
    else
        lv->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        lv->tail = n->prev;
    if (!lv->head)
        l->ready_mask &= ~(1u << n->prio);
}

/* ---- delayed min-heap ---- */

static bool heap_less(const struct node *a, const struct node *b)
{
    return a->not_before_ms < b->not_before_ms ||
           (a->not_before_ms == b->not_before_ms && a->seq < b->seq);
}

static void heap_set(struct local *l, size_t i, struct node *n)
{
    l->heap[i] = n;
    n->heap_idx = i;
}

static void heap_up(struct local *l, size_t i)
{
    struct node *n = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(n, l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, n);
}

static void heap_down(struct local *l, size_t i)
{
    struct node *n = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && heap_less(l->heap[c + 1], l->heap[c]))
            c++;
        if (!heap_less(l->heap[c], n))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, n);
}

/* Room for one more delayed entry: the only allocation a push can need
 * besides its node, made before anything changes. */
static int heap_reserve(struct local *l)
{
    if (l->heap_len < l->heap_cap)
        return 0;
    size_t cap = l->heap_cap ? l->heap_cap * 2 : 64, bytes;
    if (!size_mul(cap, sizeof(struct node *), &bytes))
        return -ENOMEM;
    struct node **h = realloc(l->heap, bytes);
    if (!h)
        return -ENOMEM;
    l->heap = h;
    l->heap_cap = cap;
    return 0;
}

static void heap_push(struct local *l, struct node *n)
{
    n->state = NODE_DELAYED;
    heap_set(l, l->heap_len++, n);
    heap_up(l, n->heap_idx);
}

static void heap_delete(struct local *l, struct node *n)
{
    size_t i = n->heap_idx;
    struct node *last = l->heap[--l->heap_len];
    if (last == n)
        return;
    heap_set(l, i, last);
    if (i > 0 && heap_less(last, l->heap[(i - 1) / 2]))
        heap_up(l, i);
    else
        heap_down(l, i);
}

/* Moves every delayed entry that is due to its level, in due order. */
static void promote_due(struct local *l)
{
    if (!l->heap_len)
        return;
    uint64_t now = now_ms();
    while (l->heap_len && l->heap[0]->not_before_ms <= now) {
        struct node *n = l->heap[0];
        heap_delete(l, n);
        level_append(l, n);
    }
}

/* ---- driver ---- */

static int local_open(const struct moat_config *cfg, void **state, struct moat_err *err)
{
    struct local *l = calloc(1, sizeof(*l));
    if (!l)
        return moat_err_set(err, -ENOMEM, "queue: out of memory");
    l->map = calloc(MAP_INITIAL, sizeof(struct node *));
    if (!l->map) {
        free(l);
        return moat_err_set(err, -ENOMEM, "queue: out of memory");
    }
    l->map_size = MAP_INITIAL;
    l->max = cfg->max_queue;
    if (getrandom(&l->seed, sizeof(l->seed), GRND_NONBLOCK) != (ssize_t)sizeof(l->seed))
        l->seed = moat_now_ns() ^ (uint64_t)(uintptr_t)l;

    pthread_condattr_t ca;
    int r = -pthread_condattr_init(&ca);
    if (r == 0) {
        /* Deadlines are monotonic like not_before_ms: a clock step must not
         * stall or hurry a retry. */
        r = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (r == 0)
            r = -pthread_cond_init(&l->cv, &ca);
        (void)pthread_condattr_destroy(&ca);
    }
    if (r < 0) {
        free(l->map);
        free(l);
        return moat_err_set(err, r, "queue: cannot create a condition variable");
    }
    r = -pthread_mutex_init(&l->mu, NULL);
    if (r < 0) {
        (void)pthread_cond_destroy(&l->cv);
        free(l->map);
        free(l);
        return moat_err_set(err, r, "queue: cannot create a mutex");
    }
    *state = l;
    return 0;
}

static void local_close(void *state)
{
    struct local *l = state;
    if (!l)
        return;
    for (size_t i = 0; i < l->map_size; i++) {
        struct node *n = l->map[i];
        while (n) {
            struct node *next = n->hnext;
            free(n);
            n = next;
        }
    }
    free(l->map);
    free(l->heap);
    (void)pthread_cond_destroy(&l->cv);
    (void)pthread_mutex_destroy(&l->mu);
    free(l);
}

static void local_shutdown(void *state)
{
    struct local *l = state;
    (void)pthread_mutex_lock(&l->mu);
    l->shutdown = true;
    (void)pthread_cond_broadcast(&l->cv);
    (void)pthread_mutex_unlock(&l->mu);
}

static int local_reserve(void *state)
{
    struct local *l = state;
    int r = -EAGAIN;
    (void)pthread_mutex_lock(&l->mu);
    /* Unreserved pushes may have taken depth past max: compare, never subtract. */
    if (l->depth < l->max && l->reserved < l->max - l->depth) {
        l->reserved++;
        r = 0;
    }
    (void)pthread_mutex_unlock(&l->mu);
    return r;
}

static void local_unreserve(void *state)
{
    struct local *l = state;
    (void)pthread_mutex_lock(&l->mu);
    if (l->reserved > 0)
        l->reserved--;
    (void)pthread_mutex_unlock(&l->mu);
}

/* Puts n (new, or taken back from a taker) among the waiting entries, due
 * at not_before_ms (0: at once). Called with the lock held. */
static void enqueue(struct local *l, struct node *n, uint64_t not_before_ms)
{
    n->not_before_ms = not_before_ms;
    n->seq = l->seq++;
    n->state = not_before_ms > now_ms() ? NODE_DELAYED : NODE_READY;
    l->depth++;
    if (n->state == NODE_DELAYED) {
        heap_push(l, n);
        /* A new earliest entry moves every sleeper's wake-up time. */
        if (n->heap_idx == 0 && l->waiters)
            (void)pthread_cond_broadcast(&l->cv);
    } else {
        level_append(l, n);
        if (l->waiters)
            (void)pthread_cond_signal(&l->cv);
    }
}

static int local_push(void *state, const char *id, int priority, bool reserved)
{
    struct local *l = state;
    /* Allocated outside the lock: malloc is the slowest step of a push. */
    struct node *n = malloc(sizeof(*n));
    if (!n)
        return -ENOMEM;
    moat_strlcpy(n->id, id, sizeof(n->id));
    n->hash = id_hash(l, id);
    n->prio = priority - JOB_PRIORITY_MIN;
    n->deliveries = 0;

    (void)pthread_mutex_lock(&l->mu);
    if (reserved && l->reserved > 0)
        l->reserved--;
    if (map_find(l, id, n->hash, false)) {
        /* Already waiting: at-least-once delivery makes a second copy
         * pointless, and the place it reserved is not needed. */
        free(n);
    } else {
        map_insert(l, n);
        enqueue(l, n, 0);
    }
    (void)pthread_mutex_unlock(&l->mu);
    return 0;
}

static struct timespec ms_to_timespec(uint64_t ms)
{
    return (struct timespec){.tv_sec = (time_t)(ms / 1000u),
                             .tv_nsec = (long)(ms % 1000u) * 1000000L};
}

/* Sleeps until woken, the deadline (UINT64_MAX: none) or the earliest
 * delayed entry. Called with the lock held. */
static void take_wait(struct local *l, uint64_t deadline_ms)
{
    uint64_t wake = deadline_ms;
    if (l->heap_len && l->heap[0]->not_before_ms < wake)
        wake = l->heap[0]->not_before_ms;
    l->waiters++;
    if (wake == UINT64_MAX) {
        (void)pthread_cond_wait(&l->cv, &l->mu);
    } else {
        struct timespec ts = ms_to_timespec(wake);
        (void)pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    l->waiters--;
}

static int local_take(void *state, int timeout_ms, struct queue_entry *e)
{
    struct local *l = state;
    uint64_t deadline = UINT64_MAX;
    if (timeout_ms >= 0)
        deadline = now_ms() + (uint64_t)timeout_ms;
    int r;
    (void)pthread_mutex_lock(&l->mu);
    for (;;) {
        if (l->shutdown) {
            r = -ESHUTDOWN;
            break;
        }
        promote_due(l);
        if (l->ready_mask) {
            int p = 31 - __builtin_clz(l->ready_mask);
            struct node *n = l->levels[p].head;
            level_unlink(l, n);
            n->state = NODE_IN_FLIGHT;
            n->deliveries++;
            l->depth--;
            l->in_flight++;
            memcpy(e->id, n->id, sizeof(n->id));
            e->priority = p + JOB_PRIORITY_MIN;
            e->deliveries = n->deliveries;
            e->handle = n;
            /* Entries promoted together wake one sleeper each, in turn. */
            if (l->ready_mask && l->waiters)
                (void)pthread_cond_signal(&l->cv);
            r = 0;
            break;
        }
        if (timeout_ms == 0 || (deadline != UINT64_MAX && now_ms() >= deadline)) {
            r = -ETIMEDOUT;
            break;
        }
        take_wait(l, deadline);
    }
    (void)pthread_mutex_unlock(&l->mu);
    return r;
}

/* Ends a taken entry: gone (free), or back among the waiting ones. */
static void end_entry(struct local *l, struct queue_entry *e, bool back, uint64_t not_before_ms)
{
    struct node *n = e->handle;
    e->handle = NULL;
    (void)pthread_mutex_lock(&l->mu);
    l->in_flight--;
    /* a copy pushed meanwhile (recovery) is waiting already: one is enough */
    if (back && map_find(l, n->id, n->hash, false))
        back = false;
    if (back && not_before_ms > now_ms() && heap_reserve(l) < 0)
        not_before_ms = 0; /* no room for the delay: back at once */
    if (back) {
        enqueue(l, n, not_before_ms);
        n = NULL;
    } else {
        map_delete(l, n);
    }
    (void)pthread_mutex_unlock(&l->mu);
    free(n);
}

static void local_ack(void *state, struct queue_entry *e)
{
    end_entry(state, e, false, 0);
}

static int local_retry(void *state, struct queue_entry *e, uint64_t delay_ms)
{
    end_entry(state, e, true, delay_ms ? now_ms() + delay_ms : 0);
    return 0;
}

static void local_release(void *state, struct queue_entry *e, bool redeliver)
{
    end_entry(state, e, redeliver, 0);
}

static int local_touch(void *state, const struct queue_entry *e)
{
    (void)state;
    (void)e; /* no deadline: an entry stays its taker's as long as the process lives */
    return 0;
}

static int local_remove(void *state, const char *id)
{
    struct local *l = state;
    uint64_t h = id_hash(l, id);
    (void)pthread_mutex_lock(&l->mu);
    struct node *n = map_find(l, id, h, false);
    bool found = n != NULL;
    if (n) {
        if (n->state == NODE_DELAYED)
            heap_delete(l, n);
        else
            level_unlink(l, n);
        map_delete(l, n);
        l->depth--;
    }
    (void)pthread_mutex_unlock(&l->mu);
    free(n);
    return found ? 0 : -ENOENT;
}

static int local_holds(void *state, const char *const *ids, size_t n, bool *held)
{
    struct local *l = state;
    (void)pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = id_hash(l, ids[i]);
        held[i] = map_find(l, ids[i], h, false) || map_find(l, ids[i], h, true);
    }
    (void)pthread_mutex_unlock(&l->mu);
    return 0;
}

static bool local_ready(void *state)
{
    struct local *l = state;
    (void)pthread_mutex_lock(&l->mu);
    bool ok = !l->shutdown;
    (void)pthread_mutex_unlock(&l->mu);
    return ok;
}

/* One process, one node: no other node to hear from or to tell. */
static int local_listen(void *state, queue_event_fn fn, void *cls)
{
    (void)state;
    (void)fn;
    (void)cls;
    return 0;
}

static int local_announce(void *state, enum queue_event ev, const char *id, const char *data,
                          size_t len)
{
    (void)state;
    (void)ev;
    (void)id;
    (void)data;
    (void)len;
    return 0;
}

static void local_stats(void *state, struct queue_stats *st)
{
    struct local *l = state;
    (void)pthread_mutex_lock(&l->mu);
    *st = (struct queue_stats){
        .depth = l->depth,
        .reserved = l->reserved,
        .in_flight = l->in_flight,
        .max = l->max,
    };
    (void)pthread_mutex_unlock(&l->mu);
}

const struct queue_ops queue_local_ops = {
    .name = "local",
    .in_process = true,
    .open = local_open,
    .close = local_close,
    .shutdown = local_shutdown,
    .ready = local_ready,
    .reserve = local_reserve,
    .unreserve = local_unreserve,
    .push = local_push,
    .take = local_take,
    .ack = local_ack,
    .retry = local_retry,
    .release = local_release,
    .touch = local_touch,
    .remove = local_remove,
    .holds = local_holds,
    .listen = local_listen,
    .announce = local_announce,
    .stats = local_stats,
};
