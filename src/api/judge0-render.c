/*
 * The Judge0 renderers: a job as Judge0's submission object, its status
 * ids, its languages and statuses lists. Pure: they read what they are
 * given and build JSON.
 *
 * Judge0 writes times as strings of seconds ("0.012"), memory in KB, empty
 * outputs as null, and with base64_encoded=true every text attribute in
 * Ruby's Base64.encode64 form (a newline every 60 characters and at the
 * end), which clients that split on newlines rely on.
 */
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "judge0-internal.h"
#include "moat/api.h"
#include "moat/util.h"

static const char *const descriptions[J0_STATUS_COUNT] = {
    "In Queue",
    "Processing",
    "Accepted",
    "Wrong Answer",
    "Time Limit Exceeded",
    "Compilation Error",
    "Runtime Error (SIGSEGV)",
    "Runtime Error (SIGXFSZ)",
    "Runtime Error (SIGFPE)",
    "Runtime Error (SIGABRT)",
    "Runtime Error (NZEC)",
    "Runtime Error (Other)",
    "Internal Error",
    "Exec Format Error",
};

const char *j0_status_description(unsigned id)
{
    return id >= 1 && id <= J0_STATUS_COUNT ? descriptions[id - 1] : NULL;
}

/* A run that ended abnormally, by its signal (Judge0's isolate mapping) or
 * its exit status. */
static unsigned by_signal(const struct job_step *s)
{
    switch (s->signal) {
    case 0:
        return J0_RE_NZEC;
    case SIGSEGV:
        return J0_RE_SIGSEGV;
    case SIGXFSZ:
        return J0_RE_SIGXFSZ;
    case SIGFPE:
        return J0_RE_SIGFPE;
    case SIGABRT:
        return J0_RE_SIGABRT;
    default:
        return J0_RE_OTHER;
    }
}

static void ended_message(const struct job_step *s, char *msg, size_t msgsz)
{
    if (s->signal)
        (void)snprintf(msg, msgsz, "Caught fatal signal %d", s->signal);
    else
        (void)snprintf(msg, msgsz, "Exited with error status %d", s->exit_code);
}

/* The status of a finished run step (verdict set). */
static unsigned by_verdict(const struct job_step *s, char *msg, size_t msgsz)
{
    switch (s->verdict) {
    case JOB_VERDICT_OK:
    case JOB_VERDICT_ACCEPTED:
        return J0_ACCEPTED;
    case JOB_VERDICT_WRONG_ANSWER:
        return J0_WRONG_ANSWER;
    case JOB_VERDICT_TIME_LIMIT:
        (void)snprintf(msg, msgsz, "Time limit exceeded");
        return J0_TIME_LIMIT;
    case JOB_VERDICT_COMPILE_ERROR:
        return J0_COMPILATION_ERROR;
    case JOB_VERDICT_RUNTIME_ERROR:
        ended_message(s, msg, msgsz);
        return by_signal(s);
    case JOB_VERDICT_MEMORY_LIMIT:
        /* Judge0 has no such id (#298): the kill's id, moat's word for it */
        (void)snprintf(msg, msgsz, "Memory Limit Exceeded");
        return s->signal ? by_signal(s) : J0_RE_OTHER;
    case JOB_VERDICT_OUTPUT_LIMIT:
        (void)snprintf(msg, msgsz, "Output Limit Exceeded");
        return s->signal ? by_signal(s) : J0_RE_OTHER;
    case JOB_VERDICT_CANCELLED:
        (void)snprintf(msg, msgsz, "Cancelled");
        return J0_INTERNAL_ERROR;
    case JOB_VERDICT_POLICY_VIOLATION: {
        /* Judge0 has no such status: refused before it ran, as moat's
         * sentence says (the file, line and rule) */
        char buf[sizeof(s->message) + 64];
        const char *why = job_error_sentence(s, buf, sizeof(buf));
        (void)snprintf(msg, msgsz, "%s", why ? why : "Policy Violation");
        return J0_INTERNAL_ERROR;
    }
    case JOB_VERDICT_INTERNAL_ERROR:
    case JOB_VERDICT_NONE:
    case JOB_VERDICT_SKIPPED:
    case JOB_VERDICT_MAX_:
        break;
    }
    (void)snprintf(msg, msgsz, "%s", s->message[0] ? s->message : "Internal Error");
    return J0_INTERNAL_ERROR;
}

