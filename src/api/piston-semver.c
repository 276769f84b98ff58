/*
 * node-semver's range matching, as Piston picks a runtime with
 * semver.satisfies(runtime.version, request.version). Every range is
 * lowered to primitive comparisons (>=, >, <=, <, =) against full
 * three-part versions, then checked: the desugaring rules are
 * node-semver's (README "Advanced Range Syntax"), so "3.11" means
 * >=3.11.0 <3.12.0-0 and "^0.2.3" means >=0.2.3 <0.3.0-0.
 *
 * moat's versions are release numbers probed from the host ("3.11.2",
 * "12.2.0", sometimes two parts): pre-release tags play no part, so they
 * are skipped on both sides rather than ordered.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "piston-internal.h"

#define RANGE_MAX_BYTES 256
#define PRIMS_MAX 64 /* primitive comparisons in one alternative */
#define PART_MAX 2147483647ULL

enum prim_op { PRIM_GE, PRIM_GT, PRIM_LE, PRIM_LT, PRIM_EQ, PRIM_NONE };

struct ver {
    uint64_t p[3];
};

struct prim {
    enum prim_op op;
    struct ver v;
};

/* An alternative: every primitive must hold; none at all = any version. */
struct alt {
    struct prim prims[PRIMS_MAX];
    size_t n;
    bool never; /* a comparator no version satisfies (">*", "<0.x") */
};

/* A partial version as written: n parts given (0..3), x, X or * stop it. */
struct partial {
    struct ver v;
    unsigned n;
};

static int cmp_ver(const struct ver *a, const struct ver *b)
{
    for (size_t i = 0; i < 3; i++)
        if (a->p[i] != b->p[i])
            return a->p[i] < b->p[i] ? -1 : 1;
    return 0;
}

/* Reads "1", "1.2.3", "1.x", "*", "v1.2": digits or wildcards, up to
 * three parts, then an optional -pre / +build suffix, to the end of
 * [s, end). false for anything else. */
static bool parse_partial(const char *s, const char *end, struct partial *out)
{
    *out = (struct partial){0};
    if (s < end && (*s == 'v' || *s == 'V' || *s == '='))
        s++;
    if (s < end && (*s == 'v' || *s == 'V'))
        s++;
    bool wild = false;
    for (unsigned part = 0; part < 3; part++) {
        if (s >= end)
            return part > 0;
        if (*s == 'x' || *s == 'X' || *s == '*') {
            wild = true;
            s++;
        } else if (isdigit((unsigned char)*s)) {
            uint64_t n = 0;
            while (s < end && isdigit((unsigned char)*s)) {
                n = n * 10 + (uint64_t)(*s - '0');
                if (n > PART_MAX)
                    return false;
                s++;
            }
            if (!wild) { /* "1.x.3" is read as "1.x" */
                out->v.p[part] = n;
                out->n = part + 1;
            }
        } else {
            return false;
        }
        if (s < end && *s == '.') {
            s++;
            if (s >= end)
                return false;
            continue;
        }
        break;
    }
    if (s < end && (*s == '-' || *s == '+')) /* a pre-release or build: skipped */
        return s + 1 < end;
    return s == end;
}

static bool add(struct alt *a, enum prim_op op, struct ver v)
{
    if (a->n >= PRIMS_MAX)
        return false;
    a->prims[a->n++] = (struct prim){op, v};
    return true;
}

/* The version just past a partial: 1 -> 2.0.0, 1.2 -> 1.3.0. */
static struct ver bump(const struct partial *p)
{
    struct ver v = {{0, 0, 0}};
    for (unsigned i = 0; i < p->n; i++)
        v.p[i] = p->v.p[i];
    v.p[p->n - 1]++;
    for (unsigned i = p->n; i < 3; i++)
        v.p[i] = 0;
    return v;
}

/* The same partial as a lower bound: missing parts are 0. */
static bool lower_bound(struct alt *a, const struct partial *p)
{
    return p->n == 0 || add(a, PRIM_GE, p->v);
}

static bool caret(struct alt *a, const struct partial *p)
{
    if (p->n == 0)
        return true;
    if (!add(a, PRIM_GE, p->v))
        return false;
    struct partial upto = *p;
    /* the first non-zero part given is the one that may not change */
    if (p->v.p[0] > 0 || p->n == 1)
        upto.n = 1;
    else if (p->v.p[1] > 0 || p->n == 2)
        upto.n = 2;
    else
        upto.n = 3;
    return add(a, PRIM_LT, bump(&upto));
}

