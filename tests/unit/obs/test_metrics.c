/* Metrics: values, escaping, concurrency, and the exposition format as a
 * Prometheus parser reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>

#include "moat/obs.h"
#include "moat/util.h"

/* ---- a small, strict parser of the text format 0.0.4 ---- */

#define MAX_LABELS 16
#define MAX_HIST_SERIES 64

struct sample {
    char name[128];
    char lnames[MAX_LABELS][64];
    char lvalues[MAX_LABELS][128];
    size_t nlabels;
    double value;
};

struct hist_series {
    char key[512]; /* labels other than le */
    double last_le;
    double last_count;
    bool has_inf, has_sum, has_count;
    double inf_count;
};

struct family_state {
    char name[128];
    char type[16];
    struct hist_series hs[MAX_HIST_SERIES];
    size_t nhs;
};

static bool is_name_char(char c, bool first, bool colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    if (colon && c == ':')
        return true;
    return !first && c >= '0' && c <= '9';
}

/* Reads a name at *p; false when there is none. */
static bool read_name(const char **p, char *out, size_t outsz, bool colon)
{
    size_t n = 0;
    while (is_name_char((*p)[n], n == 0, colon))
        n++;
    if (n == 0 || n >= outsz)
        return false;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return true;
}

static bool read_value(const char *s, double *out)
{
    if (!strcmp(s, "+Inf")) {
        *out = INFINITY;
        return true;
    }
    if (!strcmp(s, "-Inf")) {
        *out = -INFINITY;
        return true;
    }
    if (!strcmp(s, "NaN")) {
        *out = NAN;
        return true;
    }
    char *end = NULL;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && isfinite(*out);
}

/* One sample line (no newline) into smp; false on any syntax error. */
static bool parse_sample(const char *line, struct sample *smp)
{
    const char *p = line;
    memset(smp, 0, sizeof(*smp));
    if (!read_name(&p, smp->name, sizeof(smp->name), true))
        return false;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (smp->nlabels == MAX_LABELS)
                return false;
            char *ln = smp->lnames[smp->nlabels], *lv = smp->lvalues[smp->nlabels];
            if (!read_name(&p, ln, sizeof(smp->lnames[0]), false) || *p++ != '=' || *p++ != '"')
                return false;
            size_t n = 0;
            while (*p != '"') {
                if (!*p || *p == '\n' || n + 1 >= sizeof(smp->lvalues[0]))
                    return false;
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n')
                        return false;
                    lv[n++] = *p == 'n' ? '\n' : *p;
                    p++;
                } else {
                    lv[n++] = *p++;
                }
            }
            lv[n] = '\0';
            p++;
            smp->nlabels++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return false;
        }
        p++;
    }
    if (*p++ != ' ')
        return false;
    /* We never write timestamps: the value is the rest of the line. */
    return read_value(p, &smp->value);
}

static const char *label(const struct sample *smp, const char *name)
{
    for (size_t i = 0; i < smp->nlabels; i++)
        if (!strcmp(smp->lnames[i], name))
            return smp->lvalues[i];
    return NULL;
}

static struct hist_series *hist_series(struct family_state *fs, const struct sample *smp)
{
    char key[512] = "";
    for (size_t i = 0; i < smp->nlabels; i++) {
        if (!strcmp(smp->lnames[i], "le"))
            continue;
        size_t len = strlen(key);
        (void)snprintf(key + len, sizeof(key) - len, "%s=%s;", smp->lnames[i], smp->lvalues[i]);
    }
    for (size_t i = 0; i < fs->nhs; i++)
        if (!strcmp(fs->hs[i].key, key))
            return &fs->hs[i];
    assert_true(fs->nhs < MAX_HIST_SERIES);
    struct hist_series *h = &fs->hs[fs->nhs++];
    memset(h, 0, sizeof(*h));
    moat_strlcpy(h->key, key, sizeof(h->key));
    h->last_le = -INFINITY;
    return h;
}

