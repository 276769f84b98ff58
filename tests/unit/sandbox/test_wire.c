/*
 * The wire format between the host side of a box and its init: step and
 * result round trips with every field set, every truncation of a valid
 * message, hostile counts, lengths and strings, the files a step hands back
 * (names the host refuses, counts, the host's own check against the step it
 * sent), and the framing over a socket. Each decode reads from a heap copy of exactly the message's
 * length, so ASan sees any read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <sys/wait.h>

#include "box-internal.h"

static const char stdin_bytes[] = "line one\n\0binary\xff\x00tail";
static const char file_a[] = "int main(void) { return 0; }\n";
static const char file_b[] = "\x7f"
                             "ELF\0\0\0\x01";

static const char *const argv_in[] = {"/usr/bin/python3", "-c", "", "arg with spaces", NULL};
static const char *const envp_in[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};

static const struct sbx_file files_in[] = {
    {.name = "main.c", .data = file_a, .len = sizeof file_a - 1},
    {.name = "bin/tool", .data = file_b, .len = sizeof file_b - 1, .executable = true},
    {.name = "empty", .data = "", .len = 0},
};

static struct sbx_step full_step(void)
{
    return (struct sbx_step){
        .argv = argv_in,
        .envp = envp_in,
        .limits = {.cpu_ms = 1,
                   .wall_ms = 2,
                   .memory_bytes = 3ull << 40,
                   .max_procs = 4,
                   .output_bytes = 5,
                   .file_bytes = 6,
                   .open_files = UINT32_MAX,
                   .stack_bytes = UINT64_MAX},
        .stdin_data = stdin_bytes,
        .stdin_len = sizeof stdin_bytes - 1,
        .files = files_in,
        .nfiles = MOAT_ARRAY_SIZE(files_in),
        .collect = true,
        .collect_max_bytes = (64ull << 20) + 7,
    };
}

/* Heap copy of exactly len bytes. */
static char *exact(const void *p, size_t len)
{
    char *c = malloc(len ? len : 1);
    assert_non_null(c);
    if (len)
        memcpy(c, p, len);
    return c;
}

static void encode_step(const struct sbx_step *s, struct buf *b)
{
    buf_init(b, WIRE_MAX_PAYLOAD);
    assert_int_equal(wire_put_step(b, s), 0);
}

static void assert_strv(char **got, const char *const *want)
{
    assert_non_null(got);
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(got[i]);
        assert_string_equal(got[i], want[i]);
    }
    assert_null(got[i]);
}

static void assert_zeroed(const struct wire_step *s)
{
    assert_null(s->argv);
    assert_null(s->envp);
    assert_null(s->files);
    assert_int_equal(s->nfiles, 0);
}

/* ---- steps ---- */

static void test_step_round_trip(void **state)
{
    (void)state;
    struct sbx_step in = full_step();
    struct buf b;
    encode_step(&in, &b);
    char *msg = exact(b.data, b.len);
    struct wire_reader rd = {.p = msg, .left = b.len};
    struct wire_step out;
    assert_int_equal(wire_get_step(&rd, &out), 0);
    assert_false(rd.bad);
    assert_int_equal(rd.left, 0);
    assert_true(out.limits.cpu_ms == in.limits.cpu_ms && out.limits.wall_ms == in.limits.wall_ms);
    assert_true(out.limits.memory_bytes == in.limits.memory_bytes);
    assert_int_equal(out.limits.max_procs, in.limits.max_procs);
    assert_true(out.limits.output_bytes == in.limits.output_bytes);
    assert_true(out.limits.file_bytes == in.limits.file_bytes);
    assert_int_equal(out.limits.open_files, in.limits.open_files);
    assert_true(out.limits.stack_bytes == in.limits.stack_bytes);
    assert_strv(out.argv, argv_in);
    assert_strv(out.envp, envp_in);
    assert_int_equal(out.stdin_len, in.stdin_len);
    assert_memory_equal(out.stdin_data, stdin_bytes, in.stdin_len);
    assert_true(out.collect);
    assert_true(out.collect_max_bytes == in.collect_max_bytes);
    assert_int_equal(out.nfiles, in.nfiles);
    for (size_t i = 0; i < in.nfiles; i++) {
        assert_string_equal(out.files[i].name, files_in[i].name);
        assert_int_equal(out.files[i].executable, files_in[i].executable);
        assert_int_equal(out.files[i].len, files_in[i].len);
        assert_memory_equal(out.files[i].data, files_in[i].data, files_in[i].len);
    }
    /* decoded strings point into the message, not copies */
    assert_true(out.argv[0] >= msg && out.argv[0] < msg + b.len);
    wire_step_release(&out);
    assert_zeroed(&out);
    free(msg);
    buf_release(&b);
}

