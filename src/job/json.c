/*
 * job: the JSON mapping of a step. The program's output is arbitrary bytes
 * (up to the 16 MiB server maximum per stream), so turning it into a JSON
 * string is on the hot path of every result and must not trust the bytes.
 */
#include "moat/job.h"
#include "moat/util.h"

/*
 * Length of the UTF-8 sequence at p (avail > 0 bytes left). For a
 * well-formed sequence (Unicode table 3-7) *ok is true and the result is its
 * length. Otherwise *ok is false and the result is the length of its maximal
 * subpart: the longest prefix that could still begin a well-formed sequence,
 * and at least 1. Replacing each maximal subpart with one U+FFFD is the
 * practice of Unicode chapter 3 and of the WHATWG decoder, so that a browser
 * shows the same text as moat does. Overlong forms (C0, C1, E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and code points past U+10FFFF
 * (F4 90.., F5..FF) fail at the byte that makes them so.
 */
static size_t utf8_next(const unsigned char *p, size_t avail, bool *ok)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;

    if (c < 0x80) {
        *ok = true;
        return 1;
    }
    if (c < 0xC2 || c > 0xF4) {
        *ok = false;
        return 1;
    }
    if (c < 0xE0) {
        need = 1;
    } else if (c < 0xF0) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    }
    size_t i = 1;
    while (i <= need && i < avail && p[i] >= lo && p[i] <= hi) {
        lo = 0x80;
        hi = 0xBF;
        i++;
    }
    *ok = i == need + 1;
    return i;
}

/* True when none of the 8 bytes at p has its high bit set. */
static inline bool ascii8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return (w & UINT64_C(0x8080808080808080)) == 0;
}

/* Offset of the first ill-formed sequence, or len when all is UTF-8. */
static size_t utf8_valid_prefix(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* Program output is mostly ASCII: skip it a word at a time. */
        while (len - i >= 8 && ascii8(p + i))
            i += 8;
        if (i == len)
            break;
        bool ok;
        size_t n = utf8_next(p + i, len - i, &ok);
        if (!ok)
            return i;
        i += n;
    }
    return len;
}

json_t *job_json_bytes(const char *data, size_t len)
{
    MOAT_ASSERT(data || len == 0);
    if (len == 0)
        return json_string_nocheck("");
    const unsigned char *p = (const unsigned char *)data;
    size_t i = utf8_valid_prefix(p, len);
    /* The common case: well-formed output is copied once, by jansson. */
    if (i == len)
        return json_stringn_nocheck(data, len);

    /* Each remaining byte grows to at most 3 (one U+FFFD per byte), so one
     * allocation of the worst case avoids any re-checking while copying.
     * Pages never written are never touched, so the slack costs no RSS. */
    size_t cap;
    if (!size_mul(len - i, 3, &cap) || !size_add(cap, i, &cap))
        return NULL;
    /* Freed by hand, not by _cleanup_free_: the analyzer of clang-tidy 14
     * does not model the cleanup attribute. */
    char *out = malloc(cap);
    if (!out)
        return NULL;
    memcpy(out, data, i);
    size_t o = i;
    while (i < len) {
        size_t run = i;
        while (len - run >= 8 && ascii8(p + run))
            run += 8;
        if (run > i) {
            memcpy(out + o, p + i, run - i);
            o += run - i;
            i = run;
            if (i == len)
                break;
        }
        bool ok;
        size_t n = utf8_next(p + i, len - i, &ok);
        if (ok) {
            memcpy(out + o, p + i, n);
            o += n;
        } else {
            out[o++] = (char)0xEF; /* U+FFFD REPLACEMENT CHARACTER */
            out[o++] = (char)0xBF;
            out[o++] = (char)0xBD;
        }
        i += n;
    }
    MOAT_ASSERT(o <= cap);
    /* Now well-formed by construction: skip jansson's second validation.
     * NUL bytes stay (the length is explicit); dumps write them as \u0000. */
    json_t *j = json_stringn_nocheck(out, o);
    free(out);
    return j;
}

/* JSON has one number type; a count past INT64_MAX is not real, but it
 * must not become negative either. */
_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "json_int_t is 64 bits");
static json_t *json_u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v);
}

/* Steals v (json_object_set_new_nocheck takes it even on failure, and fails
 * on v == NULL), so callers chain constructors without checking each one.
 * The keys are ASCII literals: no UTF-8 check needed. */
static bool put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new_nocheck(o, key, v) == 0; /* steals v */
}

static json_t *string_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *job_step_to_json(const struct job_step *s, bool is_compile)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char sentence[sizeof(s->message) + 64];
    const char *error = job_error_sentence(s, sentence, sizeof(sentence));
    /* Insertion order is the key order of every dump (jansson >= 2.8 keeps
     * it whether or not JSON_PRESERVE_ORDER is given). */
    bool ok =
        put(o, "verdict", string_or_null(job_verdict_name(s->verdict))) &&
        put(o, "exitCode", json_integer(s->exit_code)) &&
        put(o, "signal", s->signal > 0 ? json_string(job_signal_name(s->signal)) : json_null()) &&
        put(o, "timeMs", json_u64(s->time_ms)) && put(o, "wallTimeMs", json_u64(s->wall_time_ms)) &&
        put(o, "memoryKb", json_u64(s->memory_kb)) &&
        put(o, "stdout", job_json_bytes(s->out, s->out_len)) &&
        put(o, "stderr", job_json_bytes(s->err, s->err_len)) &&
        put(o, "stdoutTruncated", json_boolean(s->out_truncated)) &&
        put(o, "stderrTruncated", json_boolean(s->err_truncated)) &&
        (!is_compile || put(o, "cached", json_boolean(s->cached))) &&
        /* The sentence may quote a message of invalid UTF-8: repair. */
        put(o, "error", error ? job_json_bytes(error, strlen(error)) : json_null());
    if (ok && s->verdict == JOB_VERDICT_INTERNAL_ERROR)
        ok = put(o, "message", job_json_bytes(s->message, strnlen(s->message, sizeof(s->message))));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