unsigned j0_status_of(const struct job *j, char *msg, size_t msgsz)
{
    msg[0] = '\0';
    switch (j->status) {
    case JOB_STATUS_QUEUED:
        return J0_IN_QUEUE;
    case JOB_STATUS_RUNNING:
        return J0_PROCESSING;
    case JOB_STATUS_FAILED:
        (void)snprintf(msg, msgsz, "%s", j->run.message[0] ? j->run.message : "Internal Error");
        return J0_INTERNAL_ERROR;
    case JOB_STATUS_CANCELLED:
        if (j->run.verdict == JOB_VERDICT_NONE || j->run.verdict == JOB_VERDICT_CANCELLED) {
            (void)snprintf(msg, msgsz, "Cancelled");
            return J0_INTERNAL_ERROR;
        }
        break;
    case JOB_STATUS_COMPLETED:
    case JOB_STATUS_MAX_:
        break;
    }
    return by_verdict(&j->run, msg, msgsz);
}

/* ---- fields ---- */

static const char *const field_names[J0F_COUNT_] = {
    [J0F_SOURCE_CODE] = "source_code",
    [J0F_LANGUAGE_ID] = "language_id",
    [J0F_STDIN] = "stdin",
    [J0F_EXPECTED_OUTPUT] = "expected_output",
    [J0F_STDOUT] = "stdout",
    [J0F_STATUS_ID] = "status_id",
    [J0F_CREATED_AT] = "created_at",
    [J0F_FINISHED_AT] = "finished_at",
    [J0F_TIME] = "time",
    [J0F_MEMORY] = "memory",
    [J0F_STDERR] = "stderr",
    [J0F_TOKEN] = "token",
    [J0F_NUMBER_OF_RUNS] = "number_of_runs",
    [J0F_CPU_TIME_LIMIT] = "cpu_time_limit",
    [J0F_CPU_EXTRA_TIME] = "cpu_extra_time",
    [J0F_WALL_TIME_LIMIT] = "wall_time_limit",
    [J0F_MEMORY_LIMIT] = "memory_limit",
    [J0F_STACK_LIMIT] = "stack_limit",
    [J0F_MAX_PROCESSES] = "max_processes_and_or_threads",
    [J0F_PER_PROCESS_TIME] = "enable_per_process_and_thread_time_limit",
    [J0F_PER_PROCESS_MEMORY] = "enable_per_process_and_thread_memory_limit",
    [J0F_MAX_FILE_SIZE] = "max_file_size",
    [J0F_COMPILE_OUTPUT] = "compile_output",
    [J0F_EXIT_CODE] = "exit_code",
    [J0F_EXIT_SIGNAL] = "exit_signal",
    [J0F_MESSAGE] = "message",
    [J0F_WALL_TIME] = "wall_time",
    [J0F_COMPILER_OPTIONS] = "compiler_options",
    [J0F_COMMAND_LINE_ARGUMENTS] = "command_line_arguments",
    [J0F_REDIRECT_STDERR] = "redirect_stderr_to_stdout",
    [J0F_CALLBACK_URL] = "callback_url",
    [J0F_ADDITIONAL_FILES] = "additional_files",
    [J0F_ENABLE_NETWORK] = "enable_network",
    [J0F_STATUS] = "status",
    [J0F_LANGUAGE] = "language",
};

const char *j0_field_name(enum j0_field f)
{
    return (unsigned)f < J0F_COUNT_ ? field_names[f] : NULL;
}

#define BIT(f) (UINT64_C(1) << (f))
static const uint64_t default_fields = BIT(J0F_TOKEN) | BIT(J0F_TIME) | BIT(J0F_MEMORY) |
                                       BIT(J0F_STDOUT) | BIT(J0F_STDERR) | BIT(J0F_COMPILE_OUTPUT) |
                                       BIT(J0F_MESSAGE) | BIT(J0F_STATUS);