static void test_step_minimal(void **state)
{
    (void)state;
    /* no stdin, no files, no environment at all */
    static const char *const argv[] = {"/bin/true", NULL};
    struct sbx_step in = {.argv = argv, .envp = NULL};
    struct buf b;
    encode_step(&in, &b);
    struct wire_reader rd = {.p = b.data, .left = b.len};
    struct wire_step out;
    assert_int_equal(wire_get_step(&rd, &out), 0);
    assert_strv(out.argv, argv);
    assert_non_null(out.envp);
    assert_null(out.envp[0]);
    assert_int_equal(out.stdin_len, 0);
    assert_non_null(out.files); /* an empty array, not NULL */
    assert_int_equal(out.nfiles, 0);
    assert_false(out.collect);
    assert_true(out.collect_max_bytes == 0);
    wire_step_release(&out);
    buf_release(&b);

    /* a bound without collect is not sent: one encoding per step */
    in.collect_max_bytes = 12345;
    encode_step(&in, &b);
    rd = (struct wire_reader){.p = b.data, .left = b.len};
    assert_int_equal(wire_get_step(&rd, &out), 0);
    assert_false(out.collect);
    assert_true(out.collect_max_bytes == 0);
    wire_step_release(&out);
    buf_release(&b);
    in.collect_max_bytes = 0;

    /* an empty argv is no step */
    static const char *const none[] = {NULL};
    in.argv = none;
    encode_step(&in, &b);
    rd = (struct wire_reader){.p = b.data, .left = b.len};
    assert_int_equal(wire_get_step(&rd, &out), -EPROTO);
    assert_zeroed(&out);
    buf_release(&b);
}

static void test_step_trailing_bytes(void **state)
{
    (void)state;
    struct sbx_step in = full_step();
    struct buf b;
    encode_step(&in, &b);
    assert_int_equal(buf_append(&b, "junk", 4), 0);
    struct wire_reader rd = {.p = b.data, .left = b.len};
    struct wire_step out;
    /* the decoder reads one step and leaves what follows to its caller */
    assert_int_equal(wire_get_step(&rd, &out), 0);
    assert_int_equal(rd.left, 4);
    wire_step_release(&out);
    buf_release(&b);
}

static void test_step_every_truncation(void **state)
{
    (void)state;
    struct sbx_step in = full_step();
    struct buf b;
    encode_step(&in, &b);
    for (size_t len = 0; len < b.len; len++) {
        char *msg = exact(b.data, len);
        struct wire_reader rd = {.p = msg, .left = len};
        struct wire_step out;
        int r = wire_get_step(&rd, &out);
        if (r != -EPROTO)
            fail_msg("prefix of %zu of %zu bytes decoded: %d", len, b.len, r);
        assert_true(rd.bad);
        assert_zeroed(&out);
        free(msg);
    }
    buf_release(&b);
}

/* Limits, then an argv count, as a hostile peer would write them. */
static void hostile_prefix(struct buf *b)
{
    buf_init(b, WIRE_MAX_PAYLOAD);
    for (int i = 0; i < 8; i++)
        assert_int_equal(wire_put_u64(b, 0), 0);
}

static void expect_step_rejected(struct buf *b)
{
    char *msg = exact(b->data, b->len);
    struct wire_reader rd = {.p = msg, .left = b->len};
    struct wire_step out;
    assert_int_equal(wire_get_step(&rd, &out), -EPROTO);
    assert_zeroed(&out);
    free(msg);
    buf_release(b);
}

