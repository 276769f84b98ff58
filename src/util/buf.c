/* Bounded growable buffer: every user-controlled size has a ceiling. */
#include "moat/util.h"

void buf_init(struct buf *b, size_t max)
{
    *b = (struct buf){.max = max};
}

void buf_release(struct buf *b)
{
    free(b->data);
    *b = (struct buf){.max = b->max};
}

static int buf_reserve(struct buf *b, size_t extra)
{
    size_t need;
    /* +1 keeps room for a terminating NUL without counting it in len. */
    if (!size_add(b->len, extra, &need) || need > b->max || !size_add(need, 1, &need))
        return -ENOBUFS;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        if (!size_mul(cap, 2, &cap))
            return -ENOBUFS;
    size_t ceiling;
    if (size_add(b->max, 1, &ceiling) && cap > ceiling)
        cap = ceiling;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    int r = buf_reserve(b, len);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    int r = buf_reserve(b, (size_t)n);
    if (r < 0)
        return r;
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int buf_terminate(struct buf *b)
{
    int r = buf_reserve(b, 0);
    if (r < 0)
        return r;
    b->data[b->len] = '\0';
    return 0;
}

char *buf_steal(struct buf *b, size_t *len)
{
    if (buf_terminate(b) < 0)
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    *b = (struct buf){.max = b->max};
    return p;
}