int j0_parse_fields(const char *s, uint64_t *out, char *msg, size_t msgsz)
{
    msg[0] = '\0';
    if (!s || !*s) {
        *out = default_fields;
        return 0;
    }
    if (strcmp(s, "*") == 0) {
        *out = BIT(J0F_COUNT_) - 1;
        return 0;
    }
    uint64_t set = 0;
    size_t used = (size_t)snprintf(msg, msgsz, "invalid fields: [");
    bool bad = false;
    while (*s) {
        size_t n = strcspn(s, ",");
        size_t k = 0;
        while (k < J0F_COUNT_ &&
               !(strlen(field_names[k]) == n && strncmp(field_names[k], s, n) == 0))
            k++;
        if (k < J0F_COUNT_) {
            set |= BIT(k);
        } else if (n > 0 && used < msgsz) {
            used += (size_t)snprintf(msg + used, msgsz - used, "%s%.*s", bad ? ", " : "",
                                     (int)(n > 64 ? 64 : n), s);
            bad = true;
        }
        s += n;
        if (*s == ',')
            s++;
    }
    if (bad) {
        if (used < msgsz)
            (void)snprintf(msg + used, msgsz - used, "]");
        return -EINVAL;
    }
    msg[0] = '\0';
    *out = set ? set : default_fields;
    return 0;
}

/* ---- the submission ---- */

struct render {
    const struct j0_query *q;
    json_t *o;
    bool utf8_error;
    bool nomem;
};

static void put(struct render *r, enum j0_field f, json_t *v)
{
    if (!(r->q->fields & BIT(f))) {
        json_decref(v);
        return;
    }
    if (!v || json_object_set_new(r->o, field_names[f], v) < 0)
        r->nomem = true;
}

/* A text attribute: null when empty or absent (Judge0 keeps nil), else
 * UTF-8 text or Ruby base64. */
static void put_text(struct render *r, enum j0_field f, const char *data, size_t len)
{
    if (!(r->q->fields & BIT(f)))
        return;
    if (!data || len == 0) {
        put(r, f, json_null());
        return;
    }
    if (r->q->base64) {
        size_t n = 0;
        char *b = j0_base64_encode(data, len, &n);
        put(r, f, b ? json_stringn(b, n) : NULL);
        free(b);
        return;
    }
    json_t *s = json_stringn(data, len);
    if (!s) { /* jansson refuses what is not UTF-8 */
        r->utf8_error = true;
        return;
    }
    put(r, f, s);
}

static json_t *seconds(uint64_t ms)
{
    char s[32];
    (void)snprintf(s, sizeof(s), "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
    return json_string(s);
}

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char t[32];
    api_format_time(ms, t);
    return json_string(t);
}

/* The Judge0 id the job was asked with (language_given), else the
 * language's first. */
static unsigned language_id(const struct job *j, const struct lang *l)
{
    uint64_t id = 0;
    if (parse_u64(j->language_given, 1, LANG_JUDGE0_ID_MAX, &id) == 0)
        return (unsigned)id;
    return l && l->njudge0_ids ? l->judge0_ids[0] : 0;
}

/* compile_output: what the compiler wrote, both streams, as Judge0 merges
 * them; its sentence when moat stopped it. */
static void put_compile(struct render *r, const struct job *j)
{
    if (!(r->q->fields & BIT(J0F_COMPILE_OUTPUT)))
        return;
    const struct job_step *c = &j->compile;
    if (!j->compiled) {
        put(r, J0F_COMPILE_OUTPUT, json_null());
        return;
    }
    size_t n = 0;
    if (!size_add(c->out_len, c->err_len, &n) || !size_add(n, 64, &n)) {
        r->nomem = true;
        return;
    }
    char *all = malloc(n);
    if (!all) {
        r->nomem = true;
        return;
    }
    size_t o = 0;
    if (c->out_len)
        memcpy(all, c->out, c->out_len);
    o += c->out_len;
    if (c->err_len)
        memcpy(all + o, c->err, c->err_len);
    o += c->err_len;
    if (c->verdict == JOB_VERDICT_TIME_LIMIT)
        o += (size_t)snprintf(all + o, n - o, "Compilation time limit exceeded.");
    put_text(r, J0F_COMPILE_OUTPUT, all, o);
    free(all);
}

/* Judge0's attributes moat keeps in the job's metadata. */
static json_t *extra(const struct job *j, json_t **root)
{
    *root = j->metadata_json ? json_loads(j->metadata_json, 0, NULL) : NULL;
    return json_object_get(*root, "judge0");
}

