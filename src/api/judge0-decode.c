/*
 * The Judge0 submission decoder: one submission object (untrusted) becomes
 * a checked struct job, or Judge0's 422 body naming every field at fault.
 *
 * Judge0's rules are kept where moat can honour them (its defaults come
 * from moat's, its maxima are moat's maxima: never more than the server
 * allows). What moat cannot do is refused on its field with a sentence
 * saying so, never accepted and silently dropped: per-process limits,
 * stderr merged into stdout, a network, several runs, compiler options,
 * additional files. Unknown keys are ignored, as Judge0 (Rails' permitted
 * parameters) ignores them.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "judge0-internal.h"
#include "moat/util.h"

#define J0_ARGS_MAX_BYTES 512 /* Judge0's command_line_arguments bound */
#define J0_ARGS_MAX 256
#define J0_URL_MAX_BYTES 2048
#define J0_EXTRA_TIME_MAX 5.0 /* Judge0's MAX_CPU_EXTRA_TIME */
#define J0_RUNS_MAX 20        /* Judge0's MAX_NUMBER_OF_RUNS */

struct jdec {
    const struct moat_config *cfg;
    const struct lang_registry *langs;
    const json_t *obj;
    bool base64;
    json_t *errors; /* {"field": [messages]} */
    bool nomem;
    struct job job;
    char *callback_url;
    json_t *extra; /* what metadata_json keeps: {"judge0": extra} */
    size_t runs;   /* number_of_runs */
    bool have_time, have_wall;
};

/* Adds a message to the field's list. */
__attribute__((format(printf, 3, 4))) static void add(struct jdec *d, const char *field,
                                                      const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *list = json_object_get(d->errors, field);
    if (!list) {
        list = json_array(); /* new reference, given to errors */
        if (!list || json_object_set_new(d->errors, field, list) < 0) {
            d->nomem = true;
            return;
        }
    }
    if (json_array_append_new(list, json_string(msg)) < 0)
        d->nomem = true;
}

/* The value of key, NULL when absent or null (Judge0 reads null as unset). */
static const json_t *get(const struct jdec *d, const char *key)
{
    const json_t *v = json_object_get(d->obj, key);
    return json_is_null(v) ? NULL : v;
}

/* A text attribute as bytes, base64-decoded when asked. *out is owned by
 * the caller; false (with the field's error) when it cannot be read. */
