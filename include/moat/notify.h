#pragma once
/*
 * notify: delivery of final jobs to their callbackUrl (webhooks).
 *
 * The state of each delivery lives in the store with its job (pending,
 * delivered, failed; attempts, last error, when the next attempt is due),
 * so a delivery survives a crash and a restart, and in a cluster exactly
 * one node makes each attempt: an attempt starts with a claim in the store
 * (store_callback_claim, a lease like a job's start) and ends with a write
 * fenced by the attempt's number. This node's poller asks the store every
 * webhooks.poll_ms for deliveries that are due (their job final, not
 * leased), so a job finished on any node, and a delivery a dead node left
 * halfway, is delivered by some node. The guarantee is at-least-once: a
 * node that dies after the receiver answered and before it recorded the
 * answer leaves the delivery to be made again (Moat-Delivery names the job,
 * for the receiver to drop a repeat).
 *
 * Threads: one poller and webhooks.workers delivery threads, each with its
 * own curl easy handle, fed through a bounded queue. Nothing here runs on
 * an executor's or the API's threads.
 *
 * Layering: notify uses store, job, config and util; the body of a shape
 * is rendered by a function registered for it (notify_set_renderer), so
 * that the API's renderers serve without notify calling up into api.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"
#include "moat/job.h"

struct store;
struct moat_err;
struct obs_registry;

/* ---- what a callback may reach (addr.c); pure, thread-safe ---- */

/* Why an address is refused, or NOTIFY_ADDR_OK. */
enum notify_addr_class {
    NOTIFY_ADDR_OK,
    NOTIFY_ADDR_UNSPECIFIED, /* 0.0.0.0/8, :: */
    NOTIFY_ADDR_LOOPBACK,    /* 127/8, ::1 */
    NOTIFY_ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
    NOTIFY_ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
    NOTIFY_ADDR_METADATA,    /* 169.254.169.254, fd00:ec2::254: cloud metadata */
    NOTIFY_ADDR_CGNAT,       /* 100.64/10 */
    NOTIFY_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
    NOTIFY_ADDR_RESERVED,    /* 240/4 and broadcast, and IPv6 that embeds IPv4 unchecked */
    NOTIFY_ADDR_CLASS_MAX_,
};

/* An address: IPv4 in the first 4 bytes (v6 false) or IPv6. */
struct notify_addr {
    bool v6;
    uint8_t b[16];
};

/* The class of a (IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 are
 * classed by the IPv4 address they carry). */
enum notify_addr_class notify_addr_classify(const struct notify_addr *a);
/* "loopback", "private", ... for messages; "" for OK. Static storage. */
const char *notify_addr_class_name(enum notify_addr_class c);
/* Parses a literal "1.2.3.4" or "::1" (no brackets): 0 or -EINVAL. */
int notify_addr_parse(const char *text, struct notify_addr *out);

/* An allow-list of CIDRs (webhooks.allow). */
#define NOTIFY_ALLOW_MAX 32
struct notify_allow {
    size_t n;
    struct {
        struct notify_addr net;
        unsigned prefix;
    } cidr[NOTIFY_ALLOW_MAX];
};
/* Parses "a/n,b/m" (spaces allowed around commas; a bare address is /32 or
 * /128; "" is empty). -EINVAL (err names the bad entry), -E2BIG over
 * NOTIFY_ALLOW_MAX. *out written only on success. */
int notify_allow_parse(const char *text, struct notify_allow *out, struct moat_err *err);
/* Whether a is within an entry (an IPv4-mapped IPv6 address matches IPv4
 * entries). */
bool notify_allow_has(const struct notify_allow *al, const struct notify_addr *a);
/* NOTIFY_ADDR_OK when a may be reached: allowed, or of no refused class. */
enum notify_addr_class notify_addr_check(const struct notify_allow *al,
                                         const struct notify_addr *a);

/* ---- URLs (url.c) ---- */

/* The parts of a callback URL that delivery needs. */
struct notify_url {
    bool https;
    char host[256]; /* without brackets; a literal address or a DNS name */
    unsigned port;
    bool literal;            /* host is an IP address */
    struct notify_addr addr; /* when literal */
};
/*
 * Checks a callback URL as submitted: at most JOB_CALLBACK_URL_MAX bytes,
 * http or https, a host, no user info, no fragment; a literal address must
 * pass notify_addr_check. 0 with *out filled (may be NULL), else -EINVAL
 * with a sentence for the client in err.
 */
int notify_url_check(const char *url, const struct notify_allow *al, struct notify_url *out,
                     struct moat_err *err);

/* ---- signature, backoff (sign.c); pure, thread-safe ---- */

#define NOTIFY_SIGNATURE_MAX 96
/* The Moat-Signature header's value for body sent at unix second t:
 * "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" into out. -ENOMEM. */
int notify_signature(const char *secret, int64_t t, const char *body, size_t len,
                     char out[NOTIFY_SIGNATURE_MAX]);
/* The wait before attempt n+1 after attempt n (n >= 1) failed:
 * base * 2^(n-1), capped at max, then scaled by jitter in [0.5, 1]
 * (jitter 1: none). */
uint64_t notify_backoff_ms(uint64_t base_ms, uint64_t max_ms, uint32_t n, double jitter);
/* A Retry-After value (delta seconds, or an HTTP date compared with
 * now_s): 0 with *ms set, -EINVAL when it is neither. */
int notify_retry_after_ms(const char *value, int64_t now_s, uint64_t *ms);

/* How an answer (or its absence) ends an attempt. */
enum notify_verdict {
    NOTIFY_DELIVERED, /* 2xx */
    NOTIFY_RETRY,     /* connection error, timeout, 408, 429, 5xx */
    NOTIFY_FAIL,      /* any other status, a refused address: no retry */
};
/* status 0 = no answer (connection error, timeout). */
enum notify_verdict notify_verdict_of(long status);

/* ---- the service (notify.c) ---- */

struct notify;

/*
 * Renders the body of a delivery of shape s for final job j (outputs
 * loaded). *body malloc'd (caller frees), *len its bytes. -errno.
 * Called on a delivery thread; must be thread-safe.
 */
typedef int (*notify_render_fn)(void *cls, const struct job *j, char **body, size_t *len);

/*
 * Makes the service of this node (no thread yet). Reads webhooks.* of cfg
 * (borrowed until notify_free, like st and metrics). metrics (NULL: none)
 * gets moat_webhook_attempts_total{outcome="delivered|retry|failed"}.
 * -EINVAL with err naming the setting (webhooks.allow), -ENOMEM.
 */
int notify_new(const struct moat_config *cfg, struct store *st, struct obs_registry *metrics,
               struct notify **out, struct moat_err *err);
/*
 * Sets the renderer and the method ("POST", "PUT") of shape s; the body is
 * sent as application/json. Before notify_start only. A delivery of a
 * shape without one fails with "no renderer for the <shape> shape".
 * Borrows method (a static string) and cls until notify_free.
 */
void notify_set_renderer(struct notify *n, enum job_callback_shape s, const char *method,
                         notify_render_fn fn, void *cls);
/* Starts the poller and the delivery threads (none with webhooks.workers
 * 0). -errno with err set. */
int notify_start(struct notify *n, struct moat_err *err);
/* Stops polling, ends the attempts in flight at once (each is recorded
 * pending and due at once, "moat stopped during the attempt", for the next
 * start or another node), joins, frees. Accepts NULL. */
void notify_free(struct notify *n);
/* The allow-list in force (for the API's check of a submitted URL). */
const struct notify_allow *notify_allowed(const struct notify *n);
