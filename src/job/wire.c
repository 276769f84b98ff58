/*
 * The job between nodes: one JSON object holding every field of a job (its
 * request, its state, and, when asked, its steps), every byte kept (files,
 * stdin and outputs in base64). A node hands it to another so that the
 * other need not read the store back: the copy of an accepted job in its
 * queue message, the final job in its event. It is a copy, never the
 * truth: the store is. A receiver that cannot decode one (a node of another
 * version) reads the store instead, so a change of shape costs a read, not
 * a job; "v" names the shape.
 */
#include "job-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_VERSION 1

/* ---- encoding ---- */

json_t *jw_u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v);
}

/* base64 of data as a JSON string; new reference, NULL on ENOMEM. */
json_t *jw_b64(const char *data, size_t len)
{
    size_t n = 0;
    char *s = moat_base64_encode(len ? data : "", len, &n);
    json_t *v = s ? json_stringn_nocheck(s, n) : NULL;
    free(s);
    return v;
}

/* Text the job made itself (names, JSON texts): UTF-8 or refused. */
json_t *jw_text(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Steals v; false when v is NULL or the set failed. */
bool jw_put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new_nocheck(o, key, v) == 0;
}

static json_t *limits_json(const struct moat_limits *l)
{
    return json_pack("[o,o,o,o,o,o,o,o]", jw_u64(l->time_ms), jw_u64(l->wall_time_ms), jw_u64(l->memory_mb),
                     jw_u64(l->max_processes), jw_u64(l->max_output_kb), jw_u64(l->max_file_kb),
                     jw_u64(l->max_open_files), jw_u64(l->stack_kb));
}

/* The expected output and its comparison, or null: not judged. */
static json_t *judge_json(const struct job *j)
{
    if (!j->judged && !j->ntests)
        return json_null();
    return json_pack("{s:o, s:i, s:f, s:f}", "expected",
                     j->judged ? jw_b64(j->expected ? j->expected : "", j->expected_len)
                               : json_null(),
                     "mode", (int)j->compare.mode, "abs", j->compare.abs_tol, "rel",
                     j->compare.rel_tol);
}

