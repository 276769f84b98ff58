/*
 * The cgroup parsers read kernel text, and on a host where someone else
 * mounts cgroupfs (a container runtime, a fake tree) the text is whatever
 * that is. Each parser runs on the input and is compared with an
 * independent reference written here from the grammar: one number with an
 * optional final newline, the "key N" line of a flat keyed file, a token of
 * a list, one mountinfo line. Inputs are cut at their first NUL, as the
 * readers hand the parsers C strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/cgroup-internal.h"

#include "fuzz.h"

/* A decimal number of 1..23 characters that fits in 64 bits: 0, -EINVAL or
 * -ERANGE (past 23 characters the text is refused unread: -EINVAL). As
 * with strtoull, a digit run too large for 64 bits is -ERANGE whatever
 * follows it. */
static int ref_number(const char *p, size_t len, uint64_t *out)
{
    if (len == 0 || len > 23 || p[0] < '0' || p[0] > '9')
        return -EINVAL;
    uint64_t v = 0;
    bool over = false;
    size_t i = 0;
    for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (over)
        return -ERANGE;
    if (i != len)
        return -EINVAL;
    *out = v;
    return 0;
}

static void check_u64(const char *text)
{
    size_t len = strlen(text);
    int want;
    uint64_t wv = 0, got = 0;
    const char *nl = strchr(text, '\n');
    if (nl && nl != text + len - 1)
        want = -EINVAL; /* a second line */
    else
        want = ref_number(text, nl ? len - 1 : len, &wv);
    int r = cg_parse_u64(text, &got);
    CHECK(r == want);
    if (r == 0)
        CHECK(got == wv);
}

static int ref_keyed(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return ref_number(line + klen + 1, len - klen - 1, out);
        line += len + (end ? 1 : 0);
    }
    return -ENOENT;
}

static void check_keyed(const char *text, const char *key)
{
    uint64_t wv = 0, got = 0;
    int want = ref_keyed(text, key, &wv);
    int r = cg_parse_keyed(text, key, &got);
    CHECK(r == want);
    if (r == 0)
        CHECK(got == wv);
}

static bool ref_words_has(const char *list, const char *word, char sep)
{
    const char *p = list;
    for (;;) {
        while (*p && (*p == sep || *p == ' ' || *p == '\n'))
            p++;
        if (!*p)
            return false;
        size_t n = strcspn(p, (char[]){sep, ' ', '\n', '\0'});
        const char *t = p[0] == '+' ? p + 1 : p;
        size_t tn = p[0] == '+' ? n - 1 : n;
        if (tn > 0 && tn == strlen(word) && strncmp(t, word, tn) == 0)
            return true;
        p += n;
    }
}

static void check_words(const char *text, const char *word, char sep)
{
    CHECK(cg_words_has(text, word, sep) == ref_words_has(text, word, sep));
}

/* mountinfo: tokens split at runs of spaces; the first is "-" at index 6 or
 * later; fstype and super options are the first and third after it. */
static int ref_unescape(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; s[i]; i++) {
        char ch = s[i];
        if (ch == '\\' && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
            s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            ch = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        }
        if (ch == '\0' || n + 1 >= size)
            return -ENAMETOOLONG;
        out[n++] = ch;
    }
    out[n] = '\0';
    return 0;
}

static void check_mountinfo(const char *text)
{
    size_t len = strlen(text);
    char *line = malloc(len + 1), *copy = malloc(len + 1);
    CHECK(line && copy);
    memcpy(line, text, len + 1);
    memcpy(copy, text, len + 1);
    copy[strcspn(copy, "\n")] = '\0';

    /* the reference */
    char *tok[64];
    size_t ntok = 0;
    bool too_many = false;
    for (char *p = copy; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (ntok == 64) {
            too_many = true;
            break;
        }
        tok[ntok++] = p;
        p += strcspn(p, " ");
        if (*p)
            *p++ = '\0';
    }
    size_t sep = 0;
    for (size_t i = 6; i < ntok; i++) {
        if (strcmp(tok[i], "-") == 0) {
            sep = i;
            break;
        }
    }

    struct cg_mount m;
    memset(&m, 0x55, sizeof m);
    int r = cg_mountinfo_parse_line(line, &m);
    CHECK(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
    if (r == 0) {
        CHECK(memchr(m.dev, '\0', sizeof m.dev) && memchr(m.path, '\0', sizeof m.path));
        CHECK(memchr(m.fstype, '\0', sizeof m.fstype) && memchr(m.super, '\0', sizeof m.super));
        CHECK(!strchr(m.fstype, ' ') && !strchr(m.super, ' ') && !strchr(m.dev, ' '));
    }
    if (!too_many) {
        bool shape = sep > 0 && ntok >= sep + 4;
        if (r == 0) {
            CHECK(shape);
            char path[PATH_MAX];
            CHECK(ref_unescape(tok[4], path, sizeof path) == 0);
            CHECK(strcmp(m.path, path) == 0);
            CHECK(strcmp(m.dev, tok[2]) == 0);
            CHECK(strcmp(m.fstype, tok[sep + 1]) == 0);
            CHECK(strcmp(m.super, tok[sep + 3]) == 0);
        } else if (r == -EINVAL) {
            CHECK(!shape);
        } else {
            /* a field too long for its place */
            char path[PATH_MAX];
            CHECK(ntok > 2);
            CHECK(strlen(tok[2]) >= sizeof m.dev ||
                  (ntok > 4 && ref_unescape(tok[4], path, sizeof path) < 0) ||
                  (sep > 0 && ntok > sep + 1 && strlen(tok[sep + 1]) >= sizeof m.fstype) ||
                  (sep > 0 && ntok > sep + 3 && strlen(tok[sep + 3]) >= sizeof m.super));
        }
    }
    free(line);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';

    check_u64(text);
    static const char *const keys[] = {"oom_kill", "usage_usec", "total_rss", "a", ""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        check_keyed(text, keys[i]);
    /* a key taken from the input itself: its first word */
    char key[32];
    size_t kl = strcspn(text, " \n");
    if (kl < sizeof key) {
        memcpy(key, text, kl);
        key[kl] = '\0';
        check_keyed(text, key);
        check_words(text, key, ',');
    }
    static const char *const words[] = {"memory", "pids", "cpu", "cpuacct", "+", ""};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        check_words(text, words[i], ',');
        check_words(text, words[i], ' ');
    }
    check_mountinfo(text);
    free(text);
    return 0;
}
