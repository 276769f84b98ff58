/*
 * One delivery attempt: resolve, check, connect to what was checked, send,
 * read a bounded answer.
 *
 * The host name is resolved once, here, and every address it gives is
 * checked (one refused address refuses the delivery: a name that answers
 * both a public and a private address is a rebinding attempt). libcurl is
 * then told to use exactly those addresses (CURLOPT_RESOLVE), so it never
 * resolves the name again, and the socket it opens is checked once more
 * (CURLOPT_OPENSOCKETFUNCTION), which also covers a literal address and
 * anything libcurl might connect to on its own. No proxy (an environment
 * proxy would connect for us, out of our sight), no redirects, http and
 * https only.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>

#include "notify-internal.h"
#include "moat/util.h"

#define MAX_RESOLVED 16

static void addr_from_sockaddr(const struct sockaddr *sa, struct notify_addr *a)
{
    *a = (struct notify_addr){0};
    if (sa->sa_family == AF_INET) {
        memcpy(a->b, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else {
        a->v6 = true;
        memcpy(a->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}

static void addr_text(const struct notify_addr *a, char *out, size_t size)
{
    if (!inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->b, out, (socklen_t)size))
        moat_strlcpy(out, "?", size);
}

/* Resolves nu->host, checks each address; *list gets the CURLOPT_RESOLVE
 * entry "host:port:a1,a2". 0, or -EACCES / -EHOSTUNREACH with why. */
static int resolve_checked(const struct notify_url *nu, const struct notify_allow *al,
                           struct curl_slist **list, char *why, size_t whysz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(nu->host, NULL, &hints, &res);
    if (g != 0) {
        (void)snprintf(why, whysz, "cannot resolve %.100s: %s", nu->host, gai_strerror(g));
        return -EHOSTUNREACH;
    }
    char entry[512];
    int n = snprintf(entry, sizeof(entry), "%s:%u:", nu->host, nu->port);
    size_t used = n > 0 ? (size_t)n : 0, count = 0;
    int e = 0;
    for (struct addrinfo *ai = res; ai && count < MAX_RESOLVED; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        struct notify_addr a;
        addr_from_sockaddr(ai->ai_addr, &a);
        char text[INET6_ADDRSTRLEN];
        addr_text(&a, text, sizeof(text));
        enum notify_addr_class c = notify_addr_check(al, &a);
        if (c != NOTIFY_ADDR_OK) {
            (void)snprintf(why, whysz, "%.100s resolves to a %s address (%s): refused", nu->host,
                           notify_addr_class_name(c), text);
            e = -EACCES;
            break;
        }
        n = snprintf(entry + used, sizeof(entry) - used, a.v6 ? "%s[%s]" : "%s%s", count ? "," : "",
                     text);
        if (n < 0 || (size_t)n >= sizeof(entry) - used)
            break;
        used += (size_t)n;
        count++;
    }
    freeaddrinfo(res);
    if (e == 0 && count == 0) {
        (void)snprintf(why, whysz, "%.100s has no IPv4 or IPv6 address", nu->host);
        e = -EHOSTUNREACH;
    }
    if (e == 0 && !(*list = curl_slist_append(NULL, entry)))
        e = -ENOMEM;
    return e;
}

struct io {
    const struct notify_allow *al;
    const atomic_bool *stop;
    size_t got, max;
    bool overflow, refused;
    char refused_why[160];
    char retry_after[64];
};

/* Every socket libcurl opens: only to an address that passes the check. */
static curl_socket_t open_checked(void *cls, curlsocktype purpose, struct curl_sockaddr *sa)
{
    struct io *io = cls;
    if (purpose != CURLSOCKTYPE_IPCXN || (sa->family != AF_INET && sa->family != AF_INET6))
        return CURL_SOCKET_BAD;
    struct notify_addr a;
    addr_from_sockaddr(&sa->addr, &a);
    enum notify_addr_class c = notify_addr_check(io->al, &a);
    if (c != NOTIFY_ADDR_OK) {
        char text[INET6_ADDRSTRLEN];
        addr_text(&a, text, sizeof(text));
        io->refused = true;
        (void)snprintf(io->refused_why, sizeof(io->refused_why),
                       "connection to a %s address (%s) refused", notify_addr_class_name(c), text);
        return CURL_SOCKET_BAD;
    }
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

/* The answer's body is read up to max bytes, then the transfer stops: a
 * receiver cannot make moat read without end. */
static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
    (void)data;
    struct io *io = cls;
    size_t len = size * n;
    if (len > io->max - io->got) {
        io->overflow = true;
        return 0;
    }
    io->got += len;
    return len;
}

/* libcurl asks this often during a transfer: a node that stops does not
 * wait for a slow receiver. */
