/*
 * The Piston v2 renderers: a finished job as POST /api/v2/execute answers
 * it, the runtimes list, and Piston's error body. Piston reports what
 * isolate's meta file says (status RE/SG/TO/XX, a message, exitcode or
 * exitsig) and adds OL/EL for output over its limit; moat's verdicts map
 * onto that (docs/piston.md has the table). Program output goes through
 * job_json_bytes, so no byte sequence can make rendering fail.
 */
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "moat/util.h"
#include "piston-internal.h"

/* moat's names that Piston spells differently; the others are the same. */
static const struct {
    const char *moat, *piston, *runtime;
} names[] = {
    {"cpp", "c++", NULL},
    {"javascript", "javascript", "node"},
};

/* Piston's aliases (its packages' metadata) that are not moat's. */
static const struct {
    const char *alias, *moat;
} piston_aliases[] = {
    {"gcc", "c"},
    {"py3", "python"},
    {"node-javascript", "javascript"},
    {"node-js", "javascript"},
    {"ruby3", "ruby"},
};

const struct lang *api_piston_find(const struct lang_registry *reg, const char *name)
{
    const struct lang *l = lang_find(reg, name);
    for (size_t i = 0; !l && i < MOAT_ARRAY_SIZE(piston_aliases); i++)
        if (strcasecmp(piston_aliases[i].alias, name) == 0)
            l = lang_find(reg, piston_aliases[i].moat);
    return l;
}

const char *api_piston_language_name(const char *name)
{
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(names); i++)
        if (strcmp(names[i].moat, name) == 0)
            return names[i].piston;
    return name;
}

static const char *runtime_name(const char *name)
{
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(names); i++)
        if (strcmp(names[i].moat, name) == 0)
            return names[i].runtime;
    return NULL;
}

/* Steals v (set_new does even on failure, and fails on NULL). */
static bool put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new_nocheck(o, key, v) == 0;
}

static json_t *u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v);
}

json_t *api_piston_error_json(const struct api_error *e)
{
    json_t *o = json_object();
    if (o && put(o, "message", job_json_bytes(e->message, strnlen(e->message, sizeof(e->message)))))
        return o;
    json_decref(o);
    return NULL;
}

/* What Piston's status, signal, code and message are for a step. */
struct stage_status {
    const char *status; /* NULL: exited 0 */
    const char *signal; /* NULL: none */
    bool has_code;
    int code;
    char message[sizeof(((struct job_step *)0)->message) + 64];
};

static void stage_status(const struct job_step *s, struct stage_status *st)
{
    *st = (struct stage_status){0};
    switch (s->verdict) {
    case JOB_VERDICT_OK:
    case JOB_VERDICT_ACCEPTED:
    case JOB_VERDICT_WRONG_ANSWER: /* not judged here: the program ran to its end */
        st->has_code = true;
        st->code = s->exit_code;
        return;
    case JOB_VERDICT_RUNTIME_ERROR:
    case JOB_VERDICT_COMPILE_ERROR:
        if (s->signal) {
            st->status = "SG";
            st->signal = job_signal_name(s->signal);
            (void)snprintf(st->message, sizeof(st->message), "Caught fatal signal %d", s->signal);
        } else {
            st->status = "RE";
            st->has_code = true;
            st->code = s->exit_code;
            (void)snprintf(st->message, sizeof(st->message), "Exited with error status %d",
                           s->exit_code);
        }
        return;
    case JOB_VERDICT_TIME_LIMIT:
        st->status = "TO";
        st->signal = "SIGKILL";
        moat_strlcpy(st->message, "Time limit exceeded", sizeof(st->message));
        return;
    case JOB_VERDICT_MEMORY_LIMIT:
        /* isolate reports a cgroup OOM kill as SG with SIGKILL */
        st->status = "SG";
        st->signal = "SIGKILL";
        moat_strlcpy(st->message, "Memory limit exceeded", sizeof(st->message));
        return;
    case JOB_VERDICT_OUTPUT_LIMIT: {
        bool err = s->err_truncated && !s->out_truncated;
        st->status = err ? "EL" : "OL";
        st->signal = "SIGKILL";
        moat_strlcpy(st->message, err ? "stderr length exceeded" : "stdout length exceeded",
                     sizeof(st->message));
        return;
    }
    case JOB_VERDICT_INTERNAL_ERROR:
    case JOB_VERDICT_CANCELLED:
    case JOB_VERDICT_SKIPPED:
    case JOB_VERDICT_POLICY_VIOLATION: /* the message names the file, line and rule */
    case JOB_VERDICT_NONE:
    case JOB_VERDICT_MAX_:
        break;
    }
    st->status = "XX";
    const char *why = job_error_sentence(s, st->message, sizeof(st->message));
    if (why != st->message)
        moat_strlcpy(st->message, why ? why : "Internal Error", sizeof(st->message));
}