static void check_histogram_sample(struct family_state *fs, const struct sample *smp)
{
    size_t n = strlen(fs->name);
    const char *suffix = smp->name + n;
    if (strncmp(smp->name, fs->name, n) != 0)
        fail_msg("sample %s outside family %s", smp->name, fs->name);
    struct hist_series *h = hist_series(fs, smp);
    if (!strcmp(suffix, "_bucket")) {
        const char *les = label(smp, "le");
        double le;
        assert_non_null(les);
        assert_true(read_value(les, &le));
        assert_false(h->has_inf);
        if (!(le > h->last_le))
            fail_msg("le %s not increasing", les);
        if (smp->value < h->last_count)
            fail_msg("bucket le=%s of %s not cumulative", les, smp->name);
        h->last_le = le;
        h->last_count = smp->value;
        if (isinf(le)) {
            h->has_inf = true;
            h->inf_count = smp->value;
        }
    } else if (!strcmp(suffix, "_sum")) {
        assert_null(label(smp, "le"));
        assert_true(smp->value >= 0);
        h->has_sum = true;
    } else if (!strcmp(suffix, "_count")) {
        assert_null(label(smp, "le"));
        assert_true(h->has_inf);
        assert_true(smp->value == h->inf_count);
        h->has_count = true;
    } else {
        fail_msg("sample %s outside histogram %s", smp->name, fs->name);
    }
}

static void finish_family(const struct family_state *fs)
{
    for (size_t i = 0; i < fs->nhs; i++)
        assert_true(fs->hs[i].has_inf && fs->hs[i].has_sum && fs->hs[i].has_count);
}

/* Checks a whole exposition; returns the number of families. */
static size_t check_exposition(const char *text)
{
    static struct family_state fs; /* large; one test thread at a time */
    char seen[64][128];
    size_t nseen = 0;
    memset(&fs, 0, sizeof(fs));
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends with a newline */
        char line[1024];
        size_t len = (size_t)(nl - p);
        assert_true(len > 0 && len < sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        if (!strncmp(line, "# HELP ", 7)) {
            const char *q = line + 7;
            char name[128];
            assert_true(read_name(&q, name, sizeof(name), true));
            assert_true(*q == ' ');
            for (q++; *q; q++)
                if (*q == '\\') {
                    q++;
                    assert_true(*q == '\\' || *q == 'n');
                }
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            const char *q = line + 7;
            finish_family(&fs);
            memset(&fs, 0, sizeof(fs));
            assert_true(read_name(&q, fs.name, sizeof(fs.name), true));
            assert_true(*q == ' ');
            moat_strlcpy(fs.type, q + 1, sizeof(fs.type));
            assert_true(!strcmp(fs.type, "counter") || !strcmp(fs.type, "gauge") ||
                        !strcmp(fs.type, "histogram"));
            for (size_t i = 0; i < nseen; i++)
                if (!strcmp(seen[i], fs.name))
                    fail_msg("family %s announced twice", fs.name);
            /* Families come sorted by name. */
            if (nseen)
                assert_true(strcmp(seen[nseen - 1], fs.name) < 0);
            assert_true(nseen < MOAT_ARRAY_SIZE(seen));
            moat_strlcpy(seen[nseen++], fs.name, sizeof(seen[0]));
            continue;
        }
        assert_true(line[0] != '#');
        struct sample smp;
        if (!parse_sample(line, &smp))
            fail_msg("bad sample line: %s", line);
        if (!fs.name[0])
            fail_msg("sample before any # TYPE: %s", line);
        if (!strcmp(fs.type, "histogram"))
            check_histogram_sample(&fs, &smp);
        else if (strcmp(smp.name, fs.name) != 0)
            fail_msg("sample %s outside family %s", smp.name, fs.name);
    }
    finish_family(&fs);
    return nseen;
}

/* ---- helpers ---- */

static char *render(struct obs_registry *reg)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(obs_render(reg, &b), 0);
    char *s = buf_steal(&b, NULL);
    assert_non_null(s);
    check_exposition(s);
    return s;
}

