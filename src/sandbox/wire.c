/*
 * The wire format between the host side of a box and its init. Both ends
 * are moat, but box init runs next to hostile processes, so every decode is
 * bounds-checked and a malformed message is an error, never a crash.
 */
#include "box-internal.h"

#include <endian.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct wire_header {
    uint32_t type;
    uint32_t zero;
    uint64_t len;
};

/* Header and payload go in one sendmsg where the socket takes them: the
 * reader is woken once per message, not once per part. */
int wire_send(int fd, enum wire_type type, const void *payload, size_t len)
{
    struct wire_header h = {.type = (uint32_t)type, .len = len};
    struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
                           {.iov_base = (void *)payload, .iov_len = len}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t n;
    do
        n = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    size_t sent = (size_t)n;
    if (sent < sizeof(h)) {
        int r = send_full(fd, (const char *)&h + sent, sizeof(h) - sent);
        if (r < 0)
            return r;
        sent = sizeof(h);
    }
    size_t done = sent - sizeof(h);
    return done < len ? send_full(fd, (const char *)payload + done, len - done) : 0;
}

/*
 * Waits in poll, not in read: a reader blocked in read(2) on a Unix stream
 * socket sleeps on the same queue as a blocked writer, and the peer's read
 * of what this side sent wakes it for nothing (the write-space wake-up of
 * the socket it sent on). poll's wait is keyed: only data or a hang-up
 * wakes it. Seen as box init waking the host ~20 us after each step was
 * sent.
 */
static int wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int wire_recv(int fd, enum wire_type *type, char **payload, size_t *len)
{
    struct wire_header h = {0};
    int r = wait_readable(fd);
    if (r == 0)
        r = read_full(fd, &h, sizeof(h));
    if (r < 0)
        return r;
    if (h.zero != 0 || h.len > WIRE_MAX_PAYLOAD)
        return -EPROTO;
    char *p = malloc(h.len ? (size_t)h.len : 1);
    if (!p)
        return -ENOMEM;
    r = read_full(fd, p, (size_t)h.len);
    if (r < 0) {
        free(p);
        return r;
    }
    *type = (enum wire_type)h.type;
    *payload = p;
    *len = (size_t)h.len;
    return 0;
}

int wire_put_u64(struct buf *b, uint64_t v)
{
    return buf_append(b, &v, sizeof(v));
}

int wire_put_bytes(struct buf *b, const void *data, size_t len)
{
    int r = wire_put_u64(b, len);
    return r < 0 ? r : buf_append(b, data, len);
}

int wire_put_str(struct buf *b, const char *s)
{
    return wire_put_bytes(b, s, strlen(s) + 1);
}

uint64_t wire_get_u64(struct wire_reader *r)
{
    uint64_t v = 0;
    if (r->bad || r->left < sizeof(v)) {
        r->bad = true;
        return 0;
    }
    memcpy(&v, r->p, sizeof(v));
    r->p += sizeof(v);
    r->left -= sizeof(v);
    return v;
}

const char *wire_get_bytes(struct wire_reader *r, size_t *len)
{
    uint64_t n = wire_get_u64(r);
    if (r->bad || n > r->left) {
        r->bad = true;
        *len = 0;
        return NULL;
    }
    const char *p = r->p;
    r->p += n;
    r->left -= (size_t)n;
    *len = (size_t)n;
    return p;
}

const char *wire_get_str(struct wire_reader *r)
{
    size_t n;
    const char *p = wire_get_bytes(r, &n);
    if (!p || n == 0 || p[n - 1] != '\0' || memchr(p, '\0', n - 1)) {
        r->bad = true;
        return NULL;
    }
    return p;
}

