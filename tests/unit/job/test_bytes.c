/* job_json_bytes: well-formed UTF-8 passes unchanged, each maximal subpart
 * of an ill-formed sequence becomes one U+FFFD, NULs survive, and 16 MiB of
 * hostile output is repaired quickly into JSON that parses back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/job.h"
#include "moat/util.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */
#define MIB (1024u * 1024u)

struct bytes_case {
    const char *what;
    const char *in;
    size_t in_len;
    const char *want;
    size_t want_len;
};

/* sizeof of a literal counts its terminator. */
#define CASE(what, in, want)                                                                       \
    {                                                                                              \
        what, in, sizeof(in) - 1, want, sizeof(want) - 1                                           \
    }

static const struct bytes_case cases[] = {
    CASE("empty", "", ""),
    CASE("ascii", "hello, world\n", "hello, world\n"),
    CASE("two-byte", "caf\xC3\xA9", "caf\xC3\xA9"),
    CASE("three-byte", "\xE2\x82\xAC 5", "\xE2\x82\xAC 5"),
    CASE("four-byte", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"),
    CASE("U+0080 and U+07FF", "\xC2\x80\xDF\xBF", "\xC2\x80\xDF\xBF"),
    CASE("U+0800 and U+FFFF", "\xE0\xA0\x80\xEF\xBF\xBF", "\xE0\xA0\x80\xEF\xBF\xBF"),
    CASE("around the surrogates", "\xED\x9F\xBF\xEE\x80\x80", "\xED\x9F\xBF\xEE\x80\x80"),
    CASE("U+10000 and U+10FFFF", "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF",
         "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"),
    CASE("U+FFFD and U+FFFE stay", R "\xEF\xBF\xBE", R "\xEF\xBF\xBE"),
    CASE("NUL kept", "a\0b\0", "a\0b\0"),
    CASE("only NUL", "\0", "\0"),
    CASE("overlong two-byte", "\xC0\xAF", R R),
    CASE("overlong C1", "\xC1\xBF", R R),
    CASE("overlong NUL", "\xC0\x80", R R),
    CASE("overlong three-byte", "\xE0\x80\xAF", R R R),
    CASE("overlong four-byte", "\xF0\x80\x80\xAF", R R R R),
    CASE("high surrogate", "\xED\xA0\x80", R R R),
    CASE("low surrogate", "\xED\xBF\xBF", R R R),
    CASE("surrogate pair (CESU-8)", "\xED\xA0\xBD\xED\xB8\x80", R R R R R R),
    CASE("past U+10FFFF", "\xF4\x90\x80\x80", R R R R),
    CASE("F5 lead", "\xF5\x80\x80\x80", R R R R),
    CASE("FE FF", "\xFE\xFF", R R),
    CASE("stray continuation", "a\x80z", "a" R "z"),
    CASE("two stray continuations", "\xBF\xBF", R R),
    CASE("truncated two-byte at end", "ab\xC3", "ab" R),
    CASE("truncated three-byte at end", "\xE2\x82", R),
    CASE("truncated four-byte at end", "\xF0\x9F\x98", R),
    CASE("truncated three-byte mid", "\xE2\x82x", R "x"),
    CASE("truncated then valid", "\xF0\x9F\x98\xC3\xA9", R "\xC3\xA9"),
    CASE("lead then lead", "\xE2\xE2\x82\xAC", R "\xE2\x82\xAC"),
    /* The example of Unicode 15 table 3-8 (maximal subparts). */
    CASE("unicode table 3-8", "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
         "a" R R R "b" R "c" R R "d"),
    CASE("long ascii then invalid", "0123456789abcdefghij\xFFklmnopqrstuvwxyz0123",
         "0123456789abcdefghij" R "klmnopqrstuvwxyz0123"),
    CASE("invalid then long ascii then invalid",
         "\x80"
         "0123456789abcdefghij\xC3",
         R "0123456789abcdefghij" R),
    CASE("NUL after invalid", "\xFF\0\xFF", R "\0" R),
};

static void check_string(const json_t *s, const char *want, size_t want_len, const char *what)
{
    assert_non_null(s);
    assert_true(json_is_string(s));
    if (json_string_length(s) != want_len || memcmp(json_string_value(s), want, want_len) != 0)
        fail_msg("%s: length %zu, want %zu", what, json_string_length(s), want_len);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++) {
        const struct bytes_case *c = &cases[i];
        json_t *s = job_json_bytes(c->in, c->in_len);
        check_string(s, c->want, c->want_len, c->what);
        /* The dump is JSON that parses back to the same string. */
        char *text = json_dumps(s, JSON_ENCODE_ANY | JOB_JSON_DUMP_FLAGS);
        assert_non_null(text);
        json_error_t e;
        json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (!back)
            fail_msg("%s: reload failed: %s", c->what, e.text);
        check_string(back, c->want, c->want_len, c->what);
        json_decref(back);
        free(text);
        json_decref(s);
    }
}

