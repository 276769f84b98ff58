/*
 * Base64 (RFC 4648 section 4), strict: the standard alphabet only, padding
 * required, no whitespace or line breaks, and the unused bits of the last
 * quantum must be zero (section 3.5), so every byte string has exactly one
 * accepted encoding.
 */
#include "moat/util.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of c in the alphabet, or -1. */
static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int moat_base64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
    if (len % 4 != 0 || (len && !in))
        return -EINVAL;
    size_t pad = 0;
    if (len >= 4 && in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    size_t n = len / 4 * 3 - pad;
    char *buf = malloc(n + 1);
    if (!buf)
        return -ENOMEM;

    int rc = -EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        /* '=' only in the last quantum, and only in its padding positions */
        size_t nchars = last ? 4 - pad : 4;
        uint32_t q = 0;
        for (size_t k = 0; k < 4; k++) {
            int v = 0;
            if (k < nchars) {
                v = b64_value(in[i + k]);
                if (v < 0)
                    goto out;
            }
            q = (q << 6) | (uint32_t)v;
        }
        if (last && ((pad == 1 && (q & 0xffu)) || (pad == 2 && (q & 0xffffu))))
            goto out; /* non-zero bits under the padding */
        buf[o++] = (char)(q >> 16);
        if (nchars > 2)
            buf[o++] = (char)((q >> 8) & 0xffu);
        if (nchars > 3)
            buf[o++] = (char)(q & 0xffu);
    }
    MOAT_ASSERT(o == n);
    buf[n] = '\0';
    *out = TAKE_PTR(buf);
    *outlen = n;
    rc = 0;
out:
    free(buf);
    return rc;
}

char *moat_base64_encode(const void *data, size_t len, size_t *outlen)
{
    const unsigned char *p = data;
    size_t n;
    if (!size_mul((len + 2) / 3, 4, &n) || n == SIZE_MAX)
        return NULL;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t q = (uint32_t)p[i] << 16;
        if (left > 1)
            q |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            q |= p[i + 2];
        s[o++] = b64_alphabet[(q >> 18) & 63u];
        s[o++] = b64_alphabet[(q >> 12) & 63u];
        s[o++] = left > 1 ? b64_alphabet[(q >> 6) & 63u] : '=';
        s[o++] = left > 2 ? b64_alphabet[q & 63u] : '=';
    }
    s[o] = '\0';
    if (outlen)
        *outlen = o;
    return s;
}
