/*
 * Callback URLs as submitted: parsed by libcurl's URL API (the parser the
 * delivery itself uses, so that the check and the connection agree on the
 * host), then held to moat's rules. A host name is only checked at
 * delivery, when it is resolved: a name's addresses can change after
 * submission, so the delivery's own lookup is the one that counts.
 */
#include <curl/curl.h>

#include "moat/notify.h"
#include "moat/util.h"

#define F "callbackUrl"

static void cleanup_url(CURLU **u)
{
    curl_url_cleanup(*u);
}

static void cleanup_curl_str(char **s)
{
    curl_free(*s);
}

/* Part p of u, or NULL when absent. */
static char *part(CURLU *u, CURLUPart p)
{
    char *v = NULL;
    if (curl_url_get(u, p, &v, 0) != CURLUE_OK)
        return NULL;
    return v;
}

static int check_parts(CURLU *u, struct notify_url *nu, struct moat_err *err)
{
    __attribute__((cleanup(cleanup_curl_str))) char *scheme = part(u, CURLUPART_SCHEME);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        return moat_err_field(err, -EINVAL, F, "only http and https URLs are delivered to");
    nu->https = strcmp(scheme, "https") == 0;
    __attribute__((cleanup(cleanup_curl_str))) char *user = part(u, CURLUPART_USER);
    __attribute__((cleanup(cleanup_curl_str))) char *frag = part(u, CURLUPART_FRAGMENT);
    if (user)
        return moat_err_field(err, -EINVAL, F, "a URL with user information is refused");
    if (frag)
        return moat_err_field(err, -EINVAL, F, "a URL with a fragment is refused");
    __attribute__((cleanup(cleanup_curl_str))) char *host = part(u, CURLUPART_HOST);
    if (!host || !host[0])
        return moat_err_field(err, -EINVAL, F, "the URL has no host");
    size_t hl = strlen(host);
    if (host[0] == '[') { /* an IPv6 literal: brackets off; a zone id is refused */
        if (hl < 3 || host[hl - 1] != ']' || strchr(host, '%'))
            return moat_err_field(err, -EINVAL, F, "bad IPv6 address in the URL");
        host[hl - 1] = '\0';
        memmove(host, host + 1, hl - 1);
    }
    if (moat_strlcpy(nu->host, host, sizeof(nu->host)) >= sizeof(nu->host))
        return moat_err_field(err, -EINVAL, F, "the URL's host name is too long");
    __attribute__((cleanup(cleanup_curl_str))) char *port = part(u, CURLUPART_PORT);
    uint64_t pn = nu->https ? 443 : 80;
    if (port && parse_u64(port, 1, 65535, &pn) < 0)
        return moat_err_field(err, -EINVAL, F, "bad port in the URL");
    nu->port = (unsigned)pn;
    return 0;
}

int notify_url_check(const char *url, const struct notify_allow *al, struct notify_url *out,
                     struct moat_err *err)
{
    if (!url || !url[0])
        return moat_err_field(err, -EINVAL, F, "must be an http or https URL");
    size_t n = strlen(url);
    if (n > JOB_CALLBACK_URL_MAX)
        return moat_err_field(err, -EINVAL, F, "longer than %d bytes", JOB_CALLBACK_URL_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return moat_err_field(err, -EINVAL, F,
                                  "spaces, control and non-ASCII bytes must be percent-encoded");
    __attribute__((cleanup(cleanup_url))) CURLU *u = curl_url();
    if (!u)
        return moat_err_set(err, -ENOMEM, "out of memory");
    /* no guessing of a scheme: "example.com/x" is not a URL here */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        return moat_err_field(err, -EINVAL, F, "not a valid URL");
    struct notify_url nu = {0};
    int r = check_parts(u, &nu, err);
    if (r < 0)
        return r;
    nu.literal = notify_addr_parse(nu.host, &nu.addr) == 0;
    if (nu.literal) {
        enum notify_addr_class c = notify_addr_check(al, &nu.addr);
        if (c != NOTIFY_ADDR_OK)
            return moat_err_field(err, -EINVAL, F, "callbacks to %s addresses are refused",
                                  notify_addr_class_name(c));
    }
    if (out)
        *out = nu;
    return 0;
}