static bool text(struct jdec *d, const char *key, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const json_t *v = get(d, key);
    if (!v)
        return true;
    if (!json_is_string(v)) {
        add(d, key, "must be a string");
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (d->base64) {
        int r = j0_base64_decode(s, n, out, len);
        if (r == -ENOMEM)
            d->nomem = true;
        else if (r < 0)
            add(d, key, "is not valid base64");
        return r == 0;
    }
    *out = moat_memdup0(s, n);
    if (!*out) {
        d->nomem = true;
        return false;
    }
    *len = n;
    return true;
}

static void take_source(struct jdec *d)
{
    char *src = NULL;
    size_t len = 0;
    if (!text(d, "source_code", &src, &len))
        return;
    if (!src || len == 0) {
        free(src);
        add(d, "source_code", "can't be blank");
        return;
    }
    if (len > d->cfg->max_code_kb * 1024) {
        free(src);
        add(d, "source_code", "is longer than %" PRIu64 " KB", d->cfg->max_code_kb);
        return;
    }
    d->job.files = calloc(1, sizeof(*d->job.files));
    if (!d->job.files) {
        free(src);
        d->nomem = true;
        return;
    }
    d->job.nfiles = 1;
    d->job.files[0].data = src;
    d->job.files[0].len = len;
}

static void take_language(struct jdec *d)
{
    const json_t *v = get(d, "language_id");
    if (!v) {
        add(d, "language_id", "can't be blank");
        return;
    }
    if (!json_is_integer(v)) {
        add(d, "language_id", "is not a number");
        return;
    }
    json_int_t id = json_integer_value(v);
    const struct lang *l =
        id > 0 && id <= LANG_JUDGE0_ID_MAX ? lang_find_judge0(d->langs, (unsigned)id) : NULL;
    if (!l || !lang_available(l)) {
        add(d, "language_id", "language with id %" JSON_INTEGER_FORMAT " doesn't exist", id);
        return;
    }
    moat_strlcpy(d->job.language, l->name, sizeof(d->job.language));
    (void)snprintf(d->job.language_given, sizeof(d->job.language_given), "%" JSON_INTEGER_FORMAT,
                   id);
    moat_strlcpy(d->job.version, l->version, sizeof(d->job.version));
}

static void take_stdin_expected(struct jdec *d)
{
    char *s = NULL;
    size_t n = 0;
    if (text(d, "stdin", &s, &n)) {
        if (n > d->cfg->max_stdin_kb * 1024) {
            add(d, "stdin", "is longer than %" PRIu64 " KB", d->cfg->max_stdin_kb);
            free(s);
        } else {
            d->job.stdin_data = s;
            d->job.stdin_len = n;
        }
    }
    if (text(d, "expected_output", &s, &n) && s) {
        if (n > d->cfg->max_stdin_kb * 1024) {
            add(d, "expected_output", "is longer than %" PRIu64 " KB", d->cfg->max_stdin_kb);
            free(s);
            return;
        }
        d->job.judged = true;
        d->job.expected = s;
        d->job.expected_len = n;
        d->job.compare = (struct job_compare_opts){.mode = JOB_COMPARE_TRIM};
    }
}

/* A number of the field in [lo, hi]; false (with the field's error) when
 * absent (nothing added then), not a number or out of range. */
static bool number(struct jdec *d, const char *key, double lo, double hi, bool integer, double *out)
{
    const json_t *v = get(d, key);
    if (!v)
        return false;
    if (!json_is_number(v) || (integer && !json_is_integer(v))) {
        add(d, key, integer ? "must be an integer" : "is not a number");
        return false;
    }
    double x = json_number_value(v);
    if (x < lo) {
        add(d, key, "must be greater than or equal to %.15g", lo);
        return false;
    }
    if (x > hi) {
        add(d, key, "must be less than or equal to %.15g", hi);
        return false;
    }
    *out = x;
    return true;
}

/* Seconds (a float) into ms, at least 1. */
static uint64_t to_ms(double s)
{
    double ms = ceil(s * 1000.0);
    return ms < 1.0 ? 1 : (uint64_t)ms;
}

static void take_limits(struct jdec *d)
{
    const struct moat_limits *mx = &d->cfg->max_limits;
    struct moat_limits *l = &d->job.limits;
    double x = 0;
    if (number(d, "cpu_time_limit", 0.001, (double)mx->time_ms / 1000.0, false, &x)) {
        l->time_ms = to_ms(x);
        d->have_time = true;
    }
    if (number(d, "cpu_extra_time", 0, J0_EXTRA_TIME_MAX, false, &x) &&
        json_object_set_new(d->extra, "cpu_extra_time", json_real(x)) < 0)
        d->nomem = true;
    if (number(d, "wall_time_limit", 0.001, (double)config_wall_ms(mx) / 1000.0, false, &x)) {
        l->wall_time_ms = to_ms(x);
        d->have_wall = true;
    }
    /* KB in Judge0; moat's cgroup limit is whole MiB: rounded up */
    if (number(d, "memory_limit", 1024, (double)mx->memory_mb * 1024, true, &x))
        l->memory_mb = ((uint64_t)x + 1023) / 1024;
    if (number(d, "stack_limit", 1, (double)mx->stack_kb, true, &x))
        l->stack_kb = (uint64_t)x;
    if (number(d, "max_processes_and_or_threads", 1, (double)mx->max_processes, true, &x))
        l->max_processes = (uint64_t)x;
    if (number(d, "max_file_size", 1, (double)mx->max_file_kb, true, &x))
        l->max_file_kb = (uint64_t)x;
    if (d->have_time && !d->have_wall)
        l->wall_time_ms = 0; /* derived from the CPU limit, as natively */
}

/* A boolean that moat cannot honour when true: refused with why. */
static void refuse_true(struct jdec *d, const char *key, const char *why)
{
    const json_t *v = get(d, key);
    if (!v)
        return;
    if (!json_is_boolean(v))
        add(d, key, "must be true or false");
    else if (json_is_true(v))
        add(d, key, "%s", why);
}

static void take_unsupported(struct jdec *d)
{
    refuse_true(d, "enable_per_process_and_thread_time_limit",
                "is not supported: moat limits the CPU time of every process and thread "
                "together");
    refuse_true(d, "enable_per_process_and_thread_memory_limit",
                "is not supported: moat limits the memory of every process and thread together");
    refuse_true(d, "redirect_stderr_to_stdout", "is not supported: moat keeps stderr apart");
    refuse_true(d, "enable_network", "is not allowed: programs run without a network");
    double runs = 0;
    double most = (double)(d->cfg->max_tests < J0_RUNS_MAX ? d->cfg->max_tests : J0_RUNS_MAX);
    if (number(d, "number_of_runs", 1, most, true, &runs))
        d->runs = (size_t)runs;
    const json_t *v = get(d, "compiler_options");
    if (v && !json_is_string(v))
        add(d, "compiler_options", "must be a string");
    else if (v && json_string_length(v) > 0)
        add(d, "compiler_options", "is not supported by this server");
}

/* number_of_runs above 1: as many identical tests (moat's compile once,
 * run each in a fresh box), stopping at the first that fails, as Judge0
 * stops; stdin and the expected output move into each. */
static void make_runs(struct jdec *d)
{
    struct job *j = &d->job;
    j->tests = calloc(d->runs, sizeof(*j->tests));
    if (!j->tests) {
        d->nomem = true;
        return;
    }
    j->ntests = d->runs;
    for (size_t i = 0; i < d->runs; i++) {
        struct job_test *t = &j->tests[i];
        t->stdin_data = moat_memdup0(j->stdin_data ? j->stdin_data : "", j->stdin_len);
        t->stdin_len = j->stdin_len;
        t->judged = j->judged;
        if (j->judged)
            t->expected = moat_memdup0(j->expected, j->expected_len);
        t->expected_len = j->expected_len;
        if (!t->stdin_data || (j->judged && !t->expected)) {
            d->nomem = true;
            return;
        }
    }
    free(j->stdin_data);
    free(j->expected);
    j->stdin_data = j->expected = NULL;
    j->stdin_len = j->expected_len = 0;
    j->judged = false;
    j->compare = (struct job_compare_opts){.mode = JOB_COMPARE_TRIM};
    j->stop_on_failure = true;
}

/* Whether two names clash in one directory: the same, or one a directory
 * of the other ("a" and "a/b"). */
static bool clash(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    size_t n = na < nb ? na : nb;
    return strncmp(a, b, n) == 0 && (na == nb || (na < nb ? b[n] : a[n]) == '/');
}

/* The files of the zip join the program, named; the program gets its
 * language's entry name (main.py), which no entry may take. */
static void add_files(struct jdec *d, const struct lang *l, struct job_file *extra, size_t n)
{
    char entry[256];
    struct moat_err err = {0};
    const struct job_file *src = &d->job.files[0];
    if (lang_entry_name(l, src->data, src->len, entry, sizeof(entry), &err) < 0) {
        add(d, "source_code", "%s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bool bad = clash(extra[i].name, entry);
        for (size_t k = 0; k < i && !bad; k++)
            bad = clash(extra[i].name, extra[k].name);
        if (bad) {
            add(d, "additional_files", "has an entry that clashes with another file: '%.80s'",
                extra[i].name);
            return;
        }
    }
    struct job_file *all = reallocarray(d->job.files, n + 1, sizeof(*all));
    if (!all || !(all[0].name = strdup(entry))) {
        if (all)
            d->job.files = all;
        d->nomem = true;
        return;
    }
    d->job.files = all;
    for (size_t i = 0; i < n; i++) {
        all[1 + i] = extra[i];
        extra[i] = (struct job_file){0};
        d->job.nfiles++;
    }
}

/* additional_files: a base64 zip, whatever base64_encoded says (Judge0's
 * rule), for an interpreted language (a compiled one would be given every
 * file to compile). */
static void take_additional(struct jdec *d)
{
    const json_t *v = get(d, "additional_files");
    if (!v)
        return;
    if (!json_is_string(v)) {
        add(d, "additional_files", "must be a string");
        return;
    }
    if (json_string_length(v) == 0)
        return;
    const struct lang *l = lang_find(d->langs, d->job.language);
    if (!l || d->job.nfiles != 1)
        return; /* the language or the program is refused already */
    if (lang_compiled(l)) {
        add(d, "additional_files", "is supported for interpreted languages only");
        return;
    }
    if (d->cfg->additional_files_max_kb == 0 || d->cfg->additional_files_max_entries == 0) {
        add(d, "additional_files", "is not enabled on this server");
        return;
    }
    char *zip = NULL;
    size_t len = 0;
    int r = j0_base64_decode(json_string_value(v), json_string_length(v), &zip, &len);
    if (r < 0) {
        if (r == -ENOMEM)
            d->nomem = true;
        else
            add(d, "additional_files", "is not valid base64");
        return;
    }
    struct job_file *files = NULL;
    size_t n = 0;
    char msg[200];
    r = j0_unzip(zip, len, d->cfg->additional_files_max_kb, d->cfg->additional_files_max_entries,
                 &files, &n, msg, sizeof(msg));
    free(zip);
    if (r == -ENOMEM)
        d->nomem = true;
    else if (r < 0)
        add(d, "additional_files", "%s", msg);
    else if (n > 0)
        add_files(d, l, files, n);
    for (size_t i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].data);
    }
    free(files);
}