static void put_request(struct render *r, const struct job *j, const struct lang *l)
{
    const struct moat_limits *lim = &j->limits;
    json_t *root = NULL;
    json_t *x = extra(j, &root);
    if (j->nfiles >= 1) /* the program; the rest came in additional_files */
        put_text(r, J0F_SOURCE_CODE, j->files[0].data, j->files[0].len);
    else
        put(r, J0F_SOURCE_CODE, json_null());
    put(r, J0F_LANGUAGE_ID, json_integer(language_id(j, l)));
    /* with number_of_runs, each run (a test) has them */
    const struct job_test *t0 = j->ntests ? &j->tests[0] : NULL;
    if (t0) {
        put_text(r, J0F_STDIN, t0->stdin_data, t0->stdin_len);
        put_text(r, J0F_EXPECTED_OUTPUT, t0->judged ? t0->expected : NULL, t0->expected_len);
    } else {
        put_text(r, J0F_STDIN, j->stdin_data, j->stdin_len);
        put_text(r, J0F_EXPECTED_OUTPUT, j->judged ? j->expected : NULL, j->expected_len);
    }
    put(r, J0F_NUMBER_OF_RUNS, json_integer(j->ntests ? (json_int_t)j->ntests : 1));
    put(r, J0F_CPU_TIME_LIMIT, seconds(lim->time_ms));
    json_t *et = json_object_get(x, "cpu_extra_time");
    char s[32];
    (void)snprintf(s, sizeof(s), "%.3f", et ? json_number_value(et) : 0.0);
    put(r, J0F_CPU_EXTRA_TIME, json_string(s));
    put(r, J0F_WALL_TIME_LIMIT, seconds(config_wall_ms(lim)));
    put(r, J0F_MEMORY_LIMIT, json_integer((json_int_t)(lim->memory_mb * 1024)));
    put(r, J0F_STACK_LIMIT, json_integer((json_int_t)lim->stack_kb));
    put(r, J0F_MAX_PROCESSES, json_integer((json_int_t)lim->max_processes));
    put(r, J0F_PER_PROCESS_TIME, json_false());
    put(r, J0F_PER_PROCESS_MEMORY, json_false());
    put(r, J0F_MAX_FILE_SIZE, json_integer((json_int_t)lim->max_file_kb));
    put(r, J0F_COMPILER_OPTIONS, json_null());
    json_t *args = json_object_get(x, "command_line_arguments");
    put(r, J0F_COMMAND_LINE_ARGUMENTS, args ? json_copy(args) : json_null());
    put(r, J0F_REDIRECT_STDERR, json_false());
    put(r, J0F_CALLBACK_URL, j->callback.url[0] ? json_string(j->callback.url) : json_null());
    put(r, J0F_ADDITIONAL_FILES, json_null());
    put(r, J0F_ENABLE_NETWORK, json_false());
    json_decref(root);
}

/* Several runs (number_of_runs): Judge0 reports the average time and
 * memory of those that ran, and the outputs of the last. */
static struct job_step runs_view(const struct job *j)
{
    struct job_step v = j->run;
    uint64_t t = 0, w = 0, m = 0, n = 0;
    const struct job_step *last = NULL;
    for (size_t i = 0; i < j->ntests; i++) {
        const struct job_step *s = &j->tests[i].result;
        if (s->verdict == JOB_VERDICT_NONE || s->verdict == JOB_VERDICT_SKIPPED)
            continue;
        t += s->time_ms;
        w += s->wall_time_ms;
        m += s->memory_kb;
        n++;
        last = s;
    }
    if (n) {
        v.time_ms = t / n;
        v.wall_time_ms = w / n;
        v.memory_kb = m / n;
    }
    v.out = last ? last->out : NULL;
    v.out_len = last ? last->out_len : 0;
    v.err = last ? last->err : NULL;
    v.err_len = last ? last->err_len : 0;
    return v;
}

