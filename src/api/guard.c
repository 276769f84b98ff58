/*
 * The connection guard: what libmicrohttpd does not bound by itself.
 *
 * Its idle timeout restarts on every byte, so a client that sends one byte
 * every few seconds holds a connection for ever, and enough of them hold
 * every connection the server has (slowloris): a request's head and body
 * must arrive within request_timeout_s of the moment it may start (the
 * connection's accept, or the end of the previous request on a kept-alive
 * connection). And connection_reserve slots are kept for requests that
 * arrive whole (health checks, metrics, ordinary clients): when fewer are
 * free, the oldest unfinished requests are cut first. Per-address limits
 * are libmicrohttpd's own (MHD_OPTION_PER_IP_CONNECTION_LIMIT).
 *
 * Each connection gets a struct api_conn (its socket context) when it
 * starts and loses it when it closes; a thread ticks every 100 ms and shuts
 * down the sockets of the connections it cuts. That is safe against fd
 * reuse because libmicrohttpd tells of a closed connection (the CLOSED
 * notification, which takes guard->mu) before it closes the descriptor, and
 * the guard only touches descriptors of connections it still has.
 */
#include <sys/socket.h>

#include "server-internal.h"

#include "moat/obs.h"

#define GUARD_TICK_NS (100 * 1000000ULL)
/* A request younger than this is never cut for room: it may be a health
 * check that has not sent its whole head yet. */
#define GUARD_GRACE_NS (1000 * 1000000ULL)

enum conn_phase {
    CONN_WAITING, /* accepted, or between requests: the next head is due */
    CONN_READING, /* head in, body arriving */
    CONN_SERVING, /* the request is whole: the handler has it */
};

struct api_conn {
    struct api_conn *prev, *next;
    int fd;
    enum conn_phase phase;
    uint64_t since_ns; /* start of the current phase */
    bool cut;          /* shut down by the guard: not again */
    bool bad_escape;   /* a %-escape of this request decoded to a control byte */
};

struct api_guard {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    bool started, stopping;
    struct api_conn *head; /* oldest first: a connection moves to the tail when it waits again */
    unsigned count;
    uint64_t request_timeout_ns;
    unsigned room; /* connections unfinished requests may hold */
    struct obs_counter *cut_timeout, *cut_pressure;
};

static void link_tail(struct api_guard *g, struct api_conn *c)
{
    c->prev = NULL;
    c->next = NULL;
    if (!g->head) {
        g->head = c;
        c->prev = c; /* head->prev is the tail */
        return;
    }
    struct api_conn *tail = g->head->prev;
    tail->next = c;
    c->prev = tail;
    g->head->prev = c;
}

static void unlink_conn(struct api_guard *g, struct api_conn *c)
{
    if (c == g->head) {
        g->head = c->next;
        if (g->head)
            g->head->prev = c->prev;
    } else {
        c->prev->next = c->next;
        if (c->next)
            c->next->prev = c->prev;
        else
            g->head->prev = c->prev;
    }
    c->prev = c->next = NULL;
}

static void cut(struct api_conn *c, struct obs_counter *why)
{
    c->cut = true;
    (void)shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
    if (why)
        obs_counter_add(why, 1);
}

/* One pass: requests past their time, then the oldest unfinished ones
 * while the reserve is eaten into. Under g->mu. */
static void sweep(struct api_guard *g, uint64_t now)
{
    unsigned unfinished = 0;
    for (struct api_conn *c = g->head; c; c = c->next) {
        if (c->cut || c->phase == CONN_SERVING)
            continue;
        if (now - c->since_ns > g->request_timeout_ns)
            cut(c, g->cut_timeout);
        else
            unfinished++;
    }
    if (g->count + 1 <= g->room || unfinished == 0)
        return;
    unsigned excess = g->count + 1 - g->room; /* +1: the connection waiting to be accepted */
    for (struct api_conn *c = g->head; c && excess; c = c->next) {
        if (c->cut || c->phase == CONN_SERVING || now - c->since_ns < GUARD_GRACE_NS)
            continue;
        cut(c, g->cut_pressure);
        excess--;
    }
}