/* One word of a shell-like command line: quotes ('' and "") and backslash
 * escapes as a shell reads them, nothing expanded or run. Returns the end
 * of the word, or NULL for an unterminated quote. */
static const char *word(const char *s, char *out, size_t *n)
{
    char q = 0;
    *n = 0;
    for (; *s; s++) {
        char c = *s;
        if (q) {
            if (c == q)
                q = 0;
            else if (c == '\\' && q == '"' && (s[1] == '"' || s[1] == '\\'))
                out[(*n)++] = *++s;
            else
                out[(*n)++] = c;
        } else if (c == '\'' || c == '"') {
            q = c;
        } else if (c == '\\' && s[1]) {
            out[(*n)++] = *++s;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            break;
        } else {
            out[(*n)++] = c;
        }
    }
    out[*n] = '\0';
    return q ? NULL : s;
}

static void take_args(struct jdec *d)
{
    const json_t *v = get(d, "command_line_arguments");
    if (!v)
        return;
    if (!json_is_string(v)) {
        add(d, "command_line_arguments", "must be a string");
        return;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > J0_ARGS_MAX_BYTES || strlen(s) != len) {
        add(d, "command_line_arguments", "is too long (maximum is %d characters)",
            J0_ARGS_MAX_BYTES);
        return;
    }
    char w[J0_ARGS_MAX_BYTES + 1];
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            break;
        size_t n = 0;
        s = word(s, w, &n);
        if (!s) {
            add(d, "command_line_arguments", "has an unterminated quote");
            return;
        }
        if (d->job.nargs == J0_ARGS_MAX) {
            add(d, "command_line_arguments", "has more than %d words", J0_ARGS_MAX);
            return;
        }
        char **a = reallocarray(d->job.args, d->job.nargs + 1, sizeof(*a));
        if (!a) {
            d->nomem = true;
            return;
        }
        d->job.args = a;
        if (!(a[d->job.nargs] = moat_memdup0(w, n))) {
            d->nomem = true;
            return;
        }
        d->job.nargs++;
    }
    if (json_object_set_new(d->extra, "command_line_arguments", json_string(json_string_value(v))))
        d->nomem = true;
}