static void test_step_oversized_counts(void **state)
{
    (void)state;
    static const uint64_t argv_counts[] = {65537, 1ull << 32, UINT64_MAX, 65536, 2};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(argv_counts); i++) {
        struct buf b;
        hostile_prefix(&b);
        assert_int_equal(wire_put_u64(&b, argv_counts[i]), 0);
        assert_int_equal(wire_put_str(&b, "/bin/true"), 0); /* one string, never enough */
        expect_step_rejected(&b);
    }
    static const uint64_t file_counts[] = {4097, 1ull << 40, UINT64_MAX, 4096, 1};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(file_counts); i++) {
        struct buf b;
        hostile_prefix(&b);
        assert_int_equal(wire_put_u64(&b, 1), 0);
        assert_int_equal(wire_put_str(&b, "/bin/true"), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0);       /* envp */
        assert_int_equal(wire_put_bytes(&b, "", 0), 0); /* stdin */
        assert_int_equal(wire_put_u64(&b, 0), 0);       /* last */
        assert_int_equal(wire_put_u64(&b, file_counts[i]), 0);
        expect_step_rejected(&b);
    }
    /* byte lengths past the message */
    static const uint64_t lens[] = {1, 1000, 1ull << 63, UINT64_MAX, UINT64_MAX - 7};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(lens); i++) {
        struct buf b;
        hostile_prefix(&b);
        assert_int_equal(wire_put_u64(&b, 1), 0);
        assert_int_equal(wire_put_str(&b, "/bin/true"), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0);
        assert_int_equal(wire_put_u64(&b, lens[i]), 0); /* stdin length, no bytes */
        assert_int_equal(wire_put_u64(&b, 0), 0);
        expect_step_rejected(&b);
    }
}

static void test_step_bad_strings(void **state)
{
    (void)state;
    struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"", 0},             /* not even a NUL */
        {"/bin/true", 9},    /* no final NUL */
        {"/bin\0/true", 11}, /* NUL inside */
        {"\0\0", 2},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        /* as argv[0] */
        struct buf b;
        hostile_prefix(&b);
        assert_int_equal(wire_put_u64(&b, 1), 0);
        assert_int_equal(wire_put_bytes(&b, bad[i].bytes, bad[i].len), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0);
        assert_int_equal(wire_put_bytes(&b, "", 0), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0); /* last */
        assert_int_equal(wire_put_u64(&b, 0), 0);
        expect_step_rejected(&b);
        /* as a file name */
        hostile_prefix(&b);
        assert_int_equal(wire_put_u64(&b, 1), 0);
        assert_int_equal(wire_put_str(&b, "/bin/true"), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0);
        assert_int_equal(wire_put_bytes(&b, "", 0), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0); /* last */
        assert_int_equal(wire_put_u64(&b, 1), 0);
        assert_int_equal(wire_put_bytes(&b, bad[i].bytes, bad[i].len), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0);
        assert_int_equal(wire_put_bytes(&b, "x", 1), 0);
        expect_step_rejected(&b);
    }
}

static void test_reader_primitives(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(wire_put_str(&b, "ok"), 0);
    assert_int_equal(wire_put_u64(&b, 42), 0);
    char *msg = exact(b.data, b.len);
    struct wire_reader rd = {.p = msg, .left = b.len};
    assert_string_equal(wire_get_str(&rd), "ok");
    assert_int_equal(wire_get_u64(&rd), 42);
    assert_false(rd.bad);
    assert_int_equal(rd.left, 0);
    /* past the end: zero, and bad sticks */
    assert_int_equal(wire_get_u64(&rd), 0);
    assert_true(rd.bad);
    size_t n = 7;
    assert_null(wire_get_bytes(&rd, &n));
    assert_int_equal(n, 0);
    assert_null(wire_get_str(&rd));
    /* a bad reader returns nothing even with bytes left */
    rd = (struct wire_reader){.p = msg, .left = b.len, .bad = true};
    assert_int_equal(wire_get_u64(&rd), 0);
    assert_int_equal(rd.left, b.len);
    free(msg);
    buf_release(&b);
}

/* ---- results ---- */

static void fill_result(struct sbx_result *r, unsigned flags)
{
    sbx_result_init(r);
    r->verdict = (enum sbx_verdict)(flags % SBX_VERDICT_MAX_);
    r->exit_code = flags & 1 ? -1 : 255;
    r->signal = (int)(flags % 65);
    r->cpu_us = UINT64_MAX - flags;
    r->wall_us = 1ull << 40;
    r->memory_kb = flags;
    r->cpu_exceeded = flags & 1;
    r->wall_exceeded = flags & 2;
    r->oom_killed = flags & 4;
    r->output_exceeded = flags & 8;
    r->out_truncated = flags & 16;
    r->err_truncated = flags & 32;
    if (flags & 1)
        assert_int_equal(buf_append(&r->out, "out\0put", 7), 0);
    if (flags & 2)
        assert_int_equal(buf_append(&r->err, "\xff\xfe", 2), 0);
    memset(r->message, 'm', sizeof r->message - 1);
    r->message[flags % sizeof r->message] = '\0';
}

