/*
 * The signature of a delivery, the wait before the next attempt, and what
 * an answer means. Pure.
 *
 * Signature: HMAC-SHA256 over "<t>.<body>", t the Unix second the attempt
 * was sent. The timestamp is inside the signed bytes, so a receiver that
 * refuses a t older than a few minutes cannot be fed a captured delivery
 * again (replay), and it is the same scheme as Stripe's, which receivers'
 * libraries already verify.
 */
#include <math.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <time.h>

#include "moat/notify.h"
#include "moat/util.h"

int notify_signature(const char *secret, int64_t t, const char *body, size_t len,
                     char out[NOTIFY_SIGNATURE_MAX])
{
    char ts[24];
    int tn = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
    if (tn < 0 || (size_t)tn >= sizeof(ts))
        return -EINVAL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mlen = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *h = m ? EVP_MAC_CTX_new(m) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    /* an empty key is valid HMAC; OpenSSL wants a non-NULL pointer for it */
    static const unsigned char empty[1];
    size_t klen = strlen(secret);
    bool ok = h &&
              EVP_MAC_init(h, klen ? (const unsigned char *)secret : empty, klen, params) == 1 &&
              EVP_MAC_update(h, (const unsigned char *)ts, (size_t)tn) == 1 &&
              (len == 0 || EVP_MAC_update(h, (const unsigned char *)body, len) == 1) &&
              EVP_MAC_final(h, mac, &mlen, sizeof(mac)) == 1;
    EVP_MAC_CTX_free(h);
    EVP_MAC_free(m);
    if (!ok || mlen != 32)
        return -ENOMEM;
    int n = snprintf(out, NOTIFY_SIGNATURE_MAX, "t=%lld,v1=", (long long)t);
    if (n < 0 || (size_t)n + 2 * mlen >= NOTIFY_SIGNATURE_MAX)
        return -EINVAL;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < mlen; i++) {
        out[n++] = hex[mac[i] >> 4];
        out[n++] = hex[mac[i] & 15];
    }
    out[n] = '\0';
    return 0;
}

uint64_t notify_backoff_ms(uint64_t base_ms, uint64_t max_ms, uint32_t n, double jitter)
{
    uint64_t d = base_ms;
    for (uint32_t i = 1; i < n && d < max_ms; i++)
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    if (d > max_ms)
        d = max_ms;
    if (!(jitter >= 0.5 && jitter <= 1.0)) /* also NaN */
        jitter = 1.0;
    /* what jitter takes off is at most half of d: in range as a double,
     * where d * jitter itself could round past UINT64_MAX */
    double off = (double)d * (1.0 - jitter);
    uint64_t cut = off >= (double)(d / 2) ? d / 2 : (uint64_t)llround(off);
    return d - cut;
}

int notify_retry_after_ms(const char *value, int64_t now_s, uint64_t *ms)
{
    if (!value)
        return -EINVAL;
    while (*value == ' ')
        value++;
    uint64_t s;
    if (parse_u64(value, 0, 86400 * 365, &s) == 0) {
        *ms = s * 1000;
        return 0;
    }
    struct tm tm = {0};
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -EINVAL;
    int64_t at = (int64_t)timegm(&tm);
    *ms = at > now_s ? (uint64_t)(at - now_s) * 1000 : 0;
    return 0;
}

enum notify_verdict notify_verdict_of(long status)
{
    if (status >= 200 && status <= 299)
        return NOTIFY_DELIVERED;
    if (status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599))
        return NOTIFY_RETRY;
    return NOTIFY_FAIL;
}