/* callback_url: moat's webhook in Judge0's shape (PUT, the submission in
 * base64), its URL checked as every webhook's is (scheme, the allow-list:
 * no loopback, private or metadata address unless allowed). */
static void take_callback(struct jdec *d)
{
    const json_t *v = get(d, "callback_url");
    if (!v)
        return;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s ? json_string_length(v) : 0;
    if (!s || strlen(s) != n || n > J0_URL_MAX_BYTES ||
        (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)) {
        add(d, "callback_url", "must be an http or https URL of at most %d characters",
            J0_URL_MAX_BYTES);
        return;
    }
    struct api_error e = {0};
    if (api_callback_take(d->cfg, "callback_url", v, JOB_CALLBACK_JUDGE0, &d->job, &e) < 0) {
        add(d, "callback_url", "%s", e.message);
        return;
    }
    if (!(d->callback_url = strdup(s)))
        d->nomem = true;
}

/* The limits as a whole, against moat's rules (a derived wall time over
 * its maximum, a default above a smaller asked maximum): named by the
 * Judge0 field. */
static void check_whole(struct jdec *d)
{
    static const struct {
        const char *native, *judge0;
    } names[] = {{"timeoutMs", "cpu_time_limit"}, {"wallTimeoutMs", "wall_time_limit"},
                 {"memoryMb", "memory_limit"},    {"maxProcesses", "max_processes_and_or_threads"},
                 {"maxFileKb", "max_file_size"},  {"stackKb", "stack_limit"}};
    struct moat_err err = {0};
    if (config_check_limits(d->cfg, &d->job.limits, &err) == 0)
        return;
    const char *field = "base";
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(names); i++)
        if (strcmp(err.field, names[i].native) == 0)
            field = names[i].judge0;
    add(d, field, "is out of this server's range (%s)", err.msg);
}