static void put_result(struct render *r, const struct job *jj)
{
    struct job runs;
    const struct job *j = jj;
    if (jj->ntests) {
        runs = *jj; /* a view: shares every buffer */
        runs.run = runs_view(jj);
        j = &runs;
    }
    bool final = job_status_final(j->status);
    bool ran = final && j->run.verdict != JOB_VERDICT_NONE &&
               j->run.verdict != JOB_VERDICT_COMPILE_ERROR &&
               j->run.verdict != JOB_VERDICT_POLICY_VIOLATION &&
               j->run.verdict != JOB_VERDICT_INTERNAL_ERROR &&
               j->run.verdict != JOB_VERDICT_CANCELLED;
    char msg[320];
    unsigned id = j0_status_of(j, msg, sizeof(msg));
    put_text(r, J0F_STDOUT, ran ? j->run.out : NULL, j->run.out_len);
    put_text(r, J0F_STDERR, ran ? j->run.err : NULL, j->run.err_len);
    put_compile(r, j);
    put_text(r, J0F_MESSAGE, msg, strlen(msg));
    put(r, J0F_STATUS_ID, json_integer(id));
    put(r, J0F_STATUS,
        json_pack("{s:i, s:s}", "id", (int)id, "description", j0_status_description(id)));
    put(r, J0F_TIME, ran ? seconds(j->run.time_ms) : json_null());
    put(r, J0F_WALL_TIME, ran ? seconds(j->run.wall_time_ms) : json_null());
    put(r, J0F_MEMORY, ran ? json_integer((json_int_t)j->run.memory_kb) : json_null());
    put(r, J0F_EXIT_CODE, ran && !j->run.signal ? json_integer(j->run.exit_code) : json_null());
    put(r, J0F_EXIT_SIGNAL, ran && j->run.signal ? json_integer(j->run.signal) : json_null());
    put(r, J0F_CREATED_AT, time_or_null(j->created_ms));
    put(r, J0F_FINISHED_AT, final ? time_or_null(j->finished_ms) : json_null());
}

json_t *j0_submission_json(const struct job *j, const struct j0_query *q,
                           const struct lang_registry *langs, bool *utf8_error)
{
    *utf8_error = false;
    struct j0_query dq = *q;
    if (!dq.fields)
        dq.fields = default_fields;
    struct render r = {.q = &dq, .o = json_object()}; /* new reference, returned */
    if (!r.o)
        return NULL;
    const struct lang *l = langs ? lang_find(langs, j->language) : NULL;
    put(&r, J0F_TOKEN, json_string(j->id));
    put_request(&r, j, l);
    put_result(&r, j);
    if (dq.fields & BIT(J0F_LANGUAGE)) {
        char name[128];
        if (l)
            j0_language_name(l, name, sizeof(name));
        else
            moat_strlcpy(name, j->language, sizeof(name));
        put(&r, J0F_LANGUAGE, json_pack("{s:i, s:s}", "id", (int)language_id(j, l), "name", name));
    }
    if (r.nomem || r.utf8_error) {
        *utf8_error = r.utf8_error && !r.nomem;
        json_decref(r.o);
        return NULL;
    }
    return r.o;
}

/* ---- the webhook ---- */

int api_callback_render_judge0(void *cls, const struct job *j, char **body, size_t *len)
{
    const struct moat_config *cfg = cls;
    struct job view = api_job_clipped(j, (size_t)(cfg->max_inline_output_kb << 10));
    /* Judge0 sends the default fields, always in base64 (its #480) */
    struct j0_query q = {.base64 = true, .fields = default_fields};
    bool utf8 = false;
    json_t *o = j0_submission_json(&view, &q, NULL, &utf8); /* new reference */
    if (!o)
        return -ENOMEM;
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    json_decref(o);
    if (!text)
        return -ENOMEM;
    *body = text;
    *len = strlen(text);
    return 0;
}

/* ---- languages, statuses, configuration ---- */

