/*
 * The PostgreSQL driver: a cluster's shared store. Any number of nodes
 * write one database at once, so every conditional write is one atomic
 * statement (postgres-write.c), and each node commits its concurrent writes
 * in groups (one transaction, one round trip, one WAL flush per batch).
 *
 * This file opens the store (connect, identify and migrate, start the
 * writer) and closes it, and holds what the other files share: connecting
 * and waiting under deadlines, errors and their messages.
 *
 * Passwords: the URL may carry one (postgres://user:PASSWORD@host/db or
 * ?password=). Messages name the database by the URL with the password
 * replaced (config_redact_url), and every message that comes from libpq is
 * scrubbed of the password too, in case it quotes the URL.
 */
#include <ctype.h>
#include <poll.h>
#include <sys/random.h>
#include <time.h>

#include "postgres-internal.h"
#include "moat/util.h"

const struct pg_timeouts pg_default_timeouts = {
    .connect_ms = 3000,
    .io_ms = 10000,
    .ready_ms = 2000,
    .write_wait_ms = 5000,
    .resolve_wait_ms = 30000,
    .probe_ms = 250,
    .backoff_min_ms = 50,
    .backoff_max_ms = 1000,
};

uint64_t pg_deadline(unsigned ms)
{
    return moat_now_ns() + (uint64_t)ms * 1000000u;
}

/* ---- messages ---- */

void pg_scrub(const struct pg_store *s, const char *msg, char *out, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return;
    for (const char *p = msg ? msg : ""; *p && n + 1 < size;) {
        bool hit = false;
        for (size_t k = 0; k < MOAT_ARRAY_SIZE(s->secret) && !hit; k++) {
            size_t len = strlen(s->secret[k]);
            if (len && strncmp(p, s->secret[k], len) == 0) {
                for (const char *r = "***"; *r && n + 1 < size; r++)
                    out[n++] = *r;
                p += len;
                hit = true;
            }
        }
        if (hit)
            continue;
        out[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        p++;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

void pg_message(const struct pg_store *s, const PGresult *res, PGconn *c, char *out, size_t size)
{
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m)
        m = c ? PQerrorMessage(c) : NULL;
    pg_scrub(s, m && *m ? m : "the connection to the database was lost", out, size);
}

/* The password of url, as written and percent-decoded, into s->secret. */
static void find_secrets(struct pg_store *s, const char *url)
{
    char raw[256] = "";
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    if (at && slash && slash < at)
        at = NULL; /* an @ in the path or query is not user-info */
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon)
        (void)snprintf(raw, sizeof(raw), "%.*s", (int)(at - colon - 1), colon + 1);
    const char *q = strstr(url, "password=");
    if (!raw[0] && q && (q[-1] == '?' || q[-1] == '&'))
        (void)snprintf(raw, sizeof(raw), "%.*s", (int)strcspn(q + 9, "&"), q + 9);
    moat_strlcpy(s->secret[0], raw, sizeof(s->secret[0]));
    size_t n = 0;
    for (const char *p = raw; *p && n + 1 < sizeof(s->secret[1]); p++) {
        unsigned v = 0;
        if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1 && isxdigit((unsigned char)p[1]) &&
            isxdigit((unsigned char)p[2])) {
            s->secret[1][n++] = (char)v;
            p += 2;
        } else {
            s->secret[1][n++] = *p;
        }
    }
    s->secret[1][n] = '\0';
    if (strcmp(s->secret[0], s->secret[1]) == 0)
        s->secret[1][0] = '\0';
}

/* ---- errors ---- */

int pg_errno(const PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!st || strlen(st) != 5)
        return -ENOTCONN; /* made by libpq: the connection, not the server */
    if (strcmp(st, "23505") == 0)
        return -EEXIST;
    if (strcmp(st, "53100") == 0)
        return -ENOSPC;
    if (strcmp(st, "53200") == 0)
        return -ENOMEM;
    if (strcmp(st, "25006") == 0)
        return -EROFS; /* a standby, or default_transaction_read_only */
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
        return -EAGAIN; /* serialization failure, deadlock: worth another try */
    if (strcmp(st, "57014") == 0)
        return -ETIMEDOUT; /* statement_timeout */
    if (strncmp(st, "57P", 3) == 0 || strncmp(st, "08", 2) == 0 || strcmp(st, "53300") == 0)
        return -ENOTCONN; /* shutdown, connection failure, too many connections */
    if (strncmp(st, "28", 2) == 0 || strcmp(st, "42501") == 0)
        return -EACCES;
    if (strncmp(st, "54", 2) == 0 || strcmp(st, "22001") == 0)
        return -E2BIG;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return -EINVAL;
    return -EIO;
}