static json_t *files_json(const struct job *j)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < j->nfiles; i++) {
        json_t *f = json_pack("{s:o, s:o}", "name", jw_text(j->files[i].name), "data",
                              jw_b64(j->files[i].data, j->files[i].len));
        if (json_array_append_new(a, f) < 0) { /* steals f, fails on NULL */
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *jw_strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, jw_text(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *jw_step_json(const struct job_step *s)
{
    json_t *o = json_object();
    bool ok = o && jw_put(o, "verdict", json_integer(s->verdict)) &&
              jw_put(o, "exit", json_integer(s->exit_code)) &&
              jw_put(o, "signal", json_integer(s->signal)) && jw_put(o, "time", jw_u64(s->time_ms)) &&
              jw_put(o, "wall", jw_u64(s->wall_time_ms)) && jw_put(o, "memory", jw_u64(s->memory_kb)) &&
              jw_put(o, "out", jw_b64(s->out, s->out_len)) && jw_put(o, "err", jw_b64(s->err, s->err_len)) &&
              jw_put(o, "outCut", json_boolean(s->out_truncated)) &&
              jw_put(o, "errCut", json_boolean(s->err_truncated)) &&
              (!s->order_len || jw_put(o, "order", jw_b64(s->order, s->order_len))) &&
              jw_put(o, "cached", json_boolean(s->cached)) &&
              jw_put(o, "message", jw_b64(s->message, strnlen(s->message, sizeof(s->message))));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* What the encoding takes at least, before any of it is made: base64 of
 * every byte field. Bounds the work spent on a job too big to send. */
static size_t data_bytes(const struct job *j, bool with_result)
{
    size_t n = j->stdin_len + j->expected_len;
    for (size_t i = 0; i < j->nfiles; i++)
        n += j->files[i].len;
    if (with_result)
        n += j->compile.out_len + j->compile.err_len + j->run.out_len + j->run.err_len +
             j->compile.order_len + j->run.order_len;
    for (size_t i = 0; i < j->ntests; i++) {
        const struct job_test *t = &j->tests[i];
        n += t->stdin_len + t->expected_len;
        if (with_result)
            n += t->result.out_len + t->result.err_len;
    }
    return n / 3 * 4;
}

/* The callback of a job (only a job with one has the key). */
static json_t *callback_json(const struct job_callback *c)
{
    json_t *o = json_object();
    bool ok = o && jw_put(o, "url", json_string(c->url)) &&
              jw_put(o, "shape", json_integer(c->shape)) &&
              jw_put(o, "status", json_integer(c->status)) &&
              jw_put(o, "attempts", json_integer(c->attempts)) &&
              jw_put(o, "delivered", json_integer(c->delivered_ms)) &&
              jw_put(o, "next", json_integer(c->next_ms)) &&
              jw_put(o, "error", json_string(c->last_error));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int fixed(json_t *v, char *dst, size_t cap);

/* A job without the key has no callback (and a node of an earlier moat
 * sends none). */
static int callback_from(json_t *o, struct job_callback *c)
{
    *c = (struct job_callback){0};
    if (!o)
        return 0;
    json_int_t shape = 0, status = 0, attempts = 0, delivered = 0, next = 0;
    if (!json_is_object(o) || fixed(json_object_get(o, "url"), c->url, sizeof(c->url)) < 0 ||
        !c->url[0] ||
        jw_int_in(json_object_get(o, "shape"), 0, JOB_CALLBACK_SHAPE_MAX_ - 1, &shape) < 0 ||
        jw_int_in(json_object_get(o, "status"), 1, JOB_CALLBACK_STATUS_MAX_ - 1, &status) < 0 ||
        jw_int_in(json_object_get(o, "attempts"), 0, UINT32_MAX, &attempts) < 0 ||
        jw_int_in(json_object_get(o, "delivered"), 0, INT64_MAX, &delivered) < 0 ||
        jw_int_in(json_object_get(o, "next"), 0, INT64_MAX, &next) < 0 ||
        fixed(json_object_get(o, "error"), c->last_error, sizeof(c->last_error)) < 0) {
        *c = (struct job_callback){0};
        return -EINVAL;
    }
    c->shape = (enum job_callback_shape)shape;
    c->status = (enum job_callback_status)status;
    c->attempts = (uint32_t)attempts;
    c->delivered_ms = delivered;
    c->next_ms = next;
    return 0;
}

json_t *job_wire_json(const struct job *j, bool with_result, size_t max)
{
    if (data_bytes(j, with_result) > max)
        return NULL;
    json_t *o = json_object();
    bool ok = o && jw_put(o, "v", json_integer(WIRE_VERSION)) && jw_put(o, "id", json_string(j->id)) &&
              jw_put(o, "status", json_integer(j->status)) &&
              jw_put(o, "language", json_string(j->language)) &&
              jw_put(o, "languageGiven", json_string(j->language_given)) &&
              jw_put(o, "version", json_string(j->version)) &&
              jw_put(o, "priority", json_integer(j->priority)) &&
              jw_put(o, "limits", limits_json(&j->limits)) && jw_put(o, "files", files_json(j)) &&
              jw_put(o, "stdin", jw_b64(j->stdin_data, j->stdin_len)) && jw_put(o, "args", jw_strv_json(j->args, j->nargs)) &&
              jw_put(o, "judge", judge_json(j)) && jw_put(o, "tests", job_tests_json(j, false)) &&
              jw_put(o, "stopOnFailure", json_boolean(j->stop_on_failure)) &&
              jw_put(o, "metadata", jw_text(j->metadata_json)) && jw_put(o, "tags", jw_text(j->tags_json)) &&
              jw_put(o, "attempts", json_integer(j->attempts)) &&
              jw_put(o, "created", json_integer(j->created_ms)) &&
              jw_put(o, "started", json_integer(j->started_ms)) &&
              jw_put(o, "finished", json_integer(j->finished_ms)) &&
              jw_put(o, "codeHash", json_string(j->code_hash)) &&
              jw_put(o, "outputHash", json_string(j->output_hash));
    if (ok && j->callback.url[0])
        ok = jw_put(o, "callback", callback_json(&j->callback));
    if (ok && with_result)
        ok = jw_put(o, "results", job_tests_json(j, true)) &&
             jw_put(o, "compiled", json_boolean(j->compiled)) &&
             jw_put(o, "compile", jw_step_json(&j->compile)) && jw_put(o, "run", jw_step_json(&j->run));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int job_wire_encode(const struct job *j, bool with_result, size_t max, char **out, size_t *len)
{
    json_t *o = job_wire_json(j, with_result, max);
    if (!o)
        return data_bytes(j, with_result) > max ? -E2BIG : -ENOMEM;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return -ENOMEM;
    size_t n = strlen(s);
    if (n > max) {
        free(s);
        return -E2BIG;
    }
    *out = s;
    *len = n;
    return 0;
}

/* ---- decoding ---- */

int jw_unb64(json_t *v, char **data, size_t *len)
{
    if (!json_is_string(v))
        return -EINVAL;
    return moat_base64_decode(json_string_value(v), json_string_length(v), data, len);
}

/* A text member: NULL for null, a copy of a string without NULs. */
int jw_untext(json_t *v, char **out)
{
    if (json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return -EINVAL;
    *out = strdup(json_string_value(v));
    return *out ? 0 : -ENOMEM;
}

/* A string that fits dst (NUL included), or -EINVAL. */
static int fixed(json_t *v, char *dst, size_t cap)
{
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return -EINVAL;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int jw_int_in(json_t *v, json_int_t lo, json_int_t hi, json_int_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -EINVAL;
    *out = json_integer_value(v);
    return 0;
}

static int limits_from(json_t *a, struct moat_limits *l)
{
    uint64_t *f[] = {&l->time_ms,       &l->wall_time_ms, &l->memory_mb,      &l->max_processes,
                     &l->max_output_kb, &l->max_file_kb,  &l->max_open_files, &l->stack_kb};
    size_t n = sizeof(f) / sizeof(f[0]);
    if (!json_is_array(a) || json_array_size(a) != n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        json_int_t v = 0;
        if (jw_int_in(json_array_get(a, i), 0, INT64_MAX, &v) < 0)
            return -EINVAL;
        *f[i] = (uint64_t)v;
    }
    return 0;
}

static int files_from(json_t *a, struct job *j)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0)
        return -EINVAL;
    j->files = calloc(n, sizeof(*j->files));
    if (!j->files)
        return -ENOMEM;
    j->nfiles = n;
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(a, i);
        int r = jw_untext(json_object_get(f, "name"), &j->files[i].name);
        if (r == 0)
            r = jw_unb64(json_object_get(f, "data"), &j->files[i].data, &j->files[i].len);
        if (r < 0)
            return r;
    }
    return 0;
}

int jw_strv_from(json_t *a, char ***v, size_t *nv)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a))
        return -EINVAL;
    if (n == 0)
        return 0;
    *v = calloc(n, sizeof(**v));
    if (!*v)
        return -ENOMEM;
    *nv = n;
    for (size_t i = 0; i < n; i++) {
        int r = json_is_string(json_array_get(a, i)) ? jw_untext(json_array_get(a, i), &(*v)[i])
                                                     : -EINVAL;
        if (r < 0)
            return r;
    }
    return 0;
}

static int judge_from(json_t *o, struct job *j)
{
    if (json_is_null(o))
        return 0;
    json_int_t mode = 0;
    json_t *abs_tol = json_object_get(o, "abs"), *rel_tol = json_object_get(o, "rel");
    if (!json_is_object(o) ||
        jw_int_in(json_object_get(o, "mode"), 0, JOB_COMPARE_MAX_ - 1, &mode) < 0 ||
        !json_is_number(abs_tol) || !json_is_number(rel_tol) || json_number_value(abs_tol) < 0 ||
        json_number_value(rel_tol) < 0)
        return -EINVAL;
    j->compare = (struct job_compare_opts){.mode = (enum job_compare)mode,
                                           .abs_tol = json_number_value(abs_tol),
                                           .rel_tol = json_number_value(rel_tol)};
    json_t *expected = json_object_get(o, "expected");
    if (json_is_null(expected))
        return 0; /* the tests' comparison */
    j->judged = true;
    return jw_unb64(expected, &j->expected, &j->expected_len);
}

int jw_step_from(json_t *o, struct job_step *s)
{
    json_int_t verdict = 0, exit_code = 0, sig = 0, t = 0, wall = 0, mem = 0;
    if (!json_is_object(o) ||
        jw_int_in(json_object_get(o, "verdict"), 0, JOB_VERDICT_MAX_ - 1, &verdict) < 0 ||
        jw_int_in(json_object_get(o, "exit"), INT32_MIN, INT32_MAX, &exit_code) < 0 ||
        jw_int_in(json_object_get(o, "signal"), 0, 128, &sig) < 0 ||
        jw_int_in(json_object_get(o, "time"), 0, INT64_MAX, &t) < 0 ||
        jw_int_in(json_object_get(o, "wall"), 0, INT64_MAX, &wall) < 0 ||
        jw_int_in(json_object_get(o, "memory"), 0, INT64_MAX, &mem) < 0 ||
        !json_is_boolean(json_object_get(o, "outCut")) ||
        !json_is_boolean(json_object_get(o, "errCut")) ||
        !json_is_boolean(json_object_get(o, "cached")))
        return -EINVAL;
    *s = (struct job_step){.verdict = (enum job_verdict)verdict,
                           .exit_code = (int)exit_code,
                           .signal = (int)sig,
                           .time_ms = (uint64_t)t,
                           .wall_time_ms = (uint64_t)wall,
                           .memory_kb = (uint64_t)mem,
                           .out_truncated = json_is_true(json_object_get(o, "outCut")),
                           .err_truncated = json_is_true(json_object_get(o, "errCut")),
                           .cached = json_is_true(json_object_get(o, "cached"))};
    char *msg = NULL;
    size_t mlen = 0;
    int r = jw_unb64(json_object_get(o, "out"), &s->out, &s->out_len);
    if (r == 0)
        r = jw_unb64(json_object_get(o, "err"), &s->err, &s->err_len);
    if (r == 0 && json_object_get(o, "order")) /* absent: not recorded */
        r = jw_unb64(json_object_get(o, "order"), &s->order, &s->order_len);
    if (r == 0 && s->order_len % 4)
        r = -EINVAL;
    if (r == 0)
        r = jw_unb64(json_object_get(o, "message"), &msg, &mlen);
    if (r == 0 && mlen >= sizeof(s->message))
        r = -EINVAL;
    if (r == 0)
        memcpy(s->message, msg, mlen + 1);
    free(msg);
    return r;
}

/* What was asked: language, limits, program, input, judging, tests. */
static int decode_request(json_t *o, struct job *j)
{
    json_int_t prio = 0;
    int r = fixed(json_object_get(o, "language"), j->language, sizeof(j->language));
    if (r == 0)
        r = fixed(json_object_get(o, "languageGiven"), j->language_given,
                  sizeof(j->language_given));
    if (r == 0)
        r = fixed(json_object_get(o, "version"), j->version, sizeof(j->version));
    if (r == 0)
        r = jw_int_in(json_object_get(o, "priority"), JOB_PRIORITY_MIN, JOB_PRIORITY_MAX, &prio);
    j->priority = (int)prio;
    if (r == 0)
        r = limits_from(json_object_get(o, "limits"), &j->limits);
    if (r == 0)
        r = files_from(json_object_get(o, "files"), j);
    if (r == 0)
        r = jw_unb64(json_object_get(o, "stdin"), &j->stdin_data, &j->stdin_len);
    if (r == 0)
        r = jw_strv_from(json_object_get(o, "args"), &j->args, &j->nargs);
    if (r == 0)
        r = judge_from(json_object_get(o, "judge"), j);
    if (r == 0)
        r = job_tests_from_json(json_object_get(o, "tests"), j, false);
    if (r == 0 && !json_is_boolean(json_object_get(o, "stopOnFailure")))
        r = -EINVAL;
    j->stop_on_failure = json_is_true(json_object_get(o, "stopOnFailure"));
    if (r == 0)
        r = jw_untext(json_object_get(o, "metadata"), &j->metadata_json);
    if (r == 0)
        r = jw_untext(json_object_get(o, "tags"), &j->tags_json);
    return r;
}

/* Where it is: status, attempts, times, hashes. */
static int decode_state(json_t *o, struct job *j)
{
    json_int_t status = 0, attempts = 0, created = 0, started = 0, finished = 0;
    int r = jw_int_in(json_object_get(o, "status"), 0, JOB_STATUS_MAX_ - 1, &status);
    if (r == 0)
        r = jw_int_in(json_object_get(o, "attempts"), 0, UINT32_MAX, &attempts);
    if (r == 0)
        r = jw_int_in(json_object_get(o, "created"), 0, INT64_MAX, &created);
    if (r == 0)
        r = jw_int_in(json_object_get(o, "started"), 0, INT64_MAX, &started);
    if (r == 0)
        r = jw_int_in(json_object_get(o, "finished"), 0, INT64_MAX, &finished);
    if (r == 0)
        r = fixed(json_object_get(o, "codeHash"), j->code_hash, sizeof(j->code_hash));
    if (r == 0)
        r = fixed(json_object_get(o, "outputHash"), j->output_hash, sizeof(j->output_hash));
    j->status = (enum job_status)status;
    j->attempts = (uint32_t)attempts;
    j->created_ms = created;
    j->started_ms = started;
    j->finished_ms = finished;
    return r;
}

static int decode_into(json_t *o, struct job *j)
{
    json_int_t v = 0;
    if (!json_is_object(o) || jw_int_in(json_object_get(o, "v"), WIRE_VERSION, WIRE_VERSION, &v) < 0)
        return -EINVAL;
    int r = fixed(json_object_get(o, "id"), j->id, sizeof(j->id));
    if (r == 0)
        r = decode_request(o, j);
    if (r == 0)
        r = decode_state(o, j);
    if (r == 0)
        r = callback_from(json_object_get(o, "callback"), &j->callback);
    if (r < 0)
        return r;
    json_t *compiled = json_object_get(o, "compiled");
    if (!compiled)
        return 0; /* the request and its state only */
    if (!json_is_boolean(compiled))
        return -EINVAL;
    j->compiled = json_is_true(compiled);
    r = jw_step_from(json_object_get(o, "compile"), &j->compile);
    if (r == 0)
        r = jw_step_from(json_object_get(o, "run"), &j->run);
    return r == 0 ? job_tests_from_json(json_object_get(o, "results"), j, true) : r;
}

int job_wire_from_json(json_t *o, struct job *out)
{
    struct job j = {0};
    int r = decode_into(o, &j);
    if (r < 0) {
        job_release(&j);
        return r;
    }
    *out = j;
    return 0;
}

int job_wire_decode(const char *text_, size_t len, struct job *out)
{
    json_t *o = json_loadb(text_, len, JSON_REJECT_DUPLICATES, NULL);
    if (!o)
        return -EINVAL;
    int r = job_wire_from_json(o, out);
    json_decref(o);
    return r;
}