void j0_language_name(const struct lang *l, char *out, size_t outsz)
{
    /* Judge0 names a language by its tool where it names one */
    static const struct {
        const char *lang, *name, *tool;
    } named[] = {{"c", "C", "GCC "},
                 {"cpp", "C++", "GCC "},
                 {"java", "Java", "OpenJDK "},
                 {"javascript", "JavaScript", "Node.js "},
                 {"python", "Python", ""}};
    const char *name = l->display, *tool = "";
    size_t n = strcspn(l->display, "(");
    while (n > 0 && l->display[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(named); i++)
        if (strcmp(l->name, named[i].lang) == 0) {
            name = named[i].name;
            n = strlen(name);
            tool = named[i].tool;
        }
    if (l->version[0])
        (void)snprintf(out, outsz, "%.*s (%s%s)", (int)n, name, tool, l->version);
    else
        (void)snprintf(out, outsz, "%.*s", (int)n, name);
}

json_t *j0_statuses_json(void)
{
    json_t *a = json_array(); /* new reference, returned */
    for (unsigned id = 1; a && id <= J0_STATUS_COUNT; id++)
        if (json_array_append_new(a, json_pack("{s:i, s:s}", "id", (int)id, "description",
                                               descriptions[id - 1])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *j0_languages_json(const struct lang_registry *langs, bool all)
{
    json_t *a = json_array(); /* new reference, returned */
    /* by id: ids are small, so a walk over them is the sort */
    for (unsigned id = 1; a && id <= LANG_JUDGE0_ID_MAX; id++) {
        const struct lang *l = lang_find_judge0(langs, id);
        if (!l || !lang_available(l))
            continue;
        char name[128];
        j0_language_name(l, name, sizeof(name));
        json_t *o =
            all ? json_pack("{s:i, s:s, s:b}", "id", (int)id, "name", name, "is_archived", 0)
                : json_pack("{s:i, s:s}", "id", (int)id, "name", name);
        if (json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *j0_language_json(const struct lang_registry *langs, unsigned id)
{
    const struct lang *l = lang_find_judge0(langs, id);
    if (!l || !lang_available(l))
        return NULL;
    char name[128];
    j0_language_name(l, name, sizeof(name));
    /* compile_cmd null (not absent) for an interpreted language */
    return json_pack("{s:i, s:s, s:b, s:s, s:o, s:s}", "id", (int)id, "name", name, "is_archived",
                     0, "source_file", l->source, "compile_cmd",
                     lang_compiled(l) ? json_string(l->compile) : json_null(), "run_cmd", l->run);
}

json_t *j0_config_info_json(const struct moat_config *cfg)
{
    const struct moat_limits *d = &cfg->limits, *m = &cfg->max_limits;
    char t[5][32];
    (void)snprintf(t[0], sizeof(t[0]), "%.3f", (double)d->time_ms / 1000.0);
    (void)snprintf(t[1], sizeof(t[1]), "%.3f", (double)m->time_ms / 1000.0);
    (void)snprintf(t[2], sizeof(t[2]), "%.3f", (double)config_wall_ms(d) / 1000.0);
    (void)snprintf(t[3], sizeof(t[3]), "%.3f", (double)config_wall_ms(m) / 1000.0);
    (void)snprintf(t[4], sizeof(t[4]), "%.3f", 0.0);
    json_t *o = json_pack(
        "{s:b, s:b, s:[], s:b, s:b, s:b, s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "enable_wait_result",
        cfg->max_wait_ms > 0, "enable_compiler_options", 0, "allowed_languages_for_compile_options",
        "enable_command_line_arguments", 1, "enable_submission_delete", 1, "enable_callbacks", 1,
        "max_queue_size", (int)(cfg->max_queue > INT32_MAX ? INT32_MAX : cfg->max_queue),
        "cpu_time_limit", t[0], "max_cpu_time_limit", t[1], "cpu_extra_time", t[4],
        "max_cpu_extra_time", "5.0", "wall_time_limit", t[2], "max_wall_time_limit", t[3]);
    json_t *more = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:I, s:I, s:i, s:i, s:b, s:i, "
        "s:b, s:i, s:i, s:b, s:b, s:b, s:b}",
        "memory_limit", (json_int_t)(d->memory_mb * 1024), "max_memory_limit",
        (json_int_t)(m->memory_mb * 1024), "stack_limit", (json_int_t)d->stack_kb,
        "max_stack_limit", (json_int_t)m->stack_kb, "max_processes_and_or_threads",
        (json_int_t)d->max_processes, "max_max_processes_and_or_threads",
        (json_int_t)m->max_processes, "enable_per_process_and_thread_time_limit", 0,
        "allow_enable_per_process_and_thread_time_limit", 0,
        "enable_per_process_and_thread_memory_limit", 0,
        "allow_enable_per_process_and_thread_memory_limit", 0, "max_file_size",
        (json_int_t)d->max_file_kb, "max_max_file_size", (json_int_t)m->max_file_kb,
        "number_of_runs", 1, "max_number_of_runs", (int)(cfg->max_tests < 20 ? cfg->max_tests : 20),
        "redirect_stderr_to_stdout", 0, "max_extract_size", (int)cfg->additional_files_max_kb,
        "enable_batched_submissions", 1, "max_submission_batch_size",
        (int)(cfg->max_batch > INT32_MAX ? INT32_MAX : cfg->max_batch), "submission_cache_duration",
        0, "use_docs_as_homepage", 0, "allow_enable_network", 0, "enable_network", 0,
        "enable_additional_files", cfg->additional_files_max_kb > 0);
    if (!o || !more || json_object_update(o, more) < 0) {
        json_decref(o);
        json_decref(more);
        return NULL;
    }
    json_decref(more);
    return o;
}