/* The value of the sample whose text before the value is key; fails when absent. */
static double value_of(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (!strncmp(p, key, n) && p[n] == ' ') {
            char v[64];
            size_t len = (size_t)(nl - (p + n + 1));
            assert_true(len < sizeof(v));
            memcpy(v, p + n + 1, len);
            v[len] = '\0';
            double d;
            assert_true(read_value(v, &d));
            return d;
        }
        p = nl + 1;
    }
    fail_msg("no sample %s in:\n%s", key, text);
    return NAN;
}

/* ---- tests ---- */

static void test_bucket_layout(void **state)
{
    (void)state;
    assert_int_equal(OBS_NBUCKETS, 31);
    assert_true(OBS_BUCKETS[0] == 0.0001);
    assert_true(OBS_BUCKETS[OBS_NBUCKETS - 1] == 10.0);
    for (size_t i = 1; i < OBS_NBUCKETS; i++) {
        assert_true(OBS_BUCKETS[i] > OBS_BUCKETS[i - 1]);
        /* resolution: neighbours at most 1.7x apart */
        assert_true(OBS_BUCKETS[i] / OBS_BUCKETS[i - 1] < 1.7);
    }
}

static void test_counter_gauge_values(void **state)
{
    (void)state;
    struct obs_registry *reg = obs_registry_new();
    assert_non_null(reg);
    struct obs_counter *ok = obs_counter(reg, "moat_jobs_total", "Jobs.", "verdict=\"ok\"");
    struct obs_counter *tle = obs_counter(reg, "moat_jobs_total", NULL, "verdict=\"time_limit\"");
    assert_non_null(ok);
    assert_non_null(tle);
    assert_ptr_not_equal(ok, tle);
    assert_ptr_equal(obs_counter(reg, "moat_jobs_total", NULL, "verdict=\"ok\""), ok);
    struct obs_counter *plain = obs_counter(reg, "moat_requests_total", "Requests.", NULL);
    assert_ptr_equal(obs_counter(reg, "moat_requests_total", NULL, ""), plain);
    obs_counter_add(ok, 1);
    obs_counter_add(ok, 41);
    obs_counter_add(tle, 3);
    obs_counter_add(NULL, 5);

    struct obs_gauge *g = obs_gauge(reg, "moat_busy", "Busy executors.", NULL);
    assert_non_null(g);
    obs_gauge_set(g, 10);
    obs_gauge_add(g, -13);

    char *s = render(reg);
    assert_true(value_of(s, "moat_jobs_total{verdict=\"ok\"}") == 42);
    assert_true(value_of(s, "moat_jobs_total{verdict=\"time_limit\"}") == 3);
    assert_true(value_of(s, "moat_requests_total") == 0);
    assert_true(value_of(s, "moat_busy") == -3);
    assert_non_null(strstr(s, "# HELP moat_jobs_total Jobs.\n# TYPE moat_jobs_total counter\n"));
    assert_non_null(strstr(s, "# TYPE moat_busy gauge\n"));
    free(s);
    obs_registry_free(reg);
}