bool pg_store_fault(int e)
{
    return e == -ENOTCONN || e == -EROFS || e == -ENOSPC || e == -EIO || e == -EACCES ||
           e == -ETIMEDOUT || e == -ENOMEM;
}

/* ---- waiting ---- */

/* poll on c's socket until events or the deadline: 1 ready, 0 timed out,
 * -ENOTCONN. */
static int wait_socket(PGconn *c, short events, uint64_t deadline, short *revents)
{
    int fd = PQsocket(c);
    if (fd < 0)
        return -ENOTCONN;
    for (;;) {
        uint64_t now = moat_now_ns();
        if (now >= deadline)
            return 0;
        uint64_t left_ms = (deadline - now + 999999) / 1000000;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left_ms > 60000 ? 60000 : (int)left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -ENOTCONN;
        if (r == 0)
            continue; /* the loop checks the deadline */
        *revents = p.revents;
        return 1;
    }
}

int pg_flush(PGconn *c, uint64_t deadline)
{
    for (;;) {
        int r = PQflush(c);
        if (r == 0)
            return 0;
        if (r < 0)
            return -ENOTCONN;
        short rev = 0;
        int w = wait_socket(c, POLLOUT | POLLIN, deadline, &rev);
        if (w <= 0)
            return w == 0 ? -ETIMEDOUT : w;
        /* the server's answers so far: it may be waiting for room to send */
        if ((rev & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(c))
            return -ENOTCONN;
    }
}

int pg_await(PGconn *c, uint64_t deadline)
{
    while (PQisBusy(c)) {
        short rev = 0;
        int w = wait_socket(c, POLLIN, deadline, &rev);
        if (w <= 0)
            return w == 0 ? -ETIMEDOUT : w;
        if (!PQconsumeInput(c))
            return PQisBusy(c) ? -ENOTCONN : 0; /* an error result may be waiting */
    }
    return 0;
}

bool pg_alive(PGconn *c)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return false;
    /* A server that shut down has said so and closed the connection: its
     * goodbye (a FATAL error) and the end of the stream may take two reads
     * to see. Bounded: a live idle connection has nothing to read. */
    for (int i = 0; i < 4; i++) {
        if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
            return false;
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&p, 1, 0) != 1)
            break;
    }
    return PQtransactionStatus(c) == PQTRANS_IDLE && !PQisBusy(c);
}

/* ---- connecting ---- */

/* libpq prints notices (and the FATAL of a server shutting down) on
 * stderr by default: the driver reports what matters through its results. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pg_connect(struct pg_store *s, bool writer, PGconn **out, char *msg, size_t msgsz)
{
    /* Defaults first: the URL's own settings, expanded from dbname after
     * them, win. Keepalives and tcp_user_timeout make a dead peer show on
     * an idle connection; every wait has a deadline besides. */
    static const char *const keys[] = {
        "application_name",
        "connect_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "target_session_attrs",
        "dbname",
        NULL,
    };
    char timeout[16], user_timeout[16];
    (void)snprintf(timeout, sizeof(timeout), "%u", (s->to.connect_ms + 999) / 1000);
    (void)snprintf(user_timeout, sizeof(user_timeout), "%u", s->to.io_ms);
    const char *const values[] = {
        "moat", timeout, "1", "10", "3", "3", user_timeout, writer ? "read-write" : "any",
        s->url, NULL,
    };
    uint64_t deadline = pg_deadline(s->to.connect_ms);
    PGconn *c = PQconnectStartParams(keys, values, 1);
    if (!c) {
        moat_strlcpy(msg, "out of memory", msgsz);
        return -ENOMEM;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int e = 0;
    while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        short rev = 0;
        int w = wait_socket(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, &rev);
        if (w <= 0) {
            (void)snprintf(msg, msgsz, "no answer within %u ms", s->to.connect_ms);
            e = -ENOTCONN;
            break;
        }
        st = PQconnectPoll(c);
    }
    if (e == 0 && (PQstatus(c) != CONNECTION_OK || st != PGRES_POLLING_OK)) {
        pg_message(s, NULL, c, msg, msgsz);
        /* a refused login is a setting to fix, not an outage */
        e = strstr(msg, "authentication failed") ? -EACCES : -ENOTCONN;
    }
    if (e == 0)
        (void)PQsetNoticeProcessor(c, ignore_notice, NULL);
    if (e == 0 && PQsetnonblocking(c, 1) != 0) {
        pg_message(s, NULL, c, msg, msgsz);
        e = -ENOTCONN;
    }
    if (e < 0) {
        PQfinish(c);
        return e;
    }
    *out = c;
    return 0;
}

