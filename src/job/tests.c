/*
 * A job's test cases as JSON: what each asks (its spec, stored with the
 * job when it is accepted) and what each gave (its result, stored when the
 * job is final), each an array in test order with every byte in base64.
 * The store keeps them as two blobs so that the spec is written once and
 * the results once; the job between nodes carries both.
 */
#include "job-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static json_t *spec_json(const struct job_test *t)
{
    json_t *o = json_object();
    bool ok = o && jw_put(o, "stdin", jw_b64(t->stdin_data, t->stdin_len)) &&
              jw_put(o, "args", t->args ? jw_strv_json(t->args, t->nargs) : json_null()) &&
              jw_put(o, "expected",
                     t->judged ? jw_b64(t->expected ? t->expected : "", t->expected_len)
                               : json_null()) &&
              jw_put(o, "time", jw_u64(t->time_ms)) && jw_put(o, "memory", jw_u64(t->memory_mb));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *job_tests_json(const struct job *j, bool results)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < j->ntests; i++) {
        json_t *v = results ? jw_step_json(&j->tests[i].result) : spec_json(&j->tests[i]);
        if (json_array_append_new(a, v) < 0) { /* steals v, fails on NULL */
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int spec_from(json_t *o, struct job_test *t)
{
    json_int_t time_ms = 0, memory_mb = 0;
    json_t *args = json_object_get(o, "args"), *expected = json_object_get(o, "expected");
    if (!json_is_object(o) || jw_int_in(json_object_get(o, "time"), 0, INT64_MAX, &time_ms) < 0 ||
        jw_int_in(json_object_get(o, "memory"), 0, INT64_MAX, &memory_mb) < 0 || !args ||
        !expected)
        return -EINVAL;
    t->time_ms = (uint64_t)time_ms;
    t->memory_mb = (uint64_t)memory_mb;
    int r = jw_unb64(json_object_get(o, "stdin"), &t->stdin_data, &t->stdin_len);
    if (r == 0 && !json_is_null(args)) {
        r = jw_strv_from(args, &t->args, &t->nargs);
        if (r == 0 && !t->args) { /* an empty array: no args, not the job's */
            t->args = calloc(1, sizeof(*t->args));
            r = t->args ? 0 : -ENOMEM;
        }
    }
    if (r == 0 && !json_is_null(expected)) {
        t->judged = true;
        r = jw_unb64(expected, &t->expected, &t->expected_len);
    }
    return r;
}

int job_tests_from_json(json_t *a, struct job *j, bool results)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a) || (results && n != j->ntests))
        return -EINVAL;
    if (results) {
        for (size_t i = 0; i < n; i++) {
            job_step_release(&j->tests[i].result);
            int r = jw_step_from(json_array_get(a, i), &j->tests[i].result);
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (n == 0)
        return 0;
    j->tests = calloc(n, sizeof(*j->tests));
    if (!j->tests)
        return -ENOMEM;
    j->ntests = n;
    for (size_t i = 0; i < n; i++) {
        int r = spec_from(json_array_get(a, i), &j->tests[i]);
        if (r < 0)
            return r; /* released with the job */
    }
    return 0;
}

int job_tests_encode(const struct job *j, bool results, char **out, size_t *len)
{
    json_t *a = job_tests_json(j, results);
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (!s)
        return -ENOMEM;
    *out = s;
    *len = strlen(s);
    return 0;
}

int job_tests_decode(const char *text, size_t len, struct job *j, bool results)
{
    json_t *a = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!a)
        return -EINVAL;
    int r = job_tests_from_json(a, j, results);
    json_decref(a);
    return r;
}