static void test_histogram_values(void **state)
{
    (void)state;
    struct obs_registry *reg = obs_registry_new();
    assert_non_null(reg);
    struct obs_histogram *h = obs_histogram(reg, "moat_run_seconds", "Run time.", "language=\"c\"");
    assert_non_null(h);
    obs_histogram_observe(h, 0.00005);
    obs_histogram_observe(h, 0.0001); /* le is inclusive */
    obs_histogram_observe(h, 0.25);
    obs_histogram_observe(h, 11);
    obs_histogram_observe(h, -1);                          /* a clock oddity: counted as 0 */
    obs_histogram_observe(h, NAN);                         /* dropped */
    obs_histogram_since(h, moat_now_ns() + 1000000000ull); /* a start in the future: 0 */

    char *s = render(reg);
    assert_true(value_of(s, "moat_run_seconds_bucket{language=\"c\",le=\"0.0001\"}") == 4);
    assert_true(value_of(s, "moat_run_seconds_bucket{language=\"c\",le=\"0.2\"}") == 4);
    assert_true(value_of(s, "moat_run_seconds_bucket{language=\"c\",le=\"0.3\"}") == 5);
    assert_true(value_of(s, "moat_run_seconds_bucket{language=\"c\",le=\"10\"}") == 5);
    assert_true(value_of(s, "moat_run_seconds_bucket{language=\"c\",le=\"+Inf\"}") == 6);
    assert_true(value_of(s, "moat_run_seconds_count{language=\"c\"}") == 6);
    assert_true(fabs(value_of(s, "moat_run_seconds_sum{language=\"c\"}") - 11.25015) < 1e-9);
    free(s);

    /* Without labels, le is the only label. */
    struct obs_histogram *h2 = obs_histogram(reg, "moat_wait_seconds", "Wait.", NULL);
    obs_histogram_observe(h2, 0.004);
    s = render(reg);
    assert_true(value_of(s, "moat_wait_seconds_bucket{le=\"0.003\"}") == 0);
    assert_true(value_of(s, "moat_wait_seconds_bucket{le=\"0.005\"}") == 1);
    assert_true(value_of(s, "moat_wait_seconds_sum") == 0.004);
    free(s);
    obs_registry_free(reg);
}

static void test_label_escape(void **state)
{
    (void)state;
    char dst[64];
    assert_string_equal(obs_label_escape("a\"b\\c\nd", dst, sizeof(dst)), "a\\\"b\\\\c\\nd");
    assert_string_equal(obs_label_escape(NULL, dst, sizeof(dst)), "");
    assert_string_equal(obs_label_escape("plain", dst, sizeof(dst)), "plain");
    /* Truncation never leaves half an escape. */
    assert_string_equal(obs_label_escape("ab\"c", dst, 4), "ab");
    assert_string_equal(obs_label_escape("ab\"c", dst, 5), "ab\\\"");
    assert_string_equal(obs_label_escape("abcdef", dst, 4), "abc");
    dst[0] = 'x';
    assert_ptr_equal(obs_label_escape("abc", dst, 0), dst);
    assert_int_equal(dst[0], 'x');

    /* An escaped value renders into something a parser reads back. */
    struct obs_registry *reg = obs_registry_new();
    assert_non_null(reg);
    char esc[64], labels[96];
    obs_label_escape("we\"ird\\lang\n", esc, sizeof(esc));
    (void)snprintf(labels, sizeof(labels), "language=\"%s\"", esc);
    obs_counter_add(obs_counter(reg, "moat_x_total", "Help with \\ and\na newline.", labels), 7);
    char *s = render(reg);
    assert_non_null(strstr(s, "# HELP moat_x_total Help with \\\\ and\\na newline.\n"));
    struct sample smp;
    const char *line = strstr(s, "moat_x_total{");
    assert_non_null(line);
    char copy[256];
    moat_strlcpy(copy, line, sizeof(copy));
    *strchr(copy, '\n') = '\0';
    assert_true(parse_sample(copy, &smp));
    assert_string_equal(label(&smp, "language"), "we\"ird\\lang\n");
    assert_true(smp.value == 7);
    free(s);
    obs_registry_free(reg);
}

#define THREADS 8
#define ITERS 50000