/* stdout and stderr in the order the program wrote them (as far as the
 * sandbox saw it: docs/piston.md). */
static json_t *output_json(const struct job_step *s)
{
    char *both = NULL;
    size_t n = 0;
    if (job_step_interleave(s, &both, &n) < 0)
        return NULL;
    json_t *v = job_json_bytes(both, n);
    free(both);
    return v;
}

json_t *api_piston_stage_json(const struct job_step *s)
{
    struct stage_status st;
    stage_status(s, &st);
    uint64_t memory = s->memory_kb > UINT64_MAX / 1024 ? UINT64_MAX : s->memory_kb * 1024;
    json_t *o = json_object();
    if (o && put(o, "stdout", job_json_bytes(s->out, s->out_len)) &&
        put(o, "stderr", job_json_bytes(s->err, s->err_len)) && put(o, "output", output_json(s)) &&
        put(o, "code", st.has_code ? json_integer(st.code) : json_null()) &&
        put(o, "signal", st.signal ? json_string(st.signal) : json_null()) &&
        put(o, "message",
            st.message[0] ? job_json_bytes(st.message, strlen(st.message)) : json_null()) &&
        put(o, "status", st.status ? json_string(st.status) : json_null()) &&
        put(o, "cpu_time", u64(s->time_ms)) && put(o, "wall_time", u64(s->wall_time_ms)) &&
        put(o, "memory", u64(memory)))
        return o;
    json_decref(o);
    return NULL;
}

json_t *api_piston_job_json(const struct job *j)
{
    json_t *o = json_object();
    if (!o || !put(o, "language", json_string(api_piston_language_name(j->language))) ||
        !put(o, "version", job_json_bytes(j->version, strnlen(j->version, sizeof(j->version)))))
        goto fail;
    /* a compile step that failed: Piston skips the run and shows the
     * compile stage as the run too */
    bool compile_failed = j->compiled && j->compile.verdict != JOB_VERDICT_OK;
    if (!put(o, "run", api_piston_stage_json(compile_failed ? &j->compile : &j->run)))
        goto fail;
    if (j->compiled && !put(o, "compile", api_piston_stage_json(&j->compile)))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* One runtime: {language, version, aliases, runtime?}. */
static json_t *runtime_json(const struct lang *l, const char *cache_dir)
{
    const char *lang = api_piston_language_name(l->name);
    char version[64] = "";
    if (lang_version(l, cache_dir, version, sizeof(version)) < 0 || !version[0])
        moat_strlcpy(version, "*", sizeof(version)); /* only "*" matches it */
    json_t *aliases = json_array();
    if (aliases && strcmp(lang, l->name) != 0)
        json_array_append_new(aliases, json_string(l->name));
    for (size_t k = 0; aliases && k < l->naliases; k++)
        if (strcmp(l->aliases[k], lang) != 0)
            json_array_append_new(aliases, json_string(l->aliases[k]));
    for (size_t k = 0; aliases && k < MOAT_ARRAY_SIZE(piston_aliases); k++)
        if (strcmp(piston_aliases[k].moat, l->name) == 0)
            json_array_append_new(aliases, json_string(piston_aliases[k].alias));
    json_t *o = json_object();
    if (!o || !aliases || !put(o, "language", json_string(lang)) ||
        !put(o, "version", json_string(version))) {
        json_decref(o);
        json_decref(aliases);
        return NULL;
    }
    if (!put(o, "aliases", aliases)) { /* stolen */
        json_decref(o);
        return NULL;
    }
    const char *rt = runtime_name(l->name);
    if (rt && !put(o, "runtime", json_string(rt))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *api_piston_runtimes_json(const struct lang_registry *reg, const char *cache_dir)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < lang_count(reg); i++) {
        const struct lang *l = lang_at(reg, i);
        if (!lang_available(l))
            continue;
        if (json_array_append_new(arr, runtime_json(l, cache_dir)) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
