/*
 * The response renderers: a struct job (as the store gives it back) becomes
 * the JSON of API.md, keys in the documented order (jansson dumps in
 * insertion order). Everything that came from a program or a client (output,
 * messages, stored text) goes through job_json_bytes, so that no byte
 * sequence in a job can make rendering fail or emit invalid UTF-8.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "api-internal.h"
#include "piston-internal.h"
#include "moat/util.h"

void api_format_time(int64_t ms, char out[32])
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year > 9999 - 1900 || tm.tm_year < -1900) {
        /* no four-digit year: RFC 3339 has no way to say it */
        moat_strlcpy(out, "1970-01-01T00:00:00.000Z", 32);
        return;
    }
    /* the ranges are checked above; the modulos only let the compiler see
     * that every field has its width */
    (void)snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
                   (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
                   (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
                   (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)rem % 1000u);
}

/* Steals v (set_new does even on failure, and fails on NULL), so that
 * constructors chain without a check each. Keys are ASCII literals. */
static bool put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new_nocheck(o, key, v) == 0;
}

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char text[32];
    api_format_time(ms, text);
    return json_string_nocheck(text);
}

/* A fixed-size text member: bounded, repaired, null when empty. */
#define TEXT_OR_NULL(member)                                                                       \
    (strnlen((member), sizeof(member))                                                             \
         ? job_json_bytes((member), strnlen((member), sizeof(member)))                             \
         : json_null())
#define TEXT(member) job_json_bytes((member), strnlen((member), sizeof(member)))

static json_t *u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v);
}

/* Stored compact JSON of the given type, or a fresh empty one when absent
 * or unreadable (the store only holds what the decoder dumped). */
static json_t *stored_json(const char *text, bool array)
{
    if (text) {
        json_t *v = json_loads(text, JSON_ALLOW_NUL, NULL);
        if (v && (array ? json_is_array(v) : json_is_object(v)))
            return v;
        json_decref(v);
    }
    return array ? json_array() : json_object();
}

/* The compile step's object (job_step_to_json's) with what the API's
 * clipping left out of its streams. */