/* One comparator: an operator (maybe none) and a partial version. */
static bool comparator(struct alt *a, const char *s, const char *end)
{
    enum prim_op op = PRIM_EQ;
    char sigil = 0;
    if (end - s >= 2 && (memcmp(s, ">=", 2) == 0 || memcmp(s, "<=", 2) == 0)) {
        op = s[0] == '>' ? PRIM_GE : PRIM_LE;
        s += 2;
    } else if (end - s >= 2 && memcmp(s, "~>", 2) == 0) {
        sigil = '~';
        s += 2;
    } else if (s < end && (*s == '>' || *s == '<')) {
        op = *s == '>' ? PRIM_GT : PRIM_LT;
        s++;
    } else if (s < end && (*s == '^' || *s == '~')) {
        sigil = *s++;
    }
    struct partial p;
    if (s >= end || !parse_partial(s, end, &p))
        return false;
    if (sigil == '^')
        return caret(a, &p);
    if (sigil == '~') {
        if (p.n == 0)
            return true;
        struct partial upto = p;
        upto.n = p.n == 1 ? 1 : 2;
        return add(a, PRIM_GE, p.v) && add(a, PRIM_LT, bump(&upto));
    }
    switch (op) {
    case PRIM_EQ:
        if (p.n == 3)
            return add(a, PRIM_EQ, p.v);
        return p.n == 0 || (add(a, PRIM_GE, p.v) && add(a, PRIM_LT, bump(&p)));
    case PRIM_GT:
        if (p.n == 0)
            a->never = true;
        return p.n == 0 || add(a, p.n == 3 ? PRIM_GT : PRIM_GE, p.n == 3 ? p.v : bump(&p));
    case PRIM_GE:
        return lower_bound(a, &p);
    case PRIM_LT:
        if (p.n == 0)
            a->never = true;
        return p.n == 0 || add(a, PRIM_LT, p.v);
    case PRIM_LE:
        return p.n == 0 || add(a, p.n == 3 ? PRIM_LE : PRIM_LT, p.n == 3 ? p.v : bump(&p));
    case PRIM_NONE:
        break;
    }
    return false;
}

/* "A - B": >=A, and below B's next version when B is partial. */
static bool hyphen(struct alt *a, const char *lo, const char *lo_end, const char *hi,
                   const char *hi_end)
{
    struct partial p, q;
    if (!parse_partial(lo, lo_end, &p) || !parse_partial(hi, hi_end, &q))
        return false;
    if (!lower_bound(a, &p))
        return false;
    if (q.n == 0)
        return true;
    return q.n == 3 ? add(a, PRIM_LE, q.v) : add(a, PRIM_LT, bump(&q));
}

static const char *skip_space(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

static const char *word_end(const char *s, const char *end)
{
    while (s < end && *s != ' ' && *s != '\t')
        s++;
    return s;
}

/* One alternative (no "||"): comparators separated by spaces, an operator
 * standing alone joined to the version after it ("> 1.2"), or a hyphen
 * range. */
static bool parse_alt(struct alt *a, const char *s, const char *end)
{
    *a = (struct alt){0};
    s = skip_space(s, end);
    while (s < end) {
        const char *w = s, *we = word_end(s, end);
        const char *next = skip_space(we, end);
        /* "A - B" */
        if (next < end && *next == '-' && word_end(next, end) == next + 1) {
            const char *b = skip_space(next + 1, end);
            if (b >= end)
                return false;
            const char *be = word_end(b, end);
            if (!hyphen(a, w, we, b, be))
                return false;
            s = skip_space(be, end);
            continue;
        }
        /* an operator alone: the version is the next word */
        size_t wl = (size_t)(we - w);
        if (wl <= 2 && strspn(w, "<>=~^") >= wl && next < end) {
            char joined[RANGE_MAX_BYTES + 4];
            const char *ve = word_end(next, end);
            size_t vl = (size_t)(ve - next);
            if (wl + vl >= sizeof(joined))
                return false;
            memcpy(joined, w, wl);
            memcpy(joined + wl, next, vl);
            if (!comparator(a, joined, joined + wl + vl))
                return false;
            s = skip_space(ve, end);
            continue;
        }
        if (!comparator(a, w, we))
            return false;
        s = next;
    }
    return true;
}

static bool holds(const struct prim *p, const struct ver *v)
{
    int c = cmp_ver(v, &p->v);
    switch (p->op) {
    case PRIM_GE:
        return c >= 0;
    case PRIM_GT:
        return c > 0;
    case PRIM_LE:
        return c <= 0;
    case PRIM_LT:
        return c < 0;
    case PRIM_EQ:
        return c == 0;
    case PRIM_NONE:
        break;
    }
    return false;
}

bool api_piston_version_matches(const char *version, const char *range)
{
    struct partial have;
    if (!version || !range || !parse_partial(version, version + strlen(version), &have) ||
        have.n == 0)
        return false;
    size_t len = strnlen(range, RANGE_MAX_BYTES + 1);
    if (len > RANGE_MAX_BYTES)
        return false;
    const char *s = range, *end = range + len;
    struct alt a;
    bool any = false;
    while (true) {
        const char *bar = s;
        while (bar + 1 < end && !(bar[0] == '|' && bar[1] == '|'))
            bar++;
        const char *alt_end = bar + 1 < end ? bar : end;
        if (!parse_alt(&a, s, alt_end))
            return false; /* one unreadable alternative: node-semver refuses the range */
        bool ok = !a.never;
        for (size_t i = 0; ok && i < a.n; i++)
            ok = holds(&a.prims[i], &have.v);
        any = any || ok;
        if (alt_end == end)
            break;
        s = alt_end + 2;
    }
    return any;
}
