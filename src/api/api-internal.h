#pragma once
/*
 * api internals: the request decoder and the response renderers are pure
 * (no I/O, no MHD), so they are unit-tested and fuzzed on their own; the
 * server (server.c, routes.c) glues them to libmicrohttpd, the store, the
 * queue and the executors.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "moat/config.h"
#include "moat/job.h"
#include "moat/lang.h"

/* An error as API.md shows it: status, {"error":{"code","message","field"}}. */
struct api_error {
    unsigned status;  /* 400, 404, 405, 409, 413, 415, 429, 500, 503 */
    const char *code; /* static snake_case: "invalid_json", "unknown_field",
                         "invalid_field", "out_of_range", "unknown_language",
                         "payload_too_large", "unsupported_media_type",
                         "not_found", "method_not_allowed", "not_finished",
                         "queue_full", "not_ready", "internal" */
    char field[64];   /* "" when no one field is at fault */
    char message[256];
};

/* Which client shape a submission came in. */
enum api_shape {
    API_SHAPE_NATIVE,          /* POST /v1/jobs: API.md */
    API_SHAPE_SEED000,         /* POST /job: {"code","executionEngine","tags"} */
    API_SHAPE_SEED002,         /* POST /api/v1/execute: the raw program is the body */
    API_SHAPE_SEED004,         /* NATS compiler.execute.request: {"language","code","input"}
                                  (base64), the defaults' limits */
    API_SHAPE_SEED004_PROBLEM, /* NATS problems.execute.request: the same, and
                                  timeoutMs, wallTimeoutMs, memoryMb */
    API_SHAPE_PISTON,          /* POST /api/v2/execute: Piston v2 (piston-internal.h) */
};

/* A decoded submission. */
struct api_submit {
    struct job job; /* language, language_given, version, priority, limits,
                       files, stdin, args, metadata_json, tags_json filled;
                       id, status, times, hashes left for the server */
    bool wait;      /* the body's "wait" (the query's ?wait= is the server's) */
};

/*
 * Decodes a submission body of the given shape into *out (released by the
 * caller with job_release(&out->job) on success; untouched on failure).
 * content_type: the request's Content-Type header (NULL when absent);
 * query_language: ?language= of seed 002 (NULL when absent).
 *
 * Native and seed 000 need JSON (Content-Type application/json, with or
 * without parameters; absent is accepted as JSON): any other type is 415.
 * Seed 002 takes any body as the program's source (curl -d sends
 * application/x-www-form-urlencoded; the bytes are used as they are, not
 * form-decoded), Python unless query_language says otherwise.
 *
 * Checks everything API.md lists: unknown fields (unknown_field, field
 * named), wrong types (invalid_field), limits within [1, cfg->max_limits]
 * via config_check_limits (out_of_range), defaults from cfg->limits,
 * priority 0..10, code+files <= cfg->max_code_kb (413 payload_too_large,
 * field "code"), stdin <= cfg->max_stdin_kb (413, field "stdin"), metadata
 * an object <= 16 KiB, tags strings, args strings, files names
 * (sbx_file_name_ok) and encodings (utf8|base64), exactly one of code and
 * files, a known and available language (unknown_language, field
 * "language"; seed 000: "executionEngine"), JSON nesting and NULs.
 * Returns 0, or -EINVAL with *e filled. Pure; thread-safe.
 */
int api_decode_submit(const struct moat_config *cfg, const struct lang_registry *langs,
                      enum api_shape shape, const char *content_type, const char *query_language,
                      const char *body, size_t len, struct api_submit *out, struct api_error *e);

/*
 * The callback of a submission (callbackUrl; Judge0's callback_url, for
 * which part of the API it is field is named): v a string URL that
 * notify_url_check accepts under cfg's webhooks.allow, else 400 with field
 * named (and, for a literal address, the range it is in). Sets
 * job->callback (url, shape, status pending). json null leaves no
 * callback. 0 or -EINVAL with *e filled. Pure; thread-safe.
 */
