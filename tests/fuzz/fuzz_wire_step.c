/*
 * The wire format between the host side of a box and its init. Box init
 * runs next to hostile processes, so the host must survive any result
 * message, and box init any step message. Each input is decoded both as a
 * step and as a result: a decode either fails cleanly (-EPROTO, nothing
 * left allocated) or yields pointers inside the input only, and what it
 * yields encodes and decodes back to the same thing. A result's collected
 * files only ever carry names the host accepts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/box-internal.h"

#include "fuzz.h"

static bool inside(const void *p, size_t len, const uint8_t *data, size_t size)
{
    const uint8_t *b = p;
    return b >= data && b <= data + size && len <= (size_t)(data + size - b);
}

static void check_strv(char **v, const uint8_t *data, size_t size)
{
    CHECK(v != NULL);
    for (size_t i = 0; v[i]; i++) {
        CHECK(i < 65536);
        CHECK(inside(v[i], 1, data, size));
        size_t n = strnlen(v[i], (size_t)(data + size - (const uint8_t *)v[i]));
        CHECK(inside(v[i], n + 1, data, size)); /* NUL-terminated inside */
    }
}

static bool same_strv(char **a, char **b)
{
    size_t i = 0;
    for (; a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return !a[i] && !b[i];
}

static bool same_limits(const struct sbx_limits *a, const struct sbx_limits *b)
{
    return a->cpu_ms == b->cpu_ms && a->wall_ms == b->wall_ms &&
           a->memory_bytes == b->memory_bytes && a->max_procs == b->max_procs &&
           a->output_bytes == b->output_bytes && a->file_bytes == b->file_bytes &&
           a->open_files == b->open_files && a->stack_bytes == b->stack_bytes;
}

static bool same_step(const struct wire_step *a, const struct wire_step *b)
{
    if (!same_limits(&a->limits, &b->limits) || !same_strv(a->argv, b->argv) ||
        !same_strv(a->envp, b->envp) || a->stdin_len != b->stdin_len ||
        memcmp(a->stdin_data, b->stdin_data, a->stdin_len) != 0 || a->nfiles != b->nfiles ||
        a->collect != b->collect || a->collect_max_bytes != b->collect_max_bytes)
        return false;
    for (size_t i = 0; i < a->nfiles; i++) {
        const struct sbx_file *x = &a->files[i], *y = &b->files[i];
        if (strcmp(x->name, y->name) != 0 || x->executable != y->executable || x->len != y->len ||
            memcmp(x->data, y->data, x->len) != 0)
            return false;
    }
    return true;
}

static void encode(const struct wire_step *s, struct buf *b)
{
    struct sbx_step st = {.argv = (const char *const *)s->argv,
                          .envp = (const char *const *)s->envp,
                          .limits = s->limits,
                          .stdin_data = s->stdin_data,
                          .stdin_len = s->stdin_len,
                          .files = s->files,
                          .nfiles = s->nfiles,
                          .collect = s->collect,
                          .collect_max_bytes = s->collect_max_bytes};
    buf_init(b, WIRE_MAX_PAYLOAD);
    CHECK(wire_put_step(b, &st) == 0);
}

static void check_step(const uint8_t *data, size_t size)
{
    struct wire_reader rd = {.p = (const char *)data, .left = size};
    struct wire_step s;
    memset(&s, 0x5a, sizeof s);
    int r = wire_get_step(&rd, &s);
    if (r < 0) {
        CHECK(r == -EPROTO);
        CHECK(!s.argv && !s.envp && !s.files && s.nfiles == 0);
        return;
    }
    CHECK(r == 0 && !rd.bad && rd.left <= size);
    check_strv(s.argv, data, size);
    CHECK(s.argv[0] != NULL);
    check_strv(s.envp, data, size);
    CHECK(inside(s.stdin_data, s.stdin_len, data, size));
    CHECK(s.files != NULL && s.nfiles <= 4096);
    CHECK(s.collect || s.collect_max_bytes == 0);
    for (size_t i = 0; i < s.nfiles; i++) {
        const struct sbx_file *f = &s.files[i];
        CHECK(f->name && inside(f->name, strlen(f->name) + 1, data, size));
        CHECK(inside(f->data, f->len, data, size));
    }

    /* Once through the decoder, an encoding is canonical: encode, decode,
     * encode again gives the same bytes and the same step. */
    struct buf b1, b2;
    encode(&s, &b1);
    char *copy = malloc(b1.len ? b1.len : 1);
    CHECK(copy);
    memcpy(copy, b1.data, b1.len);
    struct wire_reader rd2 = {.p = copy, .left = b1.len};
    struct wire_step s2;
    CHECK(wire_get_step(&rd2, &s2) == 0);
    CHECK(rd2.left == 0);
    CHECK(same_step(&s, &s2));
    encode(&s2, &b2);
    CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    buf_release(&b1);
    buf_release(&b2);
    wire_step_release(&s2);
    free(copy);
    wire_step_release(&s);
    CHECK(!s.argv && !s.envp && !s.files);
}

static void check_result(const uint8_t *data, size_t size)
{
    struct wire_reader rd = {.p = (const char *)data, .left = size};
    struct sbx_result res;
    sbx_result_init(&res);
    int r = wire_get_result(&rd, &res);
    if (r < 0) {
        CHECK(r == -EPROTO || r == -ENOMEM);
        sbx_result_release(&res);
        return;
    }
    CHECK(r == 0 && !rd.bad);
    CHECK((unsigned)res.verdict < SBX_VERDICT_MAX_);
    CHECK(res.out.len <= size && res.err.len <= size);
    CHECK(memchr(res.message, '\0', sizeof res.message) != NULL);
    /* collected files: only names the host accepts, unique, within bounds */
    CHECK(res.ncollected <= SBX_COLLECT_MAX_FILES);
    CHECK(!res.collect_overflow || res.ncollected == 0);
    CHECK((res.ncollected == 0) == (res.collected == NULL));
    for (size_t i = 0; i < res.ncollected; i++) {
        const struct sbx_collected *c = &res.collected[i];
        CHECK(c->name && sbx_file_name_ok(c->name) && c->data && c->len <= size);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(res.collected[j].name, c->name) != 0);
    }

    struct buf b;
    buf_init(&b, WIRE_MAX_PAYLOAD);
    CHECK(wire_put_result(&b, &res) == 0);
    struct wire_reader rd2 = {.p = b.data, .left = b.len};
    struct sbx_result back;
    sbx_result_init(&back);
    CHECK(wire_get_result(&rd2, &back) == 0);
    CHECK(rd2.left == 0);
    CHECK(back.verdict == res.verdict && back.exit_code == res.exit_code &&
          back.signal == res.signal && back.cpu_us == res.cpu_us && back.wall_us == res.wall_us &&
          back.memory_kb == res.memory_kb);
    CHECK(back.cpu_exceeded == res.cpu_exceeded && back.wall_exceeded == res.wall_exceeded &&
          back.oom_killed == res.oom_killed && back.output_exceeded == res.output_exceeded &&
          back.out_truncated == res.out_truncated && back.err_truncated == res.err_truncated);
    CHECK(back.out.len == res.out.len && back.err.len == res.err.len);
    CHECK(!res.out.len || memcmp(back.out.data, res.out.data, res.out.len) == 0);
    CHECK(!res.err.len || memcmp(back.err.data, res.err.data, res.err.len) == 0);
    CHECK(strcmp(back.message, res.message) == 0);
    CHECK(back.collect_overflow == res.collect_overflow &&
          back.collect_skipped == res.collect_skipped && back.ncollected == res.ncollected);
    for (size_t i = 0; i < res.ncollected; i++) {
        const struct sbx_collected *x = &res.collected[i], *y = &back.collected[i];
        CHECK(strcmp(x->name, y->name) == 0 && x->executable == y->executable && x->len == y->len &&
              (!x->len || memcmp(x->data, y->data, x->len) == 0));
    }
    /* the streams' order: whole entries within the streams' bytes */
    CHECK(res.order.len % 4 == 0 && res.order.len <= (size_t)SBX_ORDER_MAX * 4);
    CHECK(back.order.len == res.order.len &&
          (!res.order.len || memcmp(back.order.data, res.order.data, res.order.len) == 0));
    sbx_result_release(&back);
    buf_release(&b);
    sbx_result_release(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_step(data, size);
    check_result(data, size);
    return 0;
}
