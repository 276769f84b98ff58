#pragma once
/*
 * The Piston v2 compatible API (docs/piston.md): POST /api/v2/execute,
 * GET /api/v2/runtimes, /api/v2/packages. Its decoder, renderer and
 * version matcher are pure (no I/O, no MHD), unit-tested and fuzzed like
 * decode.c and render.c; piston.c glues them to the server.
 *
 * Piston's errors are {"message": "..."} with 400 (or 415): the decoder
 * fills a struct api_error whose message is Piston's wording and whose
 * code and field say the same for moat's logs.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api-internal.h"

/*
 * Whether version (a dotted number such as "3.11.2", "12", "1.63.0-beta";
 * missing parts count as 0, a pre-release suffix is ignored) satisfies the
 * node-semver range: "*", "x", "" (any), exact or partial versions
 * ("3.11.2", "3.11", "3", "3.x", "3.11.*"), comparators (<, <=, >, >=, =),
 * caret (^1.2.3) and tilde (~1.2) ranges, hyphen ranges ("1.2 - 2.3.4"),
 * space-separated comparators that must all hold and "||" alternatives.
 * A range it cannot read (junk, more than 32 comparators, numbers over
 * 2^31) matches nothing, as node-semver's satisfies() answers false.
 * Borrows both; at most 256 bytes of range are read. Pure; thread-safe.
 */
bool api_piston_version_matches(const char *version, const char *range);

/* Piston's name of a moat language ("cpp" is Piston's "c++"; the others
 * keep their name). Static storage or name itself. */
const char *api_piston_language_name(const char *name);

/* The language of name as Piston's clients write it: moat's name or alias
 * (lang_find), else one of Piston's own aliases that moat's languages.ini
 * does not carry ("gcc", "py3", "node-js", "node-javascript", "ruby3").
 * NULL when unknown. Borrows reg; the result is reg's. */
const struct lang *api_piston_find(const struct lang_registry *reg, const char *name);

/*
 * Decodes a POST /api/v2/execute body into *out (released by the caller
 * with job_release(&out->job) on success; untouched on failure). Rules and
 * messages: docs/piston.md. content_type: the request's Content-Type
 * (NULL when absent): application/json and text/plain (what piston-client
 * sends) are read as JSON, anything else is 415. Returns 0, or -EINVAL
 * (-ENOMEM) with *e filled: status 400, 413 or 415 (500 for ENOMEM), its
 * message Piston's. Pure; thread-safe.
 */
int api_piston_decode(const struct moat_config *cfg, const struct lang_registry *langs,
                      const char *content_type, const char *body, size_t len,
                      struct api_submit *out, struct api_error *e);

/* Piston's error body {"message": e->message}. New reference; NULL on
 * ENOMEM. */
json_t *api_piston_error_json(const struct api_error *e);

/*
 * One Piston stage of step s: {stdout, stderr, output, code, signal,
 * message, status, cpu_time, wall_time, memory}; output is stdout then
 * stderr (moat keeps the streams apart). status: null for a step that
 * exited 0, RE a non-zero exit, SG a signal, TO the time limits, OL/EL
 * stdout/stderr over their limit, SG with SIGKILL and the message "Memory
 * limit exceeded" for moat's memory_limit, XX moat's internal errors and
 * cancellations. New reference; NULL on ENOMEM.
 */
json_t *api_piston_stage_json(const struct job_step *s);

/*
 * The answer to POST /api/v2/execute of a final job: {language (Piston's
 * name), version, run, compile (compiled languages only)}; when the
 * compile step failed, run is a copy of compile (Piston skips the run). A
 * failed or cancelled job without a compile step has its run as XX. New
 * reference; NULL on ENOMEM.
 */
json_t *api_piston_job_json(const struct job *j);

/*
 * GET /api/v2/runtimes: [{language, version, aliases, runtime?}] of the
 * available languages of reg (versions from the probe; "runtime" for
 * JavaScript, "node", as Piston names its runtime). New reference; NULL
 * on ENOMEM.
 */
json_t *api_piston_runtimes_json(const struct lang_registry *reg, const char *cache_dir);