static json_t *compile_json(const struct job_step *c)
{
    json_t *o = job_step_to_json(c, true);
    if (o && !(put(o, "stdoutOmitted", u64(c->out_omitted)) &&
               put(o, "stderrOmitted", u64(c->err_omitted)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Each test's result, in test order, as a step (verdict accepted,
 * wrong_answer, skipped or the sandbox's). */
static json_t *tests_json(const struct job *j)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < j->ntests; i++) {
        json_t *t = job_step_to_json(&j->tests[i].result, false);
        if (t && json_object_set_new_nocheck(t, "index", json_integer((json_int_t)i)) < 0) {
            json_decref(t);
            t = NULL;
        }
        if (json_array_append_new(a, t) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The result fields of a final job, after the common ones. */
static bool put_result(json_t *o, const struct job *j)
{
    struct job_step s = j->run; /* a shallow view: nothing here frees it */
    bool ran = true;
    if (j->status == JOB_STATUS_FAILED) {
        s.verdict = JOB_VERDICT_INTERNAL_ERROR;
    } else if (j->status == JOB_STATUS_CANCELLED &&
               (s.verdict == JOB_VERDICT_NONE || s.verdict == JOB_VERDICT_CANCELLED)) {
        s.verdict = JOB_VERDICT_CANCELLED; /* for the sentence */
        ran = false;
    }
    char sentence[sizeof(s.message) + 64];
    const char *error = job_error_sentence(&s, sentence, sizeof(sentence));
    const char *verdict = ran ? job_verdict_name(s.verdict) : NULL;
    return put(o, "verdict", verdict ? json_string_nocheck(verdict) : json_null()) &&
           put(o, "exitCode", ran ? json_integer(s.exit_code) : json_null()) &&
           put(o, "signal",
               ran && s.signal > 0 ? json_string_nocheck(job_signal_name(s.signal))
                                   : json_null()) &&
           put(o, "error", error ? job_json_bytes(error, strlen(error)) : json_null()) &&
           put(o, "timeMs", u64(s.time_ms)) && put(o, "wallTimeMs", u64(s.wall_time_ms)) &&
           put(o, "memoryKb", u64(s.memory_kb)) &&
           put(o, "output", job_json_bytes(s.out_len ? s.out : NULL, s.out ? s.out_len : 0)) &&
           put(o, "stderr", job_json_bytes(s.err_len ? s.err : NULL, s.err ? s.err_len : 0)) &&
           put(o, "stdoutTruncated", json_boolean(s.out_truncated)) &&
           put(o, "stderrTruncated", json_boolean(s.err_truncated)) &&
           put(o, "stdoutOmitted", u64(s.out_omitted)) &&
           put(o, "stderrOmitted", u64(s.err_omitted)) &&
           put(o, "compile", j->compiled ? compile_json(&j->compile) : json_null()) &&
           (!j->ntests || put(o, "tests", tests_json(j)));
}

static void clip_stream(size_t *len, uint64_t *omitted, size_t max)
{
    if (*len > max) {
        *omitted += *len - max;
        *len = max;
    }
}

struct job api_job_clipped(const struct job *j, size_t max)
{
    struct job v = *j;
    clip_stream(&v.run.out_len, &v.run.out_omitted, max);
    clip_stream(&v.run.err_len, &v.run.err_omitted, max);
    clip_stream(&v.compile.out_len, &v.compile.out_omitted, max);
    clip_stream(&v.compile.err_len, &v.compile.err_omitted, max);
    return v;
}

json_t *api_callback_json(const struct job_callback *c)
{
    const char *status = job_callback_status_name(c->status);
    if (!c->url[0] || !status)
        return json_null();
    json_t *o = json_object();
    bool ok = o && put(o, "url", TEXT(c->url)) && put(o, "status", json_string_nocheck(status)) &&
              put(o, "attempts", json_integer(c->attempts)) &&
              put(o, "lastError", TEXT_OR_NULL(c->last_error)) &&
              put(o, "deliveredAt", time_or_null(c->delivered_ms));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *api_job_json(const struct job *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    const char *status = job_status_name(j->status);
    bool ok = put(o, "jobId", TEXT(j->id)) &&
              put(o, "status", status ? json_string_nocheck(status) : json_null()) &&
              put(o, "language", TEXT(j->language)) &&
              put(o, "version", TEXT_OR_NULL(j->version)) &&
              put(o, "priority", json_integer(j->priority)) &&
              put(o, "attempts", json_integer(j->attempts)) &&
              put(o, "tags", stored_json(j->tags_json, true)) &&
              put(o, "metadata", stored_json(j->metadata_json, false)) &&
              put(o, "createdAt", time_or_null(j->created_ms)) &&
              put(o, "startedAt", time_or_null(j->started_ms)) &&
              put(o, "finishedAt", time_or_null(j->finished_ms)) &&
              put(o, "codeHash", TEXT_OR_NULL(j->code_hash)) &&
              put(o, "outputHash", TEXT_OR_NULL(j->output_hash)) &&
              /* how the output is judged (expectedOutput), or null */
              put(o, "compare",
                  j->judged || j->ntests ? json_string_nocheck(job_compare_name(j->compare.mode))
                              : json_null());
    /* only a job with a callbackUrl has it: the shape of others is unchanged */
    if (ok && j->callback.url[0])
        ok = put(o, "callback", api_callback_json(&j->callback));
    if (ok && job_status_final(j->status))
        ok = put_result(o, j);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Seed 000 knows four states: a cancelled job did not complete. */
static const char *seed000_status(enum job_status s)
{
    switch (s) {
    case JOB_STATUS_QUEUED:
        return "Pending";
    case JOB_STATUS_RUNNING:
        return "Running";
    case JOB_STATUS_COMPLETED:
        return "Completed";
    case JOB_STATUS_FAILED:
    case JOB_STATUS_CANCELLED:
    case JOB_STATUS_MAX_:
        break;
    }
    return "Failed";
}

json_t *api_job_json_seed000(const struct job *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char id[sizeof(j->id) + 1];
    size_t idlen = strnlen(j->id, sizeof(j->id)); /* bounded even if unterminated */
    memcpy(id, j->id, idlen);
    id[idlen] = '\0';
    char code_path[sizeof(id) + 32], output_path[sizeof(id) + 32];
    (void)snprintf(code_path, sizeof(code_path), JOB_CODE_KEY_FMT, id);
    (void)snprintf(output_path, sizeof(output_path), JOB_OUTPUT_KEY_FMT, id);
    bool final = job_status_final(j->status);
    bool ok = put(o, "id", TEXT(j->id)) && put(o, "executionEngine", TEXT(j->language_given)) &&
              put(o, "codePath", job_json_bytes(code_path, strlen(code_path))) &&
              put(o, "codeHash", TEXT_OR_NULL(j->code_hash)) &&
              put(o, "status", json_string_nocheck(seed000_status(j->status))) &&
              (!final || put(o, "outputPath", job_json_bytes(output_path, strlen(output_path)))) &&
              put(o, "creationTime", time_or_null(j->created_ms)) &&
              (!final || put(o, "endTime", time_or_null(j->finished_ms))) &&
              put(o, "retryCount", json_integer(j->attempts > 1 ? j->attempts - 1 : 0)) &&
              (!final || put(o, "outputHash", TEXT_OR_NULL(j->output_hash))) &&
              /* null when the client gave none, as the seed's example shows */
              put(o, "tags", j->tags_json ? stored_json(j->tags_json, true) : json_null());
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* What seed 004's "error" carries: the compiler's complaint, moat's
 * message of a failed job, or the program's stderr. */
static json_t *seed004_error(const struct job *j)
{
    if (j->run.verdict == JOB_VERDICT_COMPILE_ERROR && j->compiled)
        return job_json_bytes(j->compile.err, j->compile.err_len);
    if (j->status == JOB_STATUS_FAILED || (j->run.message[0] && j->run.err_len == 0))
        return TEXT(j->run.message);
    return job_json_bytes(j->run.err, j->run.err_len);
}

json_t *api_job_json_seed004(const struct job *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    bool final = job_status_final(j->status);
    const char *vn = job_verdict_name(j->run.verdict);
    bool success = j->status == JOB_STATUS_COMPLETED && j->run.verdict == JOB_VERDICT_OK;
    bool ok = put(o, "jobId", TEXT(j->id)) && put(o, "success", json_boolean(success)) &&
              put(o, "status", json_string_nocheck(job_status_name(j->status))) &&
              put(o, "language", TEXT(j->language));
    if (ok && final)
        ok = put(o, "verdict", vn ? json_string_nocheck(vn) : json_null()) &&
             put(o, "output", job_json_bytes(j->run.out, j->run.out_len)) &&
             put(o, "error", seed004_error(j)) &&
             put(o, "exitCode", json_integer(j->run.exit_code)) &&
             put(o, "executionTime", u64(j->run.wall_time_ms)) &&
             put(o, "cpuTime", u64(j->run.time_ms)) && put(o, "memoryKb", u64(j->run.memory_kb));
    else if (ok)
        ok = put(o, "error",
                 json_string_nocheck("the job has not finished within the server's "
                                     "longest wait; it goes on"));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *api_job_json_shaped(enum api_shape shape, const struct job *j)
{
    switch (shape) {
    case API_SHAPE_SEED000:
        return api_job_json_seed000(j);
    case API_SHAPE_SEED004:
    case API_SHAPE_SEED004_PROBLEM:
        return api_job_json_seed004(j);
    case API_SHAPE_PISTON:
        return api_piston_job_json(j);
    case API_SHAPE_NATIVE:
    case API_SHAPE_SEED002:
        break;
    }
    return api_job_json(j);
}

size_t api_accepted_text(enum api_shape shape, const char *id, char *out, size_t outsz)
{
    const char *key = "jobId";
    switch (shape) {
    case API_SHAPE_SEED000:
    case API_SHAPE_PISTON: /* answers with the finished job */
        return 0;
    case API_SHAPE_SEED002:
        key = "task_id";
        break;
    case API_SHAPE_NATIVE:
    case API_SHAPE_SEED004:
    case API_SHAPE_SEED004_PROBLEM:
        break;
    }
    /* hex digits and dashes only: printed as they are, as jansson would */
    if (!moat_uuid_valid(id))
        return 0;
    int n = snprintf(out, outsz, "{\"%s\":\"%s\",\"status\":\"queued\"}", key, id);
    return n > 0 && (size_t)n < outsz ? (size_t)n : 0;
}
