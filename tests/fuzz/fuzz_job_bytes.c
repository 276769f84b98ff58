/*
 * Program output is the most hostile input moat turns into JSON: any bytes
 * at all, up to 16 MiB. Checks that job_json_bytes agrees byte for byte
 * with an independent decoder (the WHATWG UTF-8 decoder, written as a state
 * machine over code points, not over subparts), that its dump parses back,
 * that well-formed input is never changed, and that a whole step result
 * built from the same bytes dumps and parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/job.h"
#include "moat/util.h"

#include "fuzz.h"

static size_t put_cp(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The WHATWG Encoding standard's UTF-8 decoder, step by step; o must hold
 * 3 * len bytes. Returns the output length. */
static size_t reference_decode(const unsigned char *p, size_t len, unsigned char *o)
{
    uint32_t cp = 0;
    unsigned needed = 0, seen = 0;
    unsigned char lower = 0x80, upper = 0xBF;
    size_t n = 0, i = 0;
    while (i < len) {
        unsigned char b = p[i];
        if (needed == 0) {
            i++;
            if (b <= 0x7F) {
                n += put_cp(o + n, b);
            } else if (b >= 0xC2 && b <= 0xDF) {
                needed = 1;
                cp = b & 0x1Fu;
            } else if (b >= 0xE0 && b <= 0xEF) {
                if (b == 0xE0)
                    lower = 0xA0;
                if (b == 0xED)
                    upper = 0x9F;
                needed = 2;
                cp = b & 0xFu;
            } else if (b >= 0xF0 && b <= 0xF4) {
                if (b == 0xF0)
                    lower = 0x90;
                if (b == 0xF4)
                    upper = 0x8F;
                needed = 3;
                cp = b & 0x7u;
            } else {
                n += put_cp(o + n, 0xFFFD);
            }
            continue;
        }
        if (b < lower || b > upper) {
            /* Error, and the byte is processed again from the start state. */
            cp = 0;
            needed = seen = 0;
            lower = 0x80;
            upper = 0xBF;
            n += put_cp(o + n, 0xFFFD);
            continue;
        }
        i++;
        lower = 0x80;
        upper = 0xBF;
        cp = (cp << 6) | (b & 0x3Fu);
        if (++seen == needed) {
            n += put_cp(o + n, cp);
            cp = 0;
            needed = seen = 0;
        }
    }
    if (needed != 0)
        n += put_cp(o + n, 0xFFFD);
    return n;
}

static void check_step(const uint8_t *data, size_t size)
{
    struct job_step s = {0};
    s.verdict = (enum job_verdict)(size ? data[0] % (JOB_VERDICT_MAX_ + 1) : 0);
    s.signal = size > 1 ? data[1] % 70 : 0;
    s.exit_code = size > 2 ? (int)data[2] - 128 : 0;
    s.out = malloc(size ? size : 1);
    s.err = malloc(size ? size : 1);
    CHECK(s.out && s.err);
    if (size) {
        memcpy(s.out, data, size);
        memcpy(s.err, data, size);
    }
    s.out_len = size;
    s.err_len = size / 2;
    memcpy(s.message, data, size < sizeof(s.message) ? size : sizeof(s.message));
    json_t *o = job_step_to_json(&s, size > 3 && (data[3] & 1));
    CHECK(o);
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    CHECK(text);
    json_error_t e;
    json_t *back = json_loads(text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
    CHECK(back);
    CHECK(json_equal(o, back));
    json_decref(back);
    free(text);
    json_decref(o);
    job_step_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *s = job_json_bytes((const char *)data, size);
    CHECK(s);
    const char *v = json_string_value(s);
    size_t vlen = json_string_length(s);

    unsigned char *want = malloc(size ? 3 * size : 1);
    CHECK(want);
    size_t want_len = reference_decode(data, size, want);
    CHECK(vlen == want_len);
    CHECK(memcmp(v, want, vlen) == 0);
    free(want);

    /* jansson's own validator: well-formed input must pass unchanged. */
    json_t *valid = json_stringn((const char *)data, size);
    if (valid) {
        CHECK(vlen == size && memcmp(v, data, size) == 0);
        json_decref(valid);
    }

    char *text = json_dumps(s, JSON_ENCODE_ANY | JOB_JSON_DUMP_FLAGS);
    CHECK(text);
    json_error_t e;
    json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    CHECK(back && json_is_string(back));
    CHECK(json_string_length(back) == vlen && memcmp(json_string_value(back), v, vlen) == 0);
    json_decref(back);
    /* Without NUL, a strict parser reads the same string back too. */
    if (valid && !memchr(data, 0, size)) {
        back = json_loads(text, JSON_DECODE_ANY, &e);
        CHECK(back);
        CHECK(json_string_length(back) == size && memcmp(json_string_value(back), data, size) == 0);
        json_decref(back);
    }
    free(text);
    json_decref(s);

    check_step(data, size);
    return 0;
}