int api_callback_take(const struct moat_config *cfg, const char *field, const json_t *v,
                      enum job_callback_shape shape, struct job *job, struct api_error *e);
/* {url, status, attempts, lastError, deliveredAt} of a job's callback;
 * json null when it has none. New reference; NULL on ENOMEM. */
json_t *api_callback_json(const struct job_callback *c);

/* The error body {"error":{"code","message","field"}} ("field" only when
 * set). New reference; NULL on ENOMEM. */
json_t *api_error_json(const struct api_error *e);

/* Fills e (status, code, message printf-style, field may be NULL). */
__attribute__((format(printf, 5, 6))) void api_error_set(struct api_error *e, unsigned status,
                                                         const char *code, const char *field,
                                                         const char *fmt, ...);

/*
 * The native job object of API.md (GET /v1/jobs/{id}, DELETE, wait=true,
 * GET /api/v1/execute/{id}): jobId, status, language, version, priority,
 * attempts, tags, metadata, createdAt, startedAt, finishedAt (RFC 3339 UTC
 * with milliseconds, null until set), codeHash, outputHash; once final:
 * verdict, exitCode, signal, error, timeMs, wallTimeMs, memoryKb, output,
 * stderr, stdoutTruncated, stderrTruncated, stdoutOmitted, stderrOmitted
 * (bytes of the stream not in this object), compile (the compile step's
 * object as job_step_to_json, with cached; null for interpreted
 * languages). A failed job has verdict internal_error and its error. A
 * cancelled one has verdict null unless it had finished its run. New
 * reference; NULL on ENOMEM.
 */
json_t *api_job_json(const struct job *j);
/* A view of j (sharing its buffers: nothing to release) whose streams, run
 * and compile, hold at most max bytes each; what is left out is counted in
 * the steps' out_omitted and err_omitted. */
struct job api_job_clipped(const struct job *j, size_t max);

/*
 * Seed 000's record: {"id","executionEngine" (language_given),
 * "codePath","codeHash","status" (Pending|Running|Completed|Failed; a
 * cancelled job is Failed), "creationTime","retryCount" (attempts beyond
 * the first), "tags" (null when none given, as the seed shows)}; once
 * final also "outputPath","endTime","outputHash". New reference.
 */
json_t *api_job_json_seed000(const struct job *j);

/*
 * Seed 004's reply: {"jobId","success" (completed with verdict ok),
 * "status","language"}; once final also "verdict","output" (stdout),
 * "error" (the compiler's stderr, moat's message of a failed job, or the
 * program's stderr),"exitCode","executionTime" (wall ms),"cpuTime" (ms),
 * "memoryKb"; before, "error" says it has not finished. New reference.
 */
json_t *api_job_json_seed004(const struct job *j);

/* The job as a route of that shape renders it: seed 000's record on its
 * routes, seed 004's reply on its subjects, the native object on every
 * other. New reference. */
json_t *api_job_json_shaped(enum api_shape shape, const struct job *j);

/* The answer 202 to an accepted submission of shape, for the shapes whose
 * answer is only the id and "queued": {"jobId":id,"status":"queued"}
 * ({"task_id":...} for seed 002), as api_job_json would dump that object,
 * into out. Its length, or 0 for a shape that answers with the job's
 * record (seed 000) or an id that is not a UUID. Made without jansson: an
 * id needs no escaping, and this is the answer of every async submission.
 * Pure; thread-safe. */
size_t api_accepted_text(enum api_shape shape, const char *id, char *out, size_t outsz);

/* RFC 3339 UTC with milliseconds ("2026-11-21T22:00:00.000Z") of Unix ms. */
void api_format_time(int64_t ms, char out[32]);

/* Whether the media type of Content-Type ct (its parameters and spaces
 * left out, case-insensitive) is type; with type NULL, whether ct is
 * absent or has no type. */
bool api_media_type_is(const char *ct, const char *type);

/* The job's args from a JSON array of strings its decoder has checked:
 * job->args and job->nargs (the copies made so far on failure, for
 * job_release). 0 or -ENOMEM. */
int api_job_args(struct job *job, const json_t *arr);