static void test_nul_is_escaped(void **state)
{
    (void)state;
    json_t *s = job_json_bytes("a\0b", 3);
    char *text = json_dumps(s, JSON_ENCODE_ANY | JOB_JSON_DUMP_FLAGS);
    assert_string_equal(text, "\"a\\u0000b\"");
    free(text);
    json_decref(s);
    s = job_json_bytes(NULL, 0);
    check_string(s, "", 0, "NULL, 0");
    json_decref(s);
}

/* xorshift64*: a fixed seed keeps a failure reproducible. */
static uint64_t next_random(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * UINT64_C(2685821657736338717);
}

static size_t count_ascii(const unsigned char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += p[i] < 0x80;
    return n;
}

static void test_16mib_random(void **state)
{
    (void)state;
    const size_t len = 16 * MIB;
    unsigned char *in = malloc(len);
    assert_non_null(in);
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = next_random(&x);
        memcpy(in + i, &r, 8);
    }

    uint64_t t0 = moat_now_ns();
    json_t *s = job_json_bytes((const char *)in, len);
    uint64_t ms = (moat_now_ns() - t0) / 1000000;
    assert_non_null(s);
    /* About 50 ms in the sanitized build; the bound only catches a
     * quadratic or byte-by-byte-allocating regression on a busy machine. */
    if (ms > 5000)
        fail_msg("job_json_bytes took %llu ms for 16 MiB", (unsigned long long)ms);

    const char *v = json_string_value(s);
    size_t vlen = json_string_length(s);
    /* Random bytes are mostly ill-formed: the output must be longer. */
    assert_true(vlen > len);
    assert_true(vlen <= 3 * len);
    /* ASCII bytes are never part of a maximal subpart: all of them stay. */
    assert_int_equal(count_ascii((const unsigned char *)v, vlen), count_ascii(in, len));
    /* jansson's own validator agrees the result is UTF-8. */
    json_t *checked = json_stringn(v, vlen);
    assert_non_null(checked);
    json_decref(checked);

    char *text = json_dumps(s, JSON_ENCODE_ANY | JOB_JSON_DUMP_FLAGS);
    assert_non_null(text);
    json_error_t e;
    json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!back)
        fail_msg("reload failed: %s at %d", e.text, e.position);
    check_string(back, v, vlen, "16 MiB random");
    json_decref(back);
    free(text);
    json_decref(s);
    free(in);
}

static void test_16mib_valid_multibyte(void **state)
{
    (void)state;
    /* A mix of 1- to 4-byte characters, 10 bytes per round. */
    static const char unit[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    const size_t ulen = sizeof(unit) - 1, len = 16 * MIB / ulen * ulen;
    char *in = malloc(len);
    assert_non_null(in);
    for (size_t i = 0; i < len; i += ulen)
        memcpy(in + i, unit, ulen);
    uint64_t t0 = moat_now_ns();
    json_t *s = job_json_bytes(in, len);
    uint64_t ms = (moat_now_ns() - t0) / 1000000;
    if (ms > 5000)
        fail_msg("job_json_bytes took %llu ms for 16 MiB", (unsigned long long)ms);
    check_string(s, in, len, "16 MiB multibyte");
    json_decref(s);

    /* The worst case: every byte ill-formed grows 3x. */
    memset(in, 0xFF, len);
    s = job_json_bytes(in, len);
    assert_non_null(s);
    assert_int_equal(json_string_length(s), 3 * len);
    assert_memory_equal(json_string_value(s) + 3 * len - 3, R, 3);
    json_decref(s);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_nul_is_escaped),
        cmocka_unit_test(test_16mib_random),
        cmocka_unit_test(test_16mib_valid_multibyte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
