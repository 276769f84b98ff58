#pragma once
/*
 * obs: metrics in the Prometheus text exposition format (version 0.0.4).
 *
 * A registry holds metric families (counter, gauge, histogram), each with
 * series told apart by a label set. Looking a series up takes the
 * registry's lock; updating one is lock-free (atomics), so hot paths keep
 * the handle. Handles live as long as the registry.
 *
 * Histograms observe seconds into one shared bucket layout, fine enough to
 * read p50/p95/p99 from 0.1 ms to 10 s (OBS_BUCKETS).
 *
 * Every function is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/util.h"

struct obs_registry;
struct obs_counter;
struct obs_gauge;
struct obs_histogram;

struct obs_registry *obs_registry_new(void); /* NULL on ENOMEM */
void obs_registry_free(struct obs_registry *reg); /* accepts NULL */

/*
 * Get-or-create the series of family name (a valid Prometheus metric name,
 * e.g. "moat_jobs_total") with labels, a label text as Prometheus writes it
 * between the braces ('verdict="ok",status="completed"'; "" or NULL for
 * none; values escaped by the caller with obs_label_escape when they come
 * from outside). help is the family's HELP text (the first one given
 * wins). NULL on ENOMEM, or when name is already a family of another type
 * (a programming error, also asserted in debug builds).
 */
struct obs_counter *obs_counter(struct obs_registry *reg, const char *name, const char *help,
                                const char *labels);
struct obs_gauge *obs_gauge(struct obs_registry *reg, const char *name, const char *help,
                            const char *labels);
struct obs_histogram *obs_histogram(struct obs_registry *reg, const char *name,
                                    const char *help, const char *labels);

void obs_counter_add(struct obs_counter *c, uint64_t n); /* NULL: no-op */
void obs_gauge_set(struct obs_gauge *g, int64_t v);
void obs_gauge_add(struct obs_gauge *g, int64_t delta);
void obs_histogram_observe(struct obs_histogram *h, double seconds);
/* Convenience: observes (moat_now_ns() - start_ns) in seconds. */
void obs_histogram_since(struct obs_histogram *h, uint64_t start_ns);

/* A gauge computed when scraped (queue depth, warm boxes): fn is called
 * under the registry's lock, must be quick and must not call obs. */
typedef int64_t (*obs_gauge_fn)(void *cls);
int obs_gauge_callback(struct obs_registry *reg, const char *name, const char *help,
                       const char *labels, obs_gauge_fn fn, void *cls);

/* The whole registry in the text format, families sorted by name, series in
 * creation order, appended to out. -ENOMEM/-ENOBUFS. */
int obs_render(struct obs_registry *reg, struct buf *out);

/* Escapes a label value (backslash, double quote, newline) into dst
 * (truncated to dstsz, always terminated). Returns dst. */
char *obs_label_escape(const char *value, char *dst, size_t dstsz);

/* Upper bounds of the histogram buckets in seconds (+Inf implied). */
extern const double OBS_BUCKETS[];
extern const size_t OBS_NBUCKETS;
