/* String helpers that replace the banned ones. */
#include "moat/util.h"

#include <errno.h>
#include <string.h>

size_t moat_strlcpy(char *dst, const char *src, size_t dstsize)
{
    size_t n = strlen(src);
    if (dstsize) {
        size_t c = n < dstsize - 1 ? n : dstsize - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

char *moat_strdup(const char *s)
{
    char *p = strdup(s);
    MOAT_ASSERT(p != NULL);
    return p;
}

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *moat_memdup0(const void *data, size_t len)
{
    size_t n;
    if (!size_add(len, 1, &n))
        return NULL;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, data, len);
    p[len] = '\0';
    return p;
}

int str_split(const char *list, char sep, char *buf, size_t size, const char **items, int max)
{
    if (moat_strlcpy(buf, list, size) >= size)
        return -EINVAL;
    int n = 0;
    char *p = buf;
    while (p) {
        char *next = strchr(p, sep);
        if (next)
            *next++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            p[--len] = '\0';
        if (len) {
            if (n == max)
                return -E2BIG;
            items[n++] = p;
        }
        p = next;
    }
    return n ? n : -EINVAL;
}