static void *guard_main(void *arg)
{
    struct api_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wake = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + GUARD_TICK_NS;
        ts.tv_sec = (time_t)(wake / 1000000000ULL);
        ts.tv_nsec = (long)(wake % 1000000000ULL);
        (void)pthread_cond_timedwait(&g->cond, &g->mu, &ts);
        if (!g->stopping)
            sweep(g, moat_now_ns());
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int api_guard_start(struct api_server *srv)
{
    struct api_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    const struct moat_config *cfg = srv->deps.cfg;
    g->request_timeout_ns = cfg->request_timeout_s * 1000000000ULL;
    g->room = (unsigned)(cfg->max_connections - cfg->connection_reserve);
    if (srv->deps.metrics) {
        static const char help[] = "Client connections the server closed before their request "
                                   "was whole, by reason";
        g->cut_timeout = obs_counter(srv->deps.metrics, "moat_http_connections_cut_total", help,
                                     "reason=\"request_timeout\"");
        g->cut_pressure = obs_counter(srv->deps.metrics, "moat_http_connections_cut_total", help,
                                      "reason=\"reserve\"");
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    int r = pthread_create(&g->thread, NULL, guard_main, g);
    if (r != 0) {
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return -r;
    }
    g->started = true;
    srv->guard = g;
    return 0;
}

void api_guard_stop(struct api_server *srv)
{
    struct api_guard *g = srv->guard;
    if (!g || !g->started)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->mu);
    (void)pthread_join(g->thread, NULL);
    g->started = false;
}

void api_guard_free(struct api_server *srv)
{
    struct api_guard *g = srv->guard;
    if (!g)
        return;
    api_guard_stop(srv);
    /* the daemon is stopped: every connection has been told closed */
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->mu);
    free(g);
    srv->guard = NULL;
}

void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    struct api_server *srv = cls;
    struct api_guard *g = srv->guard;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct api_conn *ac = calloc(1, sizeof(*ac));
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ac || !fd || !g) {
            free(ac);
            *socket_context = NULL; /* unguarded: the idle timeout still applies */
            return;
        }
        ac->fd = fd->connect_fd;
        ac->phase = CONN_WAITING;
        ac->since_ns = moat_now_ns();
        pthread_mutex_lock(&g->mu);
        link_tail(g, ac);
        g->count++;
        pthread_mutex_unlock(&g->mu);
        *socket_context = ac;
        return;
    }
    struct api_conn *ac = *socket_context;
    if (!ac || !g)
        return;
    pthread_mutex_lock(&g->mu);
    unlink_conn(g, ac);
    g->count--;
    pthread_mutex_unlock(&g->mu);
    free(ac);
    *socket_context = NULL;
}

/* The guard's record of c (NULL for an unguarded connection). */
static struct api_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

static void set_phase(struct api_server *srv, struct MHD_Connection *c, enum conn_phase phase)
{
    struct api_conn *ac = conn_of(c);
    struct api_guard *g = srv->guard;
    if (!ac || !g)
        return;
    pthread_mutex_lock(&g->mu);
    if (ac->phase != phase) {
        ac->phase = phase;
        ac->since_ns = moat_now_ns();
        if (phase == CONN_WAITING) { /* the next request: the youngest again */
            unlink_conn(g, ac);
            link_tail(g, ac);
        }
    }
    if (phase == CONN_WAITING)
        ac->bad_escape = false;
    pthread_mutex_unlock(&g->mu);
}

void api_guard_head_in(struct api_server *srv, struct MHD_Connection *c)
{
    set_phase(srv, c, CONN_READING);
}

void api_guard_request_whole(struct api_server *srv, struct MHD_Connection *c)
{
    set_phase(srv, c, CONN_SERVING);
}

void api_guard_request_done(struct api_server *srv, struct MHD_Connection *c)
{
    set_phase(srv, c, CONN_WAITING);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX in place (libmicrohttpd's own rule: a '%' not followed by two
 * hex digits stays); a decoded control byte (NUL among them, which would
 * cut the string short where C reads it) marks the request, which is then
 * refused whole. Runs on the connection's thread. */
size_t api_guard_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    bool control = false;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = hex_value(r[1])) >= 0 && (lo = hex_value(r[2])) >= 0) {
            unsigned char v = (unsigned char)(hi << 4 | lo);
            control |= v < 0x20 || v == 0x7f;
            *w++ = (char)v;
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    if (control) {
        struct api_conn *ac = conn_of(c);
        if (ac)
            ac->bad_escape = true; /* only this connection's thread reads or writes it */
    }
    return (size_t)(w - s);
}

bool api_guard_bad_escape(struct MHD_Connection *c)
{
    struct api_conn *ac = conn_of(c);
    return ac && ac->bad_escape;
}