static void test_result_round_trip(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags < 64; flags++) {
        struct sbx_result in, out;
        fill_result(&in, flags);
        struct buf b;
        buf_init(&b, WIRE_MAX_PAYLOAD);
        assert_int_equal(wire_put_result(&b, &in), 0);
        char *msg = exact(b.data, b.len);
        struct wire_reader rd = {.p = msg, .left = b.len};
        sbx_result_init(&out);
        assert_int_equal(wire_get_result(&rd, &out), 0);
        assert_int_equal(rd.left, 0);
        assert_int_equal(out.verdict, in.verdict);
        assert_int_equal(out.exit_code, in.exit_code);
        assert_int_equal(out.signal, in.signal);
        assert_true(out.cpu_us == in.cpu_us);
        assert_true(out.wall_us == in.wall_us);
        assert_true(out.memory_kb == in.memory_kb);
        assert_int_equal(out.cpu_exceeded, in.cpu_exceeded);
        assert_int_equal(out.wall_exceeded, in.wall_exceeded);
        assert_int_equal(out.oom_killed, in.oom_killed);
        assert_int_equal(out.output_exceeded, in.output_exceeded);
        assert_int_equal(out.out_truncated, in.out_truncated);
        assert_int_equal(out.err_truncated, in.err_truncated);
        assert_int_equal(out.out.len, in.out.len);
        assert_int_equal(out.err.len, in.err.len);
        if (in.out.len)
            assert_memory_equal(out.out.data, in.out.data, in.out.len);
        if (in.err.len)
            assert_memory_equal(out.err.data, in.err.data, in.err.len);
        assert_string_equal(out.message, in.message);
        sbx_result_release(&out);
        sbx_result_release(&in);
        free(msg);
        buf_release(&b);
    }
}

/* The streams' order travels with the result; one that counts more bytes
 * of a stream than the result holds, or is not whole entries, or is too
 * long, is refused. */
static void test_result_order(void **state)
{
    (void)state;
    static const char order[] = "\x03\0\0\0\x02\0\0\x80\x04\0\0\0";
    static const struct {
        const char *order;
        size_t len;
        int want;
    } cases[] = {
        {order, 12, 0},                             /* 3 + 4 of 7 stdout bytes, 2 of stderr */
        {"", 0, 0},                                 /* none recorded */
        {"\x08\0\0\0", 4, -EPROTO},               /* 8 stdout bytes of 7 */
        {"\x03\0\0\x80", 4, -EPROTO},             /* 3 stderr bytes of 2 */
        {"\x01\0\0", 3, -EPROTO},                  /* not whole entries */
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        struct sbx_result in, out;
        fill_result(&in, 3); /* 7 bytes of stdout, 2 of stderr */
        assert_int_equal(buf_append(&in.order, cases[i].order, cases[i].len), 0);
        struct buf b;
        buf_init(&b, WIRE_MAX_PAYLOAD);
        assert_int_equal(wire_put_result(&b, &in), 0);
        char *msg = exact(b.data, b.len);
        struct wire_reader rd = {.p = msg, .left = b.len};
        sbx_result_init(&out);
        assert_int_equal(wire_get_result(&rd, &out), cases[i].want);
        if (cases[i].want == 0) {
            assert_int_equal(out.order.len, cases[i].len);
            if (cases[i].len)
                assert_memory_equal(out.order.data, cases[i].order, cases[i].len);
        }
        sbx_result_release(&out);
        sbx_result_release(&in);
        free(msg);
        buf_release(&b);
    }
    /* over SBX_ORDER_MAX entries */
    struct sbx_result in, out;
    fill_result(&in, 3);
    in.order.max = (size_t)SBX_ORDER_MAX * 8;
    for (size_t k = 0; k <= SBX_ORDER_MAX; k++)
        assert_int_equal(buf_append(&in.order, "\0\0\0\0", 4), 0);
    struct buf b;
    buf_init(&b, WIRE_MAX_PAYLOAD);
    assert_int_equal(wire_put_result(&b, &in), 0);
    struct wire_reader rd = {.p = b.data, .left = b.len};
    sbx_result_init(&out);
    assert_int_equal(wire_get_result(&rd, &out), -EPROTO);
    sbx_result_release(&out);
    sbx_result_release(&in);
    buf_release(&b);
}