struct worker {
    struct obs_registry *reg;
    unsigned n;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    char labels[32];
    (void)snprintf(labels, sizeof(labels), "thread=\"%u\"", w->n);
    struct obs_counter *shared = obs_counter(w->reg, "moat_ops_total", "Ops.", NULL);
    struct obs_histogram *h = obs_histogram(w->reg, "moat_op_seconds", "Op time.", NULL);
    struct obs_gauge *g = obs_gauge(w->reg, "moat_level", "Level.", NULL);
    if (!shared || !h || !g)
        return (void *)1;
    for (unsigned i = 0; i < ITERS; i++) {
        obs_counter_add(shared, 1);
        obs_histogram_observe(h, 0.001);
        obs_gauge_add(g, i % 2 ? -1 : 1);
        if (i % 100 == 0) {
            /* Lookups and creations racing with the updates. */
            struct obs_counter *mine = obs_counter(w->reg, "moat_per_thread_total", "Per.", labels);
            if (!mine)
                return (void *)1;
            obs_counter_add(mine, 100);
        }
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    struct obs_registry *reg = obs_registry_new();
    assert_non_null(reg);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.reg = reg, .n = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    /* Scrapes during the updates stay well-formed; checked once the
     * threads are joined, so that a failure does not leave them running. */
    char *scrapes[20];
    int rc[20];
    for (int i = 0; i < 20; i++) {
        struct buf b;
        buf_init(&b, 1 << 20);
        rc[i] = obs_render(reg, &b);
        scrapes[i] = buf_steal(&b, NULL);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    for (int i = 0; i < 20; i++) {
        assert_int_equal(rc[i], 0);
        assert_non_null(scrapes[i]);
        check_exposition(scrapes[i]);
        free(scrapes[i]);
    }
    char *s = render(reg);
    assert_true(value_of(s, "moat_ops_total") == THREADS * ITERS);
    assert_true(value_of(s, "moat_op_seconds_count") == THREADS * ITERS);
    assert_true(value_of(s, "moat_op_seconds_bucket{le=\"0.0007\"}") == 0);
    assert_true(value_of(s, "moat_op_seconds_bucket{le=\"0.001\"}") == THREADS * ITERS);
    /* 400000 * 1 ms, exactly */
    assert_non_null(strstr(s, "moat_op_seconds_sum 400.000000000\n"));
    assert_true(value_of(s, "moat_level") == 0);
    for (unsigned i = 0; i < THREADS; i++) {
        char key[64];
        (void)snprintf(key, sizeof(key), "moat_per_thread_total{thread=\"%u\"}", i);
        assert_true(value_of(s, key) == ITERS);
    }
    free(s);
    obs_registry_free(reg);
}

static int64_t read_cls(void *cls)
{
    return *(const int64_t *)cls;
}

static int64_t minus_one(void *cls)
{
    (void)cls;
    return -1;
}

static void test_type_clash_and_names(void **state)
{
    (void)state;
    struct obs_registry *reg = obs_registry_new();
    assert_non_null(reg);
    assert_non_null(obs_counter(reg, "moat_thing", "A thing.", NULL));
    assert_null(obs_gauge(reg, "moat_thing", NULL, NULL));
    assert_null(obs_gauge(reg, "moat_thing", NULL, "other=\"labels\""));
    assert_null(obs_histogram(reg, "moat_thing", NULL, NULL));
    int64_t v = 1;
    assert_int_equal(obs_gauge_callback(reg, "moat_thing", NULL, NULL, read_cls, &v), -EINVAL);
    assert_null(obs_counter(reg, "9starts_with_digit", NULL, NULL));
    assert_null(obs_counter(reg, "has space", NULL, NULL));
    assert_null(obs_counter(reg, "", NULL, NULL));
    assert_non_null(obs_counter(reg, "ns:sub_total9", NULL, NULL));
    /* The first HELP wins. */
    assert_non_null(obs_counter(reg, "moat_thing", "Another help.", "x=\"1\""));
    char *s = render(reg);
    assert_non_null(strstr(s, "# HELP moat_thing A thing.\n"));
    assert_null(strstr(s, "Another help."));
    assert_int_equal(check_exposition(s), 2);
    free(s);
    obs_registry_free(reg);
}

static void test_callback_gauges(void **state)
{
    (void)state;
    struct obs_registry *reg = obs_registry_new();
    assert_non_null(reg);
    int64_t depth = 5;
    assert_int_equal(
        obs_gauge_callback(reg, "moat_queue_depth", "Jobs waiting.", NULL, read_cls, &depth), 0);
    assert_int_equal(
        obs_gauge_callback(reg, "moat_warm_boxes", "Warm.", "pool=\"a\"", minus_one, NULL), 0);
    char *s = render(reg);
    assert_true(value_of(s, "moat_queue_depth") == 5);
    assert_true(value_of(s, "moat_warm_boxes{pool=\"a\"}") == -1);
    free(s);
    depth = 123;
    s = render(reg);
    assert_true(value_of(s, "moat_queue_depth") == 123);
    free(s);

    /* Replacing a callback is allowed; taking over a set gauge is not. */
    assert_int_equal(obs_gauge_callback(reg, "moat_queue_depth", NULL, NULL, minus_one, NULL), 0);
    assert_null(obs_gauge(reg, "moat_queue_depth", NULL, NULL));
    struct obs_gauge *g = obs_gauge(reg, "moat_set", "Set.", NULL);
    assert_non_null(g);
    obs_gauge_set(g, 9);
    assert_int_equal(obs_gauge_callback(reg, "moat_set", NULL, NULL, minus_one, NULL), -EEXIST);
    assert_int_equal(obs_gauge_callback(reg, "moat_set", NULL, NULL, NULL, NULL), -EINVAL);
    s = render(reg);
    assert_true(value_of(s, "moat_queue_depth") == -1);
    assert_true(value_of(s, "moat_set") == 9);
    free(s);
    obs_registry_free(reg);
}

static void test_render_format(void **state)
{
    (void)state;
    struct obs_registry *reg = obs_registry_new();
    assert_non_null(reg);
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(obs_render(reg, &b), 0);
    assert_int_equal(b.len, 0);

    /* Created out of order: rendered sorted by family, series in creation order. */
    obs_histogram_observe(obs_histogram(reg, "moat_z_seconds", "Z.", "k=\"2\""), 0.5);
    obs_histogram_observe(obs_histogram(reg, "moat_z_seconds", "Z.", "k=\"1\""), 0.02);
    obs_counter_add(obs_counter(reg, "moat_b_total", "B.", "a=\"x\",b=\"y\""), 2);
    obs_gauge_set(obs_gauge(reg, "moat_a", "A.", NULL), 1);
    assert_int_equal(obs_render(reg, &b), 0);
    assert_int_equal(buf_terminate(&b), 0);
    assert_int_equal(check_exposition(b.data), 3);
    const char *a = strstr(b.data, "# TYPE moat_a gauge");
    const char *bt = strstr(b.data, "# TYPE moat_b_total counter");
    const char *z = strstr(b.data, "# TYPE moat_z_seconds histogram");
    assert_true(a && bt && z && a < bt && bt < z);
    const char *k2 = strstr(b.data, "moat_z_seconds_bucket{k=\"2\",le=\"0.0001\"} 0\n");
    const char *k1 = strstr(b.data, "moat_z_seconds_bucket{k=\"1\",le=\"0.0001\"} 0\n");
    assert_true(k2 && k1 && k2 < k1);
    assert_true(value_of(b.data, "moat_b_total{a=\"x\",b=\"y\"}") == 2);
    /* 32 bucket lines per series */
    size_t nbuckets = 0;
    for (const char *p = b.data; (p = strstr(p, "moat_z_seconds_bucket{k=\"1\"")); p++)
        nbuckets++;
    assert_int_equal(nbuckets, OBS_NBUCKETS + 1);

    /* Output that does not fit changes nothing. */
    struct buf small;
    buf_init(&small, 100);
    assert_int_equal(buf_append(&small, "keep", 4), 0);
    assert_int_equal(obs_render(reg, &small), -ENOBUFS);
    assert_int_equal(small.len, 4);
    buf_release(&small);
    buf_release(&b);
    obs_registry_free(reg);
    obs_registry_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_layout),      cmocka_unit_test(test_counter_gauge_values),
        cmocka_unit_test(test_histogram_values),   cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_concurrent_updates), cmocka_unit_test(test_type_clash_and_names),
        cmocka_unit_test(test_callback_gauges),    cmocka_unit_test(test_render_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