/* ---- statements ---- */

int pg_query(struct pg_store *s, PGconn *c, const char *sql, bool prepared, int n,
             const char *const *values, const int *lengths, unsigned bin_mask, bool binary,
             uint64_t deadline, PGresult **res, char *msg, size_t msgsz)
{
    int formats[32] = {0};
    for (int i = 0; i < n && i < 32; i++)
        formats[i] = (bin_mask >> i) & 1u;
    *res = NULL;
    int sent = prepared ? PQsendQueryPrepared(c, sql, n, values, lengths, formats, binary)
                        : PQsendQueryParams(c, sql, n, NULL, values, lengths, formats, binary);
    int e = sent ? pg_flush(c, deadline) : -ENOTCONN;
    PGresult *first = NULL;
    while (e == 0) {
        e = pg_await(c, deadline);
        PGresult *r = e == 0 ? PQgetResult(c) : NULL;
        if (!r)
            break;
        if (!first)
            first = r;
        else
            PQclear(r);
    }
    if (e == 0 && !first)
        e = -ENOTCONN;
    if (e == 0) {
        ExecStatusType st = PQresultStatus(first);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            *res = first;
            return 0;
        }
        e = pg_errno(first);
    }
    if (e == -ETIMEDOUT && !first) {
        moat_strlcpy(msg, "the database did not answer in time", msgsz);
        e = -ENOTCONN;
    } else {
        pg_message(s, first, c, msg, msgsz);
    }
    PQclear(first);
    return e;
}

int pg_prepare_all(struct pg_store *s, PGconn *c, const char *const *names, const char *const *sql,
                   size_t n, uint64_t deadline, char *msg, size_t msgsz)
{
    for (size_t i = 0; i < n; i++) {
        if (!PQsendPrepare(c, names[i], sql[i], 0, NULL)) {
            pg_message(s, NULL, c, msg, msgsz);
            return -ENOTCONN;
        }
        int e = pg_flush(c, deadline);
        PGresult *first = NULL;
        while (e == 0) {
            e = pg_await(c, deadline);
            PGresult *r = e == 0 ? PQgetResult(c) : NULL;
            if (!r)
                break;
            if (!first)
                first = r;
            else
                PQclear(r);
        }
        if (e == 0 && (!first || PQresultStatus(first) != PGRES_COMMAND_OK))
            e = first ? pg_errno(first) : -ENOTCONN;
        if (e < 0) {
            char why[200];
            pg_message(s, first, c, why, sizeof(why));
            (void)snprintf(msg, msgsz, "cannot prepare %s: %s", names[i], why);
            PQclear(first);
            return e == -ETIMEDOUT ? -ENOTCONN : e;
        }
        PQclear(first);
    }
    return 0;
}

/* ---- binary results ---- */

int64_t pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < len && i < 8; i++)
        v = (v << 8) | p[i];
    if (len == 2)
        return (int16_t)v;
    if (len == 4)
        return (int32_t)v;
    return (int64_t)v;
}

double pg_double(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    uint64_t bits = (uint64_t)pg_int(r, row, col);
    double d = 0;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

bool pg_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
           PQgetvalue(r, row, col)[0] != 0;
}