static int finish(struct jdec *d, struct j0_submit *out, json_t **errors)
{
    if (!d->nomem && json_object_size(d->errors) == 0 && json_object_size(d->extra) > 0) {
        json_t *meta = json_pack("{s:O}", "judge0", d->extra); /* new reference */
        char *m = meta ? json_dumps(meta, JOB_JSON_DUMP_FLAGS) : NULL;
        json_decref(meta);
        if (!m)
            d->nomem = true;
        d->job.metadata_json = m;
    }
    json_decref(d->extra);
    if (d->nomem || json_object_size(d->errors) > 0) {
        job_release(&d->job);
        free(d->callback_url);
        if (d->nomem) {
            json_decref(d->errors);
            *errors = NULL;
            return -ENOMEM;
        }
        *errors = d->errors;
        return -EINVAL;
    }
    json_decref(d->errors);
    *out = (struct j0_submit){.job = d->job, .callback_url = d->callback_url};
    return 0;
}

int j0_decode_submission(const struct moat_config *cfg, const struct lang_registry *langs,
                         const json_t *obj, bool base64, struct j0_submit *out, json_t **errors)
{
    *errors = NULL;
    struct jdec d = {.cfg = cfg, .langs = langs, .obj = obj, .base64 = base64};
    d.errors = json_object(); /* new references, released by finish */
    d.extra = json_object();
    d.nomem = !d.errors || !d.extra;
    d.job.priority = JOB_PRIORITY_DEFAULT;
    d.job.limits = cfg->limits;
    d.job.status = JOB_STATUS_QUEUED;
    if (!d.nomem && !json_is_object(obj)) {
        add(&d, "base", "a submission must be a JSON object");
        return finish(&d, out, errors);
    }
    if (!d.nomem) {
        take_source(&d);
        take_language(&d);
        take_stdin_expected(&d);
        take_limits(&d);
        take_unsupported(&d);
        take_args(&d);
        take_callback(&d);
        if (json_object_size(d.errors) == 0)
            take_additional(&d);
        if (json_object_size(d.errors) == 0 && d.runs > 1)
            make_runs(&d);
        if (json_object_size(d.errors) == 0)
            check_whole(&d);
    }
    return finish(&d, out, errors);
}

void j0_submit_release(struct j0_submit *s)
{
    if (!s)
        return;
    job_release(&s->job);
    free(s->callback_url);
    s->callback_url = NULL;
}

char *j0_base64_encode(const void *data, size_t len, size_t *outlen)
{
    size_t n = 0;
    char *flat = moat_base64_encode(data, len, &n);
    if (!flat)
        return NULL;
    size_t lines = (n + 59) / 60;
    char *out = malloc(n + lines + 1);
    if (!out) {
        free(flat);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 60) {
        size_t k = n - i < 60 ? n - i : 60;
        memcpy(out + o, flat + i, k);
        o += k;
        out[o++] = '\n';
    }
    out[o] = '\0';
    free(flat);
    *outlen = o;
    return out;
}

int j0_base64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
    char *flat = malloc(len + 1);
    if (!flat)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] != '\n' && in[i] != '\r')
            flat[n++] = in[i];
    int r = moat_base64_decode(flat, n, out, outlen);
    free(flat);
    return r;
}