static void test_result_bad_verdict(void **state)
{
    (void)state;
    static const uint64_t verdicts[] = {SBX_VERDICT_MAX_, 1000, UINT64_MAX};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(verdicts); i++) {
        struct sbx_result in, out;
        fill_result(&in, 0);
        struct buf b;
        buf_init(&b, WIRE_MAX_PAYLOAD);
        assert_int_equal(wire_put_result(&b, &in), 0);
        memcpy(b.data, &verdicts[i], sizeof verdicts[i]); /* the first field */
        struct wire_reader rd = {.p = b.data, .left = b.len};
        sbx_result_init(&out);
        assert_int_equal(wire_get_result(&rd, &out), 0);
        assert_int_equal(out.verdict, SBX_VERDICT_INTERNAL_ERROR);
        sbx_result_release(&out);
        sbx_result_release(&in);
        buf_release(&b);
    }
}

/* Every proper prefix of in's encoding is refused (-EPROTO), and what a
 * decode copied before the cut is freed (ASan checks). */
static void assert_prefixes_refused(const struct sbx_result *in)
{
    struct buf b;
    buf_init(&b, WIRE_MAX_PAYLOAD);
    assert_int_equal(wire_put_result(&b, in), 0);
    for (size_t len = 0; len < b.len; len++) {
        char *msg = exact(b.data, len);
        struct wire_reader rd = {.p = msg, .left = len};
        struct sbx_result out;
        sbx_result_init(&out);
        int r = wire_get_result(&rd, &out);
        if (r != -EPROTO)
            fail_msg("prefix of %zu of %zu bytes decoded: %d", len, b.len, r);
        sbx_result_release(&out);
        free(msg);
    }
    buf_release(&b);
}

static void test_result_every_truncation(void **state)
{
    (void)state;
    struct sbx_result in;
    fill_result(&in, 63);
    assert_prefixes_refused(&in);
    /* the stream lengths and the message as a hostile box init writes them */
    static const uint64_t lens[] = {UINT64_MAX, 1ull << 62, WIRE_MAX_PAYLOAD + 1};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(lens); i++) {
        struct buf h;
        buf_init(&h, WIRE_MAX_PAYLOAD);
        for (int k = 0; k < 7; k++)
            assert_int_equal(wire_put_u64(&h, 0), 0);
        assert_int_equal(wire_put_u64(&h, lens[i]), 0);
        assert_int_equal(wire_put_bytes(&h, "", 0), 0);
        assert_int_equal(wire_put_str(&h, "msg"), 0);
        struct wire_reader rd = {.p = h.data, .left = h.len};
        struct sbx_result out;
        sbx_result_init(&out);
        assert_int_equal(wire_get_result(&rd, &out), -EPROTO);
        assert_int_equal(out.out.len, 0);
        sbx_result_release(&out);
        buf_release(&h);
    }
    /* a message longer than the result's field is cut, NUL-terminated */
    struct buf h;
    buf_init(&h, WIRE_MAX_PAYLOAD);
    for (int k = 0; k < 7; k++)
        assert_int_equal(wire_put_u64(&h, 0), 0);
    assert_int_equal(wire_put_bytes(&h, "", 0), 0);
    assert_int_equal(wire_put_bytes(&h, "", 0), 0);
    char longmsg[1000];
    memset(longmsg, 'z', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    assert_int_equal(wire_put_str(&h, longmsg), 0);
    assert_int_equal(wire_put_u64(&h, 0), 0); /* collect flags */
    assert_int_equal(wire_put_u64(&h, 0), 0); /* no collected files */
    assert_int_equal(wire_put_bytes(&h, "", 0), 0); /* no order of the streams */
    struct wire_reader rd = {.p = h.data, .left = h.len};
    struct sbx_result out;
    sbx_result_init(&out);
    assert_int_equal(wire_get_result(&rd, &out), 0);
    assert_int_equal(strlen(out.message), sizeof out.message - 1);
    sbx_result_release(&out);
    buf_release(&h);
    sbx_result_release(&in);
}

/* ---- collected files ---- */

static const char art_bin[] = "\x7f"
                              "ELF\0binary\xff";

static void add_collected(struct sbx_result *r, const char *name, const void *data, size_t len,
                          bool exec)
{
    struct sbx_collected *c = realloc(r->collected, (r->ncollected + 1) * sizeof(*c));
    assert_non_null(c);
    r->collected = c;
    c += r->ncollected++;
    c->name = strdup(name);
    c->data = malloc(len ? len : 1);
    assert_non_null(c->name);
    assert_non_null(c->data);
    memcpy(c->data, data, len);
    c->len = len;
    c->executable = exec;
}