static int on_progress(void *cls, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const struct io *io = cls;
    return io->stop && atomic_load(io->stop) ? 1 : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *cls)
{
    struct io *io = cls;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        size_t vlen = len - (sizeof(name) - 1);
        if (vlen >= sizeof(io->retry_after))
            vlen = sizeof(io->retry_after) - 1;
        memcpy(io->retry_after, data + sizeof(name) - 1, vlen);
        io->retry_after[vlen] = '\0';
        io->retry_after[strcspn(io->retry_after, "\r\n")] = '\0';
    }
    return len;
}

static int set_options(CURL *h, const struct notify_attempt *a, struct io *io,
                       struct curl_slist *headers, struct curl_slist *resolve, char *errbuf)
{
    bool ok = curl_easy_setopt(h, CURLOPT_URL, a->url) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)a->timeout_ms) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, a->method) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_POSTFIELDS, a->body) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->len) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_USERAGENT, "moat-webhook/1") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_checked) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, io) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEDATA, io) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_HEADERDATA, io) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_XFERINFODATA, io) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
    if (ok && resolve)
        ok = curl_easy_setopt(h, CURLOPT_RESOLVE, resolve) == CURLE_OK;
    return ok ? 0 : -EINVAL;
}

static struct curl_slist *make_headers(const struct notify_attempt *a)
{
    char line[160];
    struct curl_slist *l = NULL, *t;
    const char *fixed[] = {"Expect:", "Accept: */*"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(fixed); i++) {
        if (!(t = curl_slist_append(l, fixed[i])))
            goto fail;
        l = t;
    }
    (void)snprintf(line, sizeof(line), "Content-Type: %s", a->ctype);
    if (!(t = curl_slist_append(l, line)))
        goto fail;
    l = t;
    (void)snprintf(line, sizeof(line), "Moat-Delivery: %s", a->delivery);
    if (!(t = curl_slist_append(l, line)))
        goto fail;
    l = t;
    if (a->signature[0]) {
        (void)snprintf(line, sizeof(line), "Moat-Signature: %s", a->signature);
        if (!(t = curl_slist_append(l, line)))
            goto fail;
        l = t;
    }
    return l;
fail:
    curl_slist_free_all(l);
    return NULL;
}

static void outcome_of(CURL *h, CURLcode rc, const struct io *io, const char *errbuf, int64_t now_s,
                       struct notify_result *r)
{
    long status = 0;
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (io->refused) {
        r->verdict = NOTIFY_FAIL;
        moat_strlcpy(r->error, io->refused_why, sizeof(r->error));
        return;
    }
    bool answered = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && io->overflow && status > 0);
    if (!answered) {
        r->verdict = NOTIFY_RETRY;
        (void)snprintf(r->error, sizeof(r->error), "%s%s%.180s", curl_easy_strerror(rc),
                       errbuf[0] ? ": " : "", errbuf);
        r->error[strcspn(r->error, "\n")] = '\0';
        return;
    }
    r->status = status;
    r->verdict = notify_verdict_of(status);
    if (r->verdict != NOTIFY_DELIVERED)
        (void)snprintf(r->error, sizeof(r->error), "the receiver answered %ld", status);
    uint64_t ms;
    if (io->retry_after[0] && notify_retry_after_ms(io->retry_after, now_s, &ms) == 0) {
        r->has_retry_after = true;
        r->retry_after_ms = ms;
    }
}

int notify_deliver_once(CURL *h, const struct notify_attempt *a, struct notify_result *r)
{
    *r = (struct notify_result){.verdict = NOTIFY_FAIL};
    struct moat_err err = {0};
    struct notify_url nu;
    if (notify_url_check(a->url, a->al, &nu, &err) < 0) {
        moat_strlcpy(r->error, err.msg, sizeof(r->error));
        return 0;
    }
    struct curl_slist *resolve = NULL;
    if (!nu.literal) {
        int e = resolve_checked(&nu, a->al, &resolve, r->error, sizeof(r->error));
        if (e == -ENOMEM)
            return e;
        if (e < 0) {
            /* a name that does not resolve may later; one that resolves
             * to a refused address is refused now */
            r->verdict = e == -EACCES ? NOTIFY_FAIL : NOTIFY_RETRY;
            return 0;
        }
    }
    struct curl_slist *headers = make_headers(a);
    if (!headers) {
        curl_slist_free_all(resolve);
        return -ENOMEM;
    }
    struct io io = {.al = a->al, .stop = a->stop, .max = a->max_response};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_reset(h);
    int e = set_options(h, a, &io, headers, resolve, errbuf);
    if (e == 0) {
        CURLcode rc = curl_easy_perform(h);
        outcome_of(h, rc, &io, errbuf, (int64_t)(moat_realtime_ms() / 1000), r);
    } else {
        moat_strlcpy(r->error, "libcurl refused an option", sizeof(r->error));
    }
    curl_easy_reset(h); /* drops the pointers into this frame */
    curl_slist_free_all(headers);
    curl_slist_free_all(resolve);
    return 0;
}
