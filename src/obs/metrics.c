/*
 * obs metrics: a registry of families and series, rendered in the
 * Prometheus text exposition format 0.0.4.
 *
 * Locking: the registry mutex guards the structure (families, series, the
 * map) and is taken by lookups and by obs_render. Values are atomics
 * updated without it, so a handle kept by a hot path never contends with a
 * scrape. Series are never freed before the registry, so handles stay
 * valid for its whole life.
 *
 * Histogram buckets (OBS_BUCKETS): 1, 1.5, 2, 3, 5, 7 per decade from
 * 0.1 ms to 10 s, 31 bounds plus +Inf. Neighbouring bounds are at most
 * 1.67x apart, so a quantile read by linear interpolation inside a bucket
 * (histogram_quantile) is off by well under that factor, and the whole
 * range of a job (a cached run in a millisecond, a 10 s wall limit) fits.
 * A histogram keeps one counter per bucket (not cumulative: an observation
 * touches one cache line) and the sum as integer nanoseconds, so that
 * concurrent observations add exactly with one fetch_add and no CAS loop.
 * Rendering accumulates the buckets and writes _count as their total, so
 * +Inf always equals _count even while observations race with a scrape.
 */
#include "moat/obs.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "moat/util.h"

#define NBUCKETS 31

const double OBS_BUCKETS[] = {
    0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.0007, /* 0.1 ms .. */
    0.001,  0.0015,  0.002,  0.003,  0.005,  0.007,  /* 1 ms .. */
    0.01,   0.015,   0.02,   0.03,   0.05,   0.07,   /* 10 ms .. */
    0.1,    0.15,    0.2,    0.3,    0.5,    0.7,    /* 100 ms .. */
    1,      1.5,     2,      3,      5,      7,      /* 1 s .. */
    10,
};
_Static_assert(MOAT_ARRAY_SIZE(OBS_BUCKETS) == NBUCKETS, "NBUCKETS matches OBS_BUCKETS");
const size_t OBS_NBUCKETS = NBUCKETS;

/* One observation adds at most this much to a sum (about 31 years), so
 * the sum cannot wrap in any realistic life of a process. */
#define MAX_OBS_NS 1000000000000000000ull

#define MAP_INITIAL 64u

enum family_type { FAMILY_COUNTER, FAMILY_GAUGE, FAMILY_HISTOGRAM };

struct obs_counter {
    _Atomic uint64_t value;
};

struct obs_gauge {
    _Atomic int64_t value;
    obs_gauge_fn fn; /* set: the value is computed at render time */
    void *cls;
};

struct obs_histogram {
    _Atomic uint64_t buckets[NBUCKETS + 1]; /* the last one is +Inf */
    _Atomic uint64_t sum_ns;
};

struct family;

struct series {
    struct series *hnext; /* registry map chain */
    struct series *next;  /* family, creation order */
    struct family *fam;
    uint64_t hash;
    char *labels;
    union {
        struct obs_counter counter;
        struct obs_gauge gauge;
        struct obs_histogram histogram;
    } u;
};

struct family {
    char *name;
    char *help;
    enum family_type type;
    struct series *first, *last;
};

struct obs_registry {
    pthread_mutex_t mu;
    struct family **fams; /* sorted by name */
    size_t nfams, fams_cap;
    struct series **map; /* (name, labels) -> series */
    size_t map_size;     /* power of two */
    size_t nseries;
};

