/*
 * The pure decisions of auth.c, unit-tested and fuzzed on their own: who
 * a caller is, whether anonymous callers are served, the open routes,
 * allowed origins and languages, and the jobs-per-minute bucket.
 */
#include <arpa/inet.h>
#include <string.h>

#include "auth.h"

#include "moat/config.h"

bool api_listen_loopback(const char *listen)
{
    char host[128];
    moat_strlcpy(host, listen, sizeof(host));
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    char *h = host;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h[n - 1] = '\0';
        h++;
    }
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, h, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return false; /* "" (every address) and anything else */
}

bool api_anonymous_ok(const struct moat_config *cfg, bool loopback, size_t live_keys)
{
    return cfg->allow_anonymous || (loopback && !cfg->require_keys && live_keys == 0);
}

enum api_caller api_auth_decide(bool given, bool found, bool malformed, bool anonymous_ok,
                                bool any_keys)
{
    /* no key exists: credentials cannot be checked and are ignored, as
     * Judge0 ignores X-Auth-Token without AUTHN_TOKEN (clients configured
     * for another server keep working) */
    if (!any_keys && anonymous_ok)
        return API_CALLER_ANONYMOUS;
    if (malformed || (given && !found))
        return API_CALLER_INVALID;
    if (given)
        return API_CALLER_KEYED;
    return anonymous_ok ? API_CALLER_ANONYMOUS : API_CALLER_MISSING;
}

const char *api_bearer_token(const char *authorization)
{
    /* RFC 9110: the scheme is case-insensitive, then one or more spaces */
    static const char scheme[] = "bearer";
    for (size_t i = 0; i < sizeof(scheme) - 1; i++)
        if ((authorization[i] | 0x20) != scheme[i])
            return NULL;
    const char *t = authorization + sizeof(scheme) - 1;
    if (*t != ' ')
        return NULL;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    if (n == 0 || strchr(t, ' '))
        return NULL;
    return t;
}

bool api_open_path(const char *url)
{
    return strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
           strcmp(url, "/metrics") == 0;
}

/* Whether item is one of the comma-separated list's entries (spaces
 * around entries ignored); "*" matches anything when star. */
static bool in_list(const char *list, const char *item, bool star)
{
    size_t len = strlen(item);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        size_t n = (size_t)(last - p);
        if ((star && n == 1 && *p == '*') || (n && n == len && strncmp(p, item, n) == 0))
            return true;
        p = end;
    }
    return false;
}

bool api_origin_allowed(const char *list, const char *origin)
{
    return in_list(list, origin, true);
}

bool api_language_allowed(const char *list, const char *lang)
{
    return !list[0] || in_list(list, lang, false);
}

static uint64_t ceil_s(int64_t us)
{
    return us <= 0 ? 0 : (uint64_t)((us + 999999) / 1000000);
}

bool api_rate_take(int64_t *tat_us, uint64_t per_minute, int64_t now_us, struct api_rate *out)
{
    /* one job every t us, a burst of per_minute at most: tau is how far
     * ahead of now the theoretical arrival time may run */
    int64_t t = (int64_t)(60000000 / per_minute), tau = 60000000 - t;
    int64_t tat = *tat_us > now_us ? *tat_us : now_us;
    *out = (struct api_rate){.limit = per_minute};
    if (tat - now_us > tau) {
        out->reset_s = ceil_s(tat - now_us);
        out->retry_after_s = ceil_s(tat - now_us - tau);
        if (out->retry_after_s == 0)
            out->retry_after_s = 1;
        return false;
    }
    *tat_us = tat + t;
    int64_t ahead = *tat_us - now_us;
    out->remaining = ahead > tau ? 0 : (uint64_t)((tau - ahead) / t) + 1;
    out->reset_s = ceil_s(ahead);
    return true;
}