/* Encodes r, decodes it from an exact heap copy: the decode's result. */
static int decode_copy(const struct sbx_result *in, struct sbx_result *out)
{
    struct buf b;
    buf_init(&b, WIRE_MAX_PAYLOAD);
    assert_int_equal(wire_put_result(&b, in), 0);
    char *msg = exact(b.data, b.len);
    struct wire_reader rd = {.p = msg, .left = b.len};
    sbx_result_init(out);
    int r = wire_get_result(&rd, out);
    if (r == 0)
        assert_int_equal(rd.left, 0);
    free(msg);
    buf_release(&b);
    return r;
}

static void test_collected_round_trip(void **state)
{
    (void)state;
    struct sbx_result in, out;
    fill_result(&in, 0);
    add_collected(&in, "main", art_bin, sizeof art_bin - 1, true);
    add_collected(&in, "pkg/Main.class", "\xca\xfe\xba\xbe", 4, false);
    add_collected(&in, "empty", "", 0, false);
    in.collect_skipped = true;
    assert_int_equal(decode_copy(&in, &out), 0);
    assert_int_equal(out.ncollected, 3);
    assert_false(out.collect_overflow);
    assert_true(out.collect_skipped);
    for (size_t i = 0; i < in.ncollected; i++) {
        assert_string_equal(out.collected[i].name, in.collected[i].name);
        assert_int_equal(out.collected[i].len, in.collected[i].len);
        assert_int_equal(out.collected[i].executable, in.collected[i].executable);
        if (in.collected[i].len)
            assert_memory_equal(out.collected[i].data, in.collected[i].data, in.collected[i].len);
    }
    sbx_result_release(&out);
    /* released: nothing left to free twice, and the result is reusable */
    assert_null(out.collected);
    assert_int_equal(out.ncollected, 0);
    sbx_result_release(&out);
    sbx_result_release(&in);

    /* overflow: the flag and no files */
    fill_result(&in, 5);
    in.collect_overflow = true;
    assert_int_equal(decode_copy(&in, &out), 0);
    assert_true(out.collect_overflow);
    assert_false(out.collect_skipped);
    assert_int_equal(out.ncollected, 0);
    assert_null(out.collected);
    sbx_result_release(&out);
    sbx_result_release(&in);
}

static void test_collected_every_truncation(void **state)
{
    (void)state;
    struct sbx_result in;
    fill_result(&in, 3);
    add_collected(&in, "a.out", art_bin, sizeof art_bin - 1, true);
    add_collected(&in, "b/c", "xyz", 3, false);
    assert_prefixes_refused(&in);
    sbx_result_release(&in);
}

/* A result with no streams and an empty message, then the collect section
 * as a hostile box init writes it. */
static void hostile_result(struct buf *b, uint64_t flags, uint64_t n)
{
    buf_init(b, WIRE_MAX_PAYLOAD);
    for (int k = 0; k < 7; k++)
        assert_int_equal(wire_put_u64(b, 0), 0);
    assert_int_equal(wire_put_bytes(b, "", 0), 0);
    assert_int_equal(wire_put_bytes(b, "", 0), 0);
    assert_int_equal(wire_put_str(b, ""), 0);
    assert_int_equal(wire_put_u64(b, flags), 0);
    assert_int_equal(wire_put_u64(b, n), 0);
}

static void put_file(struct buf *b, const char *name, size_t name_len, uint64_t exec)
{
    assert_int_equal(wire_put_bytes(b, name, name_len), 0);
    assert_int_equal(wire_put_u64(b, exec), 0);
    assert_int_equal(wire_put_bytes(b, "data", 4), 0);
}

static int decode_hostile(struct buf *b)
{
    assert_int_equal(wire_put_bytes(b, "", 0), 0); /* no order of the streams */
    char *msg = exact(b->data, b->len);
    struct wire_reader rd = {.p = msg, .left = b->len};
    struct sbx_result out;
    sbx_result_init(&out);
    int r = wire_get_result(&rd, &out);
    if (r == 0) {
        /* whatever was accepted is within the contract */
        assert_true(out.ncollected <= SBX_COLLECT_MAX_FILES);
        for (size_t i = 0; i < out.ncollected; i++)
            assert_true(sbx_file_name_ok(out.collected[i].name));
    }
    sbx_result_release(&out);
    free(msg);
    buf_release(b);
    return r;
}