static const char *const type_names[] = {
    [FAMILY_COUNTER] = "counter",
    [FAMILY_GAUGE] = "gauge",
    [FAMILY_HISTOGRAM] = "histogram",
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool name_valid(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p > name && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

struct obs_registry *obs_registry_new(void)
{
    struct obs_registry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    reg->map = calloc(MAP_INITIAL, sizeof(struct series *));
    if (!reg->map || pthread_mutex_init(&reg->mu, NULL) != 0) {
        free(reg->map);
        free(reg);
        return NULL;
    }
    reg->map_size = MAP_INITIAL;
    return reg;
}

void obs_registry_free(struct obs_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->nfams; i++) {
        struct family *f = reg->fams[i];
        struct series *s = f->first;
        while (s) {
            struct series *next = s->next;
            free(s->labels);
            free(s);
            s = next;
        }
        free(f->name);
        free(f->help);
        free(f);
    }
    free(reg->fams);
    free(reg->map);
    (void)pthread_mutex_destroy(&reg->mu);
    free(reg);
}

/* ---- lookup (registry lock held) ---- */

static uint64_t series_hash(const char *name, const char *labels)
{
    /* FNV-1a over name, a separator no name contains, and labels. Names and
     * labels are the program's own, so no seed is needed against flooding. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h = (h ^ 0xffu) * 0x100000001b3ull;
    for (const unsigned char *p = (const unsigned char *)labels; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h ^ (h >> 31);
}

static struct series *series_find(const struct obs_registry *reg, const char *name,
                                  const char *labels, uint64_t h)
{
    for (struct series *s = reg->map[h & (reg->map_size - 1)]; s; s = s->hnext)
        if (s->hash == h && !strcmp(s->fam->name, name) && !strcmp(s->labels, labels))
            return s;
    return NULL;
}

static void map_grow(struct obs_registry *reg)
{
    size_t size;
    if (!size_mul(reg->map_size, 2, &size))
        return;
    struct series **m = calloc(size, sizeof(struct series *));
    if (!m)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < reg->map_size; i++) {
        struct series *s = reg->map[i];
        while (s) {
            struct series *next = s->hnext;
            size_t b = s->hash & (size - 1);
            s->hnext = m[b];
            m[b] = s;
            s = next;
        }
    }
    free(reg->map);
    reg->map = m;
    reg->map_size = size;
}

/* Binary search: *pos is where name is, or where it would go. */
static struct family *family_find(const struct obs_registry *reg, const char *name, size_t *pos)
{
    size_t lo = 0, hi = reg->nfams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reg->fams[mid]->name, name);
        if (c == 0) {
            *pos = mid;
            return reg->fams[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return NULL;
}

static struct family *family_get(struct obs_registry *reg, const char *name, const char *help,
                                 enum family_type type)
{
    size_t pos;
    struct family *f = family_find(reg, name, &pos);
    if (f)
        return f;
    if (reg->nfams == reg->fams_cap) {
        size_t cap = reg->fams_cap ? reg->fams_cap * 2 : 16, bytes;
        if (!size_mul(cap, sizeof(struct family *), &bytes))
            return NULL;
        struct family **fams = realloc(reg->fams, bytes);
        if (!fams)
            return NULL;
        reg->fams = fams;
        reg->fams_cap = cap;
    }
    struct family *nf = calloc(1, sizeof(*nf));
    if (!nf)
        return NULL;
    nf->name = dup_str(name);
    nf->help = dup_str(help ? help : "");
    if (!nf->name || !nf->help) {
        free(nf->name);
        free(nf->help);
        free(nf);
        return NULL;
    }
    nf->type = type;
    memmove(&reg->fams[pos + 1], &reg->fams[pos], (reg->nfams - pos) * sizeof(struct family *));
    reg->fams[pos] = nf;
    reg->nfams++;
    return nf;
}

/*
 * Get-or-create with the lock held. *created tells a new series (a callback
 * gauge must not take over an ordinary one). NULL: ENOMEM, a bad name, or
 * name is a family of another type.
 */
static struct series *series_get(struct obs_registry *reg, const char *name, const char *help,
                                 const char *labels, enum family_type type, bool *created)
{
    *created = false;
    if (!name_valid(name))
        return NULL;
    if (!labels)
        labels = "";
    uint64_t h = series_hash(name, labels);
    struct series *s = series_find(reg, name, labels, h);
    if (s)
        return s->fam->type == type ? s : NULL;

    size_t pos;
    struct family *f = family_find(reg, name, &pos);
    if (f && f->type != type)
        return NULL;
    struct series *ns = calloc(1, sizeof(*ns));
    if (!ns)
        return NULL;
    ns->labels = dup_str(labels);
    if (ns->labels && !f)
        f = family_get(reg, name, help, type);
    if (!ns->labels || !f) {
        free(ns->labels);
        free(ns);
        return NULL;
    }
    ns->fam = f;
    ns->hash = h;
    if (f->last)
        f->last->next = ns;
    else
        f->first = ns;
    f->last = ns;
    if (reg->nseries >= reg->map_size)
        map_grow(reg);
    size_t b = h & (reg->map_size - 1);
    ns->hnext = reg->map[b];
    reg->map[b] = ns;
    reg->nseries++;
    *created = true;
    return ns;
}

struct obs_counter *obs_counter(struct obs_registry *reg, const char *name, const char *help,
                                const char *labels)
{
    bool created;
    (void)pthread_mutex_lock(&reg->mu);
    struct series *s = series_get(reg, name, help, labels, FAMILY_COUNTER, &created);
    (void)pthread_mutex_unlock(&reg->mu);
    return s ? &s->u.counter : NULL;
}

struct obs_gauge *obs_gauge(struct obs_registry *reg, const char *name, const char *help,
                            const char *labels)
{
    bool created;
    (void)pthread_mutex_lock(&reg->mu);
    struct series *s = series_get(reg, name, help, labels, FAMILY_GAUGE, &created);
    /* A callback gauge has no value to set: handing it out would hide the
     * clash behind writes that never show. */
    if (s && s->u.gauge.fn)
        s = NULL;
    (void)pthread_mutex_unlock(&reg->mu);
    return s ? &s->u.gauge : NULL;
}

struct obs_histogram *obs_histogram(struct obs_registry *reg, const char *name, const char *help,
                                    const char *labels)
{
    bool created;
    (void)pthread_mutex_lock(&reg->mu);
    struct series *s = series_get(reg, name, help, labels, FAMILY_HISTOGRAM, &created);
    (void)pthread_mutex_unlock(&reg->mu);
    return s ? &s->u.histogram : NULL;
}

int obs_gauge_callback(struct obs_registry *reg, const char *name, const char *help,
                       const char *labels, obs_gauge_fn fn, void *cls)
{
    if (!fn || !name_valid(name))
        return -EINVAL;
    bool created;
    int r = 0;
    (void)pthread_mutex_lock(&reg->mu);
    struct series *s = series_get(reg, name, help, labels, FAMILY_GAUGE, &created);
    if (!s) {
        size_t pos;
        struct family *f = family_find(reg, name, &pos);
        r = f && f->type != FAMILY_GAUGE ? -EINVAL : -ENOMEM;
    } else if (!created && !s->u.gauge.fn) {
        r = -EEXIST; /* an ordinary gauge someone holds a handle to */
    } else {
        s->u.gauge.fn = fn;
        s->u.gauge.cls = cls;
    }
    (void)pthread_mutex_unlock(&reg->mu);
    return r;
}

/* ---- updates: lock-free ---- */

void obs_counter_add(struct obs_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void obs_gauge_set(struct obs_gauge *g, int64_t v)
{
    if (g)
        atomic_store_explicit(&g->value, v, memory_order_relaxed);
}

void obs_gauge_add(struct obs_gauge *g, int64_t delta)
{
    if (g)
        atomic_fetch_add_explicit(&g->value, delta, memory_order_relaxed);
}

void obs_histogram_observe(struct obs_histogram *h, double seconds)
{
    if (!h || isnan(seconds))
        return;
    if (seconds < 0)
        seconds = 0;
    /* First bound >= seconds (le is inclusive); NBUCKETS is +Inf. */
    size_t lo = 0, hi = NBUCKETS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (seconds <= OBS_BUCKETS[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    double ns = seconds * 1e9;
    uint64_t add = ns >= (double)MAX_OBS_NS ? MAX_OBS_NS : (uint64_t)(ns + 0.5);
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, add, memory_order_relaxed);
}

void obs_histogram_since(struct obs_histogram *h, uint64_t start_ns)
{
    uint64_t now = moat_now_ns();
    obs_histogram_observe(h, now > start_ns ? (double)(now - start_ns) / 1e9 : 0.0);
}

/* ---- escaping ---- */

char *obs_label_escape(const char *value, char *dst, size_t dstsz)
{
    if (!dstsz)
        return dst;
    size_t o = 0;
    for (const char *p = value ? value : ""; *p; p++) {
        char esc = *p == '\\' ? '\\' : *p == '"' ? '"' : *p == '\n' ? 'n' : 0;
        size_t need = esc ? 2 : 1;
        /* Never cut a pair: a lone trailing backslash would escape the
         * closing quote of the label value. */
        if (o + need >= dstsz)
            break;
        if (esc) {
            dst[o++] = '\\';
            dst[o++] = esc;
        } else {
            dst[o++] = *p;
        }
    }
    dst[o] = '\0';
    return dst;
}

/* HELP text escapes backslash and newline only (exposition format 0.0.4). */
static int append_help(struct buf *out, const char *help)
{
    const char *run = help;
    int r = 0;
    for (const char *p = help; *p && r == 0; p++) {
        if (*p != '\\' && *p != '\n')
            continue;
        r = buf_append(out, run, (size_t)(p - run));
        if (r == 0)
            r = buf_append(out, *p == '\\' ? "\\\\" : "\\n", 2);
        run = p + 1;
    }
    if (r == 0)
        r = buf_append(out, run, strlen(run));
    return r;
}

/* ---- render (registry lock held) ---- */

/* "name{labels} " or "name{labels,le="x"} ": the part before the value. */
static int append_key(struct buf *out, const char *name, const char *suffix, const char *labels,
                      const char *le)
{
    if (!*labels && !le)
        return buf_printf(out, "%s%s ", name, suffix);
    if (!le)
        return buf_printf(out, "%s%s{%s} ", name, suffix, labels);
    return buf_printf(out, "%s%s{%s%sle=\"%s\"} ", name, suffix, labels, *labels ? "," : "", le);
}

static int render_histogram(struct buf *out, const char *name, const struct series *s)
{
    const struct obs_histogram *h = &s->u.histogram;
    uint64_t cum = 0;
    int r = 0;
    for (size_t i = 0; i <= NBUCKETS && r == 0; i++) {
        char le[32];
        if (i < NBUCKETS)
            (void)snprintf(le, sizeof(le), "%g", OBS_BUCKETS[i]);
        else
            moat_strlcpy(le, "+Inf", sizeof(le));
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        r = append_key(out, name, "_bucket", s->labels, le);
        if (r == 0)
            r = buf_printf(out, "%" PRIu64 "\n", cum);
    }
    uint64_t sum = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
    if (r == 0)
        r = append_key(out, name, "_sum", s->labels, NULL);
    if (r == 0)
        r = buf_printf(out, "%" PRIu64 ".%09" PRIu64 "\n", sum / 1000000000u, sum % 1000000000u);
    if (r == 0)
        r = append_key(out, name, "_count", s->labels, NULL);
    if (r == 0)
        r = buf_printf(out, "%" PRIu64 "\n", cum);
    return r;
}

static int render_series(struct buf *out, const struct family *f, const struct series *s)
{
    int r;
    switch (f->type) {
    case FAMILY_COUNTER:
        r = append_key(out, f->name, "", s->labels, NULL);
        if (r == 0)
            r = buf_printf(out, "%" PRIu64 "\n",
                           atomic_load_explicit(&s->u.counter.value, memory_order_relaxed));
        return r;
    case FAMILY_GAUGE: {
        int64_t v = s->u.gauge.fn ? s->u.gauge.fn(s->u.gauge.cls)
                                  : atomic_load_explicit(&s->u.gauge.value, memory_order_relaxed);
        r = append_key(out, f->name, "", s->labels, NULL);
        if (r == 0)
            r = buf_printf(out, "%" PRId64 "\n", v);
        return r;
    }
    case FAMILY_HISTOGRAM:
        return render_histogram(out, f->name, s);
    }
    return -EINVAL;
}

static int render_family(struct buf *out, const struct family *f)
{
    int r = buf_printf(out, "# HELP %s ", f->name);
    if (r == 0)
        r = append_help(out, f->help);
    if (r == 0)
        r = buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    for (const struct series *s = f->first; s && r == 0; s = s->next)
        r = render_series(out, f, s);
    return r;
}

int obs_render(struct obs_registry *reg, struct buf *out)
{
    size_t start = out->len;
    int r = 0;
    (void)pthread_mutex_lock(&reg->mu);
    for (size_t i = 0; i < reg->nfams && r == 0; i++)
        r = render_family(out, reg->fams[i]);
    (void)pthread_mutex_unlock(&reg->mu);
    if (r < 0)
        out->len = start; /* nothing half-written */
    return r;
}