static int put_limits(struct buf *b, const struct sbx_limits *l)
{
    const uint64_t v[] = {l->cpu_ms,      l->wall_ms,      l->memory_bytes, l->max_procs,
                          l->output_bytes, l->file_bytes, l->open_files,   l->stack_bytes};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(v); i++) {
        int r = wire_put_u64(b, v[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static void get_limits(struct wire_reader *r, struct sbx_limits *l)
{
    l->cpu_ms = wire_get_u64(r);
    l->wall_ms = wire_get_u64(r);
    l->memory_bytes = wire_get_u64(r);
    l->max_procs = (uint32_t)wire_get_u64(r);
    l->output_bytes = wire_get_u64(r);
    l->file_bytes = wire_get_u64(r);
    l->open_files = (uint32_t)wire_get_u64(r);
    l->stack_bytes = wire_get_u64(r);
}

static int put_strv(struct buf *b, const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    int r = wire_put_u64(b, n);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = wire_put_str(b, v[i]);
    return r;
}

/* NULL-terminated array of pointers into the payload; caller frees the array. */
static char **get_strv(struct wire_reader *r)
{
    uint64_t n = wire_get_u64(r);
    if (r->bad || n > 65536) {
        r->bad = true;
        return NULL;
    }
    char **v = calloc((size_t)n + 1, sizeof(*v));
    if (!v) {
        r->bad = true;
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++) {
        const char *s = wire_get_str(r);
        if (!s) {
            free(v);
            return NULL;
        }
        v[i] = (char *)s; /* the payload outlives the decoded step */
    }
    return v;
}

int wire_put_step(struct buf *b, const struct sbx_step *s)
{
    int r = put_limits(b, &s->limits);
    if (r == 0)
        r = put_strv(b, s->argv);
    if (r == 0)
        r = put_strv(b, s->envp);
    if (r == 0)
        r = wire_put_bytes(b, s->stdin_data ? s->stdin_data : "", s->stdin_len);
    if (r == 0)
        r = wire_put_u64(b, s->last);
    if (r == 0)
        r = wire_put_u64(b, s->nfiles);
    for (size_t i = 0; r == 0 && i < s->nfiles; i++) {
        r = wire_put_str(b, s->files[i].name);
        if (r == 0)
            r = wire_put_u64(b, s->files[i].executable);
        if (r == 0)
            r = wire_put_bytes(b, s->files[i].data, s->files[i].len);
    }
    if (r == 0)
        r = wire_put_u64(b, s->collect);
    if (r == 0)
        r = wire_put_u64(b, s->collect ? s->collect_max_bytes : 0);
    return r;
}

int wire_get_step(struct wire_reader *r, struct wire_step *s)
{
    *s = (struct wire_step){0};
    get_limits(r, &s->limits);
    s->argv = get_strv(r);
    s->envp = get_strv(r);
    s->stdin_data = wire_get_bytes(r, &s->stdin_len);
    s->last = wire_get_u64(r) != 0;
    uint64_t n = wire_get_u64(r);
    if (!r->bad && n <= 4096) {
        s->files = calloc((size_t)n + 1, sizeof(*s->files));
        s->nfiles = s->files ? (size_t)n : 0;
        for (size_t i = 0; s->files && i < s->nfiles; i++) {
            s->files[i].name = wire_get_str(r);
            s->files[i].executable = wire_get_u64(r) != 0;
            s->files[i].data = wire_get_bytes(r, &s->files[i].len);
        }
    } else {
        r->bad = true;
    }
    s->collect = wire_get_u64(r) != 0;
    s->collect_max_bytes = wire_get_u64(r);
    if (!s->collect)
        s->collect_max_bytes = 0; /* one encoding per step */
    if (r->bad || !s->argv || !s->argv[0] || !s->envp || !s->files) {
        wire_step_release(s);
        return -EPROTO;
    }
    return 0;
}

void wire_step_release(struct wire_step *s)
{
    free(s->argv);
    free(s->envp);
    free(s->files);
    *s = (struct wire_step){0};
}

int wire_put_result(struct buf *b, const struct sbx_result *res)
{
    const uint64_t v[] = {(uint64_t)res->verdict,
                          (uint64_t)(int64_t)res->exit_code,
                          (uint64_t)(int64_t)res->signal,
                          res->cpu_us,
                          res->wall_us,
                          res->memory_kb,
                          (uint64_t)res->cpu_exceeded | (uint64_t)res->wall_exceeded << 1 |
                              (uint64_t)res->oom_killed << 2 |
                              (uint64_t)res->output_exceeded << 3 |
                              (uint64_t)res->out_truncated << 4 |
                              (uint64_t)res->err_truncated << 5};
    int r = 0;
    for (size_t i = 0; r == 0 && i < MOAT_ARRAY_SIZE(v); i++)
        r = wire_put_u64(b, v[i]);
    if (r == 0)
        r = wire_put_bytes(b, res->out.data ? res->out.data : "", res->out.len);
    if (r == 0)
        r = wire_put_bytes(b, res->err.data ? res->err.data : "", res->err.len);
    if (r == 0)
        r = wire_put_str(b, res->message);
    if (r == 0)
        r = wire_put_u64(b, (uint64_t)res->collect_overflow | (uint64_t)res->collect_skipped << 1);
    if (r == 0)
        r = wire_put_u64(b, res->ncollected);
    for (size_t i = 0; r == 0 && i < res->ncollected; i++) {
        const struct sbx_collected *c = &res->collected[i];
        r = wire_put_str(b, c->name);
        if (r == 0)
            r = wire_put_u64(b, c->executable);
        if (r == 0)
            r = wire_put_bytes(b, c->data ? c->data : "", c->len);
    }
    if (r == 0)
        r = wire_put_bytes(b, res->order.data ? res->order.data : "", res->order.len);
    return r;
}

/* The collected files of a result. Box init is moat, but it runs next to
 * the hostile program: the host copies only names it checked itself
 * (sbx_file_name_ok, unique) and at most SBX_COLLECT_MAX_FILES of them;
 * their sizes are bounded by the message, which is bounded by
 * WIRE_MAX_PAYLOAD. */
static int get_collected(struct wire_reader *r, struct sbx_result *res)
{
    uint64_t flags = wire_get_u64(r);
    uint64_t n = wire_get_u64(r);
    if (r->bad || flags > 3 || n > SBX_COLLECT_MAX_FILES || ((flags & 1) && n)) {
        r->bad = true;
        return -EPROTO;
    }
    res->collect_overflow = flags & 1;
    res->collect_skipped = flags & 2;
    if (n == 0)
        return 0;
    res->collected = calloc((size_t)n, sizeof(*res->collected));
    if (!res->collected)
        return -ENOMEM;
    for (size_t i = 0; i < (size_t)n; i++) {
        const char *name = wire_get_str(r);
        uint64_t exec = wire_get_u64(r);
        size_t len;
        const char *data = wire_get_bytes(r, &len);
        if (r->bad || !name || !data || exec > 1 || !sbx_file_name_ok(name)) {
            r->bad = true;
            return -EPROTO;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(res->collected[j].name, name) == 0) {
                r->bad = true;
                return -EPROTO;
            }
        }
        struct sbx_collected *c = &res->collected[i];
        c->name = strdup(name);
        c->data = malloc(len ? len : 1);
        if (!c->name || !c->data) {
            free(c->name);
            free(c->data);
            *c = (struct sbx_collected){0};
            return -ENOMEM;
        }
        memcpy(c->data, data, len);
        c->len = len;
        c->executable = exec != 0;
        res->ncollected = i + 1;
    }
    return 0;
}

/* The streams' order: whole entries, at most SBX_ORDER_MAX, counting no
 * more bytes of a stream than the result holds (box init runs next to the
 * hostile program: the host checks what it is told). */
static int get_order(struct wire_reader *r, struct sbx_result *res)
{
    size_t n;
    const char *p = wire_get_bytes(r, &n);
    if (r->bad || !p || n % 4 || n > (size_t)SBX_ORDER_MAX * 4) {
        r->bad = true;
        return -EPROTO;
    }
    uint64_t sum[2] = {0, 0};
    for (size_t i = 0; i < n; i += 4) {
        uint32_t e;
        memcpy(&e, p + i, 4);
        e = le32toh(e);
        sum[(e & SBX_ORDER_STDERR) ? 1 : 0] += e & ~SBX_ORDER_STDERR;
    }
    if (sum[0] > res->out.len || sum[1] > res->err.len) {
        r->bad = true;
        return -EPROTO;
    }
    return n && buf_append(&res->order, p, n) < 0 ? -ENOMEM : 0;
}

int wire_get_result(struct wire_reader *r, struct sbx_result *res)
{
    uint64_t verdict = wire_get_u64(r);
    res->verdict = verdict < SBX_VERDICT_MAX_ ? (enum sbx_verdict)verdict
                                              : SBX_VERDICT_INTERNAL_ERROR;
    res->exit_code = (int)(int64_t)wire_get_u64(r);
    res->signal = (int)(int64_t)wire_get_u64(r);
    res->cpu_us = wire_get_u64(r);
    res->wall_us = wire_get_u64(r);
    res->memory_kb = wire_get_u64(r);
    uint64_t f = wire_get_u64(r);
    res->cpu_exceeded = f & 1;
    res->wall_exceeded = f & 2;
    res->oom_killed = f & 4;
    res->output_exceeded = f & 8;
    res->out_truncated = f & 16;
    res->err_truncated = f & 32;
    size_t n;
    const char *p = wire_get_bytes(r, &n);
    if (p && buf_append(&res->out, p, n) < 0)
        return -ENOMEM;
    p = wire_get_bytes(r, &n);
    if (p && buf_append(&res->err, p, n) < 0)
        return -ENOMEM;
    const char *msg = wire_get_str(r);
    if (r->bad || !msg)
        return -EPROTO;
    moat_strlcpy(res->message, msg, sizeof(res->message));
    int e = get_collected(r, res);
    return e < 0 ? e : get_order(r, res);
}
