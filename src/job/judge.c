/*
 * Judging a run's output against the expected one. Pure and bounded: no
 * allocation, linear in the two texts, whatever bytes they hold (program
 * output is hostile: NULs, invalid UTF-8, 16 MiB without a newline).
 *
 * The modes, from strictest:
 *   exact   byte for byte;
 *   trim    Judge0's rule: every line right-trimmed, then the whole text
 *           (trailing blank lines and a missing last newline do not
 *           matter; leading blanks do). Whitespace is Ruby's rstrip set:
 *           space, \t, \n, \v, \f, \r and NUL;
 *   tokens  the same whitespace-separated tokens, however spaced;
 *   float   tokens, where two that both read as finite numbers match
 *           within an absolute or a relative tolerance.
 */
#include "moat/job.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const compare_names[JOB_COMPARE_MAX_] = {
    [JOB_COMPARE_EXACT] = "exact",
    [JOB_COMPARE_TRIM] = "trim",
    [JOB_COMPARE_TOKENS] = "tokens",
    [JOB_COMPARE_FLOAT] = "float",
};

const char *job_compare_name(enum job_compare c)
{
    return c >= 0 && c < JOB_COMPARE_MAX_ ? compare_names[c] : NULL;
}

int job_compare_parse(const char *name, enum job_compare *out)
{
    for (int i = 0; name && i < JOB_COMPARE_MAX_; i++) {
        if (strcmp(name, compare_names[i]) == 0) {
            *out = (enum job_compare)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* Ruby's String#rstrip set, which Judge0's trim uses. */
static bool trim_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == '\0';
}

/* C's isspace in the "C" locale: what separates tokens (NUL is a byte of
 * a token, as any other). */
static bool token_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* ---- trim ---- */

/* The length of p once right-trimmed. */
static size_t rtrimmed(const char *p, size_t n)
{
    while (n > 0 && trim_space(p[n - 1]))
        n--;
    return n;
}

/* The next line of [*pos, end) without its newline, right-trimmed; *pos
 * moves past the newline. */
static size_t next_line(const char *p, size_t end, size_t *pos, const char **line)
{
    size_t start = *pos;
    const char *nl = memchr(p + start, '\n', end - start);
    size_t stop = nl ? (size_t)(nl - p) : end;
    *pos = nl ? stop + 1 : end;
    *line = p + start;
    return rtrimmed(p + start, stop - start);
}

static bool trim_equal(const char *a, size_t na, const char *b, size_t nb)
{
    /* the whole text right-trimmed: what is left ends at its last
     * non-blank byte, so trailing blank lines are gone too */
    na = rtrimmed(a, na);
    nb = rtrimmed(b, nb);
    size_t pa = 0, pb = 0;
    while (pa < na && pb < nb) {
        const char *la = NULL, *lb = NULL;
        size_t ka = next_line(a, na, &pa, &la), kb = next_line(b, nb, &pb, &lb);
        if (ka != kb || memcmp(la, lb, ka) != 0)
            return false;
    }
    return pa >= na && pb >= nb;
}

/* ---- tokens ---- */

/* The next token of p[*pos, n): its start in *tok, its length (0: none
 * left). */
static size_t next_token(const char *p, size_t n, size_t *pos, const char **tok)
{
    size_t i = *pos;
    while (i < n && token_space(p[i]))
        i++;
    size_t start = i;
    while (i < n && !token_space(p[i]))
        i++;
    *pos = i;
    *tok = p + start;
    return i - start;
}

/* Longest token read as a number: longer ones are compared as text. */
#define NUMBER_MAX 64

/* The finite number a whole token spells, or false. */
static bool token_number(const char *t, size_t n, double *v)
{
    if (n == 0 || n > NUMBER_MAX)
        return false;
    char buf[NUMBER_MAX + 1];
    memcpy(buf, t, n);
    buf[n] = '\0';
    if (memchr(buf, '\0', n))
        return false; /* a NUL inside: not a number */
    char *end = NULL;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || !isfinite(d))
        return false;
    *v = d;
    return true;
}

static bool numbers_close(double got, double want, const struct job_compare_opts *o)
{
    double diff = fabs(got - want);
    return diff <= o->abs_tol || diff <= o->rel_tol * fabs(want);
}

static bool tokens_equal(const char *a, size_t na, const char *b, size_t nb,
                         const struct job_compare_opts *o)
{
    size_t pa = 0, pb = 0;
    for (;;) {
        const char *ta = NULL, *tb = NULL;
        size_t ka = next_token(a, na, &pa, &ta), kb = next_token(b, nb, &pb, &tb);
        if (ka == 0 || kb == 0)
            return ka == kb;
        if (ka == kb && memcmp(ta, tb, ka) == 0)
            continue;
        double x = 0, y = 0;
        if (o->mode != JOB_COMPARE_FLOAT || !token_number(ta, ka, &x) ||
            !token_number(tb, kb, &y) || !numbers_close(x, y, o))
            return false;
    }
}

void job_step_judge(struct job_step *s, const char *want, size_t want_len,
                    const struct job_compare_opts *o, enum job_verdict on_match)
{
    if (s->verdict != JOB_VERDICT_OK)
        return;
    s->verdict = job_output_matches(s->out, s->out_len, want, want_len, o)
                     ? on_match
                     : JOB_VERDICT_WRONG_ANSWER;
}

bool job_output_matches(const char *got, size_t got_len, const char *want, size_t want_len,
                        const struct job_compare_opts *o)
{
    got = got ? got : "";
    want = want ? want : "";
    switch (o->mode) {
    case JOB_COMPARE_TRIM:
        return trim_equal(got, got_len, want, want_len);
    case JOB_COMPARE_TOKENS:
    case JOB_COMPARE_FLOAT:
        return tokens_equal(got, got_len, want, want_len, o);
    case JOB_COMPARE_EXACT:
    case JOB_COMPARE_MAX_:
        break;
    }
    return got_len == want_len && memcmp(got, want, got_len) == 0;
}