static void test_collected_hostile(void **state)
{
    (void)state;
    struct buf b;
    /* the baseline is accepted, so each rejection below is for its one change */
    hostile_result(&b, 2, 1);
    put_file(&b, "ok/name.o", sizeof "ok/name.o", 1);
    assert_int_equal(decode_hostile(&b), 0);

    static const char *const bad_names[] = {
        "../etc/passwd", "/abs",      "a//b",         "a/",    ".", "..",
        "sp ace",        "new\nline", "a*b.class",    "x/./y", ""};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad_names); i++) {
        hostile_result(&b, 0, 1);
        put_file(&b, bad_names[i], strlen(bad_names[i]) + 1, 0);
        if (decode_hostile(&b) != -EPROTO)
            fail_msg("name \"%s\" accepted", bad_names[i]);
    }
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    hostile_result(&b, 0, 1);
    put_file(&b, longname, sizeof longname, 0);
    assert_int_equal(decode_hostile(&b), -EPROTO);
    /* a name without its NUL, with a NUL inside */
    hostile_result(&b, 0, 1);
    put_file(&b, "abc", 3, 0);
    assert_int_equal(decode_hostile(&b), -EPROTO);
    hostile_result(&b, 0, 1);
    put_file(&b, "ab\0c", 5, 0);
    assert_int_equal(decode_hostile(&b), -EPROTO);
    /* the same name twice */
    hostile_result(&b, 0, 2);
    put_file(&b, "twice", 6, 0);
    put_file(&b, "twice", 6, 1);
    assert_int_equal(decode_hostile(&b), -EPROTO);
    /* unknown flags, an executable word that is no boolean */
    hostile_result(&b, 4, 0);
    assert_int_equal(decode_hostile(&b), -EPROTO);
    hostile_result(&b, 0, 1);
    put_file(&b, "x", 2, 2);
    assert_int_equal(decode_hostile(&b), -EPROTO);
    /* overflow and files together */
    hostile_result(&b, 1, 1);
    put_file(&b, "x", 2, 0);
    assert_int_equal(decode_hostile(&b), -EPROTO);
    /* counts past the limit, with or without the files to back them */
    static const uint64_t counts[] = {SBX_COLLECT_MAX_FILES + 1, 1ull << 32, UINT64_MAX};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(counts); i++) {
        hostile_result(&b, 0, counts[i]);
        for (unsigned k = 0; k < SBX_COLLECT_MAX_FILES + 1; k++) {
            char name[16];
            (void)snprintf(name, sizeof name, "f%u", k);
            put_file(&b, name, strlen(name) + 1, 0);
        }
        assert_int_equal(decode_hostile(&b), -EPROTO);
    }
    /* exactly the limit is fine */
    hostile_result(&b, 0, SBX_COLLECT_MAX_FILES);
    for (unsigned k = 0; k < SBX_COLLECT_MAX_FILES; k++) {
        char name[16];
        (void)snprintf(name, sizeof name, "f%u", k);
        put_file(&b, name, strlen(name) + 1, 0);
    }
    assert_int_equal(decode_hostile(&b), 0);
    /* a data length past the message */
    static const uint64_t lens[] = {5, 1ull << 40, UINT64_MAX};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(lens); i++) {
        hostile_result(&b, 0, 1);
        assert_int_equal(wire_put_str(&b, "f"), 0);
        assert_int_equal(wire_put_u64(&b, 0), 0);
        assert_int_equal(wire_put_u64(&b, lens[i]), 0);
        assert_int_equal(buf_append(&b, "abcd", 4), 0);
        assert_int_equal(decode_hostile(&b), -EPROTO);
    }
}

/* The host's own check of what came back against the step it sent. */
static void test_collect_check(void **state)
{
    (void)state;
    struct sbx_step step = full_step();
    step.collect_max_bytes = 10;
    struct sbx_result r;
    sbx_result_init(&r);
    assert_int_equal(collect_check(&step, &r), 0);
    add_collected(&r, "a", "12345", 5, false);
    add_collected(&r, "b", "12345", 5, true);
    assert_int_equal(collect_check(&step, &r), 0);
    step.collect_max_bytes = 9; /* one byte more than asked for */
    assert_int_equal(collect_check(&step, &r), -EPROTO);
    step.collect_max_bytes = 10;
    step.collect = false; /* files nobody asked for */
    assert_int_equal(collect_check(&step, &r), -EPROTO);
    step.collect = true;
    add_collected(&r, "main.c", "", 0, false); /* one of the step's own files */
    assert_int_equal(collect_check(&step, &r), -EPROTO);
    sbx_result_release(&r);
    sbx_result_init(&r);
    r.collect_overflow = true;
    assert_int_equal(collect_check(&step, &r), 0);
    step.collect = false;
    assert_int_equal(collect_check(&step, &r), -EPROTO);
    sbx_result_release(&r);
}