void pg_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    if (size == 0)
        return;
    size_t len = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
    if (len >= size)
        len = size - 1;
    if (len)
        memcpy(out, PQgetvalue(r, row, col), len);
    out[len] = '\0';
}

/* ---- open, close ---- */

static void pg_stats(struct store *st, struct store_stats *out)
{
    struct pg_store *s = (struct pg_store *)st;
    out->writes = __atomic_load_n(&s->n_writes, __ATOMIC_RELAXED);
    out->commits = __atomic_load_n(&s->n_commits, __ATOMIC_RELAXED);
    out->retries = __atomic_load_n(&s->n_retries, __ATOMIC_RELAXED);
    out->row_waits = __atomic_load_n(&s->n_row_waits, __ATOMIC_RELAXED);
}

static void pg_close(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    if (!s)
        return;
    pg_writer_stop(s);
    pg_readers_close(s);
    PQfinish(s->wconn);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->rcond);
    explicit_bzero(s->url, sizeof(s->url));
    explicit_bzero(s->secret, sizeof(s->secret));
    free(s);
}

static const struct store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .insert_async = pg_insert_async,
    .get = pg_get,
    .get_output = pg_get_output,
    .start_begin = pg_start_begin,
    .start_wait = pg_start_wait,
    .finish = pg_finish,
    .requeue = pg_requeue,
    .cancel = pg_cancel,
    .list_pending = pg_list_pending,
    .list = pg_list,
    .ready = pg_ready,
    .callback_due = pg_callback_due,
    .callback_claim = pg_callback_claim,
    .callback_record = pg_callback_record,
    .stats = pg_stats,
    .key_add = pg_key_add,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .idem_claim = pg_idem_claim,
    .idem_settle = pg_idem_settle,
    .idem_drop = pg_idem_drop,
};

int pg_open(const struct moat_config *cfg, const struct pg_timeouts *t, struct store **out,
            struct moat_err *err)
{
    if (strlen(cfg->store) >= sizeof(((struct pg_store *)NULL)->url))
        return moat_err_field(err, -ENAMETOOLONG, "server.store", "the store URL is too long");
    struct pg_store *s = calloc(1, sizeof(*s));
    if (!s)
        return moat_err_set(err, -ENOMEM, "out of memory");
    s->base.ops = &pg_ops;
    moat_strlcpy(s->url, cfg->store, sizeof(s->url));
    config_redact_url(cfg->store, s->shown, sizeof(s->shown));
    find_secrets(s, cfg->store);
    s->to = *t;
    s->max_readers = cfg->store_connections > 1 ? (size_t)cfg->store_connections - 1 : 1;
    pthread_mutex_init(&s->mu, NULL);
    /* the writer's timed waits (backoff, probes) are on the monotonic clock */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rcond, NULL);
    if (getrandom(&s->token_base, sizeof(s->token_base), 0) != sizeof(s->token_base))
        s->token_base = moat_now_ns() ^ ((uint64_t)getpid() << 32);

    char msg[200];
    int r = pg_connect(s, true, &s->wconn, msg, sizeof(msg));
    if (r < 0) {
        r = moat_err_set(err, r, "cannot connect to the store %s: %s", s->shown, msg);
        goto out;
    }
    /* pg_terminate_backend with a timeout (the end of a lost batch's
     * backend, postgres-write.c) */
    if (PQserverVersion(s->wconn) < 140000) {
        r = moat_err_set(err, -ENOTSUP, "the store %s runs PostgreSQL %d; moat needs 14 or later",
                         s->shown, PQserverVersion(s->wconn) / 10000);
        goto out;
    }
    r = pg_migrate(s, s->wconn, err);
    if (r < 0)
        goto out;
    r = pg_writer_start(s, err);
out:
    if (r < 0) {
        pg_close(&s->base);
        return r;
    }
    *out = &s->base;
    return 0;
}

int store_postgres_open(const struct moat_config *cfg, struct store **out, struct moat_err *err)
{
    struct pg_timeouts to = pg_default_timeouts;
    to.write_wait_ms = (unsigned)cfg->store_wait_ms;
    return pg_open(cfg, &to, out, err);
}