/* ---- framing ---- */

static void test_send_recv(void **state)
{
    (void)state;
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    assert_int_equal(wire_send(sp[0], WIRE_STEP, "abc\0def", 7), 0);
    assert_int_equal(wire_send(sp[0], WIRE_READY, NULL, 0), 0);
    enum wire_type type;
    char *payload = NULL;
    size_t len = 0;
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), 0);
    assert_int_equal(type, WIRE_STEP);
    assert_int_equal(len, 7);
    assert_memory_equal(payload, "abc\0def", 7);
    free(payload);
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), 0);
    assert_int_equal(type, WIRE_READY);
    assert_int_equal(len, 0);
    free(payload);

    /* a header with its reserved word set, or too long a payload */
    const uint32_t bad_zero[4] = {WIRE_RESULT, 1, 0, 0};
    assert_int_equal(write(sp[0], bad_zero, sizeof bad_zero), (ssize_t)sizeof bad_zero);
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), -EPROTO);
    struct {
        uint32_t type, zero;
        uint64_t len;
    } big = {WIRE_RESULT, 0, WIRE_MAX_PAYLOAD + 1};
    assert_int_equal(write(sp[0], &big, sizeof big), (ssize_t)sizeof big);
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), -EPROTO);

    /* EOF inside a payload, inside a header, and before one */
    big.len = 100;
    assert_int_equal(write(sp[0], &big, sizeof big), (ssize_t)sizeof big);
    assert_int_equal(write(sp[0], "short", 5), 5);
    (void)close(sp[0]);
    payload = NULL;
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), -EPIPE);
    assert_null(payload);
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), -EPIPE);
    (void)close(sp[1]);

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    assert_int_equal(write(sp[0], &big, 6), 6);
    (void)close(sp[0]);
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), -EPIPE);
    (void)close(sp[1]);
}

/* A message far larger than the socket's buffer: sendmsg takes part of it
 * (maybe not even the whole header when the buffer is nearly full), the
 * rest goes by send_full; the reader, another process, gets every byte. */
static void test_send_recv_large(void **state)
{
    (void)state;
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    int small = 4096;
    assert_int_equal(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    const size_t n = (size_t)4 << 20;
    char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 131u + (i >> 12));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)close(sp[1]);
        /* a first message that leaves the buffer part-full, then the big one */
        int r = wire_send(sp[0], WIRE_READY, "x", 1);
        if (r == 0)
            r = wire_send(sp[0], WIRE_RESULT, data, n);
        _exit(r == 0 ? 0 : 1);
    }
    (void)close(sp[0]);
    enum wire_type type;
    char *payload = NULL;
    size_t len = 0;
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), 0);
    assert_int_equal(type, WIRE_READY);
    assert_int_equal(len, 1);
    free(payload);
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), 0);
    assert_int_equal(type, WIRE_RESULT);
    assert_int_equal(len, n);
    assert_memory_equal(payload, data, n);
    free(payload);
    int st = -1;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(wire_recv(sp[1], &type, &payload, &len), -EPIPE);
    (void)close(sp[1]);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_round_trip),
        cmocka_unit_test(test_step_minimal),
        cmocka_unit_test(test_step_trailing_bytes),
        cmocka_unit_test(test_step_every_truncation),
        cmocka_unit_test(test_step_oversized_counts),
        cmocka_unit_test(test_step_bad_strings),
        cmocka_unit_test(test_reader_primitives),
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_result_order),
        cmocka_unit_test(test_result_bad_verdict),
        cmocka_unit_test(test_result_every_truncation),
        cmocka_unit_test(test_collected_round_trip),
        cmocka_unit_test(test_collected_every_truncation),
        cmocka_unit_test(test_collected_hostile),
        cmocka_unit_test(test_collect_check),
        cmocka_unit_test(test_send_recv),
        cmocka_unit_test(test_send_recv_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
