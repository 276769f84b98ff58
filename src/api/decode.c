/*
 * The submission decoder: a request body (untrusted, up to max_body_kb)
 * becomes a checked struct job, or a 4xx naming the field at fault. It is
 * the only place where client JSON is read, so every rule of API.md lives
 * here: no unknown key, no wrong type, every number in range, every size
 * bounded before anything is copied, every name a box accepts.
 *
 * Strings are read with their JSON length (JSON_ALLOW_NUL): code, file
 * contents and stdin are bytes and may hold NULs; a string that becomes a C
 * string (a language, a file name, an argument, a tag) may not, so that no
 * check can be passed by a prefix cut at a NUL.
 */
#include <inttypes.h>
#include <stddef.h>
#include <strings.h>

#include "api-internal.h"
#include "piston-internal.h"
#include "moat/notify.h"
#include "moat/sandbox.h"
#include "moat/util.h"

#define METADATA_MAX_BYTES 16384
#define METADATA_MAX_DEPTH 32
#define FILES_MAX 256 /* what exec_program accepts */
#define ARGS_MAX 256
#define TAGS_MAX 64
#define TAG_MAX_BYTES 256
#define VERSION_MAX_BYTES 63

/* Sets *d->e and evaluates to -EINVAL, so that checks read
 * `return FAIL(d, 400, "invalid_field", "code", "...")`. */
#define FAIL(d, status, code, field, ...)                                                          \
    (api_error_set((d)->e, status, code, field, __VA_ARGS__), -EINVAL)
#define BAD(d, field, ...) FAIL(d, 400, "invalid_field", field, __VA_ARGS__)

struct dec {
    const struct moat_config *cfg;
    const struct lang_registry *langs;
    struct api_error *e;
    struct job job; /* built here; moved to the caller only when whole */
    bool wait;
    const char *lang_field; /* "language", or seed 000's "executionEngine" */
    const struct lang *lang;
    bool have_time, have_wall;
    size_t code_bytes; /* code, or every file's decoded content */
};

static int no_memory(struct dec *d)
{
    api_error_set(d->e, 500, "internal", NULL, "out of memory");
    return -ENOMEM;
}

static uint64_t kib(uint64_t n)
{
    return n > UINT64_MAX / 1024 ? UINT64_MAX : n * 1024;
}

/* A string value; text (allow_nul false) may not hold a NUL. */
static int get_string(struct dec *d, const char *field, const json_t *v, bool allow_nul,
                      const char **s, size_t *len)
{
    if (!json_is_string(v))
        return BAD(d, field, "%s must be a string", field);
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (!allow_nul && memchr(*s, '\0', *len))
        return BAD(d, field, "%s must not contain NUL characters", field);
    return 0;
}

/* Refuses the first key of obj (in the body's order) that is not in names. */
static int check_keys(struct dec *d, const json_t *obj, const char *const *names, size_t n,
                      const char *field, const char *where)
{
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, key_len, v)
    {
        (void)v;
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strlen(names[i]) == key_len && memcmp(names[i], key, key_len) == 0;
        if (!known)
            return FAIL(d, 400, "unknown_field", field ? field : key, "unknown field %s%.64s",
                        where, key);
    }
    return 0;
}

/* ---- language and version ---- */

static int set_language(struct dec *d, const char *name, size_t len)
{
    const char *field = d->lang_field;
    if (len == 0 || len >= sizeof(d->job.language_given) || memchr(name, '\0', len))
        return FAIL(d, 400, "unknown_language", field, "unknown language");
    const struct lang *l = lang_find(d->langs, name);
    if (!l)
        return FAIL(d, 400, "unknown_language", field,
                    "unknown language %s (GET /v1/languages lists them)", name);
    if (!lang_available(l))
        return FAIL(d, 400, "unknown_language", field, "language %s is not available on this host",
                    name);
    d->lang = l;
    moat_strlcpy(d->job.language_given, name, sizeof(d->job.language_given));
    moat_strlcpy(d->job.language, l->name, sizeof(d->job.language));
    /* Served from the version cache the server filled at start-up; a
     * language without a version command keeps "" (shown as null). */
    if (lang_version(l, d->cfg->cache_dir, d->job.version, sizeof(d->job.version)) < 0)
        d->job.version[0] = '\0';
    return 0;
}

/* "3.11" asks for "3.11.2": equal, or a prefix ending at a dot. */
static int check_version(struct dec *d, const json_t *v)
{
    const char *s;
    size_t len;
    int r = get_string(d, "version", v, false, &s, &len);
    if (r < 0)
        return r;
    const char *have = d->job.version;
    if (len == 0 || len > VERSION_MAX_BYTES)
        return BAD(d, "version", "version must be a version number such as %s",
                   *have ? have : "3.11");
    if (!*have)
        return BAD(d, "version", "the version of %s on this host is not known", d->job.language);
    if (strncmp(have, s, len) == 0 && (have[len] == '\0' || have[len] == '.'))
        return 0;
    return BAD(d, "version", "version %s is not available: this host has %s %s", s, d->job.language,
               have);
}

/* ---- the program ---- */

/* The job's one unnamed file: the source, within the code limit. */
static int set_code(struct dec *d, const char *src, size_t len)
{
    if (len > kib(d->cfg->max_code_kb))
        return FAIL(d, 413, "payload_too_large", "code", "code is larger than %" PRIu64 " KiB",
                    d->cfg->max_code_kb);
    d->job.files = calloc(1, sizeof(*d->job.files));
    if (!d->job.files)
        return no_memory(d);
    d->job.nfiles = 1;
    d->job.files[0].data = moat_memdup0(src, len);
    if (!d->job.files[0].data)
        return no_memory(d);
    d->job.files[0].len = len;
    d->code_bytes = len;
    return 0;
}

static int take_code(struct dec *d, const json_t *v)
{
    const char *s;
    size_t len;
    int r = get_string(d, "code", v, true, &s, &len);
    if (r < 0)
        return r;
    if (len == 0)
        return BAD(d, "code", "code must not be empty");
    return set_code(d, s, len);
}

static int take_file(struct dec *d, size_t i, const json_t *f)
{
    static const char *const keys[] = {"name", "content", "encoding"};
    if (!json_is_object(f))
        return BAD(d, "files", "files[%zu] must be an object {name, content, encoding}", i);
    char where[32];
    (void)snprintf(where, sizeof(where), "files[%zu].", i);
    int r = check_keys(d, f, keys, MOAT_ARRAY_SIZE(keys), "files", where);
    if (r < 0)
        return r;
    const json_t *name = json_object_get(f, "name"), *content = json_object_get(f, "content");
    const json_t *encoding = json_object_get(f, "encoding");
    const char *s, *data;
    size_t len, dlen;
    if (!name || !content)
        return BAD(d, "files", "files[%zu] needs a name and a content", i);
    if (!json_is_string(name) || !json_is_string(content))
        return BAD(d, "files", "files[%zu].name and .content must be strings", i);
    s = json_string_value(name);
    len = json_string_length(name);
    if (memchr(s, '\0', len) || !sbx_file_name_ok(s))
        return BAD(d, "files",
                   "files[%zu].name must be a relative path of [A-Za-z0-9._$-] "
                   "components, at most 255 bytes",
                   i);
    if (str_has_prefix(s, LANG_RESERVED_PREFIX))
        return BAD(d, "files", "files[%zu].name: names starting with %s are moat's own", i,
                   LANG_RESERVED_PREFIX);
    for (size_t j = 0; j < i; j++)
        if (strcmp(d->job.files[j].name, s) == 0)
            return BAD(d, "files", "files[%zu].name repeats %s", i, s);
    d->job.files[i].name = moat_memdup0(s, len);
    if (!d->job.files[i].name)
        return no_memory(d);

    data = json_string_value(content);
    dlen = json_string_length(content);
    bool base64 = false;
    if (encoding && !json_is_null(encoding)) {
        const char *enc = json_is_string(encoding) ? json_string_value(encoding) : "";
        if (strcmp(enc, "base64") == 0)
            base64 = true;
        else if (strcmp(enc, "utf8") != 0 && strcmp(enc, "utf-8") != 0)
            return BAD(d, "files", "files[%zu].encoding must be \"utf8\" or \"base64\"", i);
    }
    if (base64) {
        r = moat_base64_decode(data, dlen, &d->job.files[i].data, &d->job.files[i].len);
        if (r == -ENOMEM)
            return no_memory(d);
        if (r < 0)
            return BAD(d, "files", "files[%zu].content is not valid base64", i);
    } else {
        d->job.files[i].data = moat_memdup0(data, dlen);
        if (!d->job.files[i].data)
            return no_memory(d);
        d->job.files[i].len = dlen;
    }
    if (!size_add(d->code_bytes, d->job.files[i].len, &d->code_bytes) ||
        d->code_bytes > kib(d->cfg->max_code_kb))
        return FAIL(d, 413, "payload_too_large", "files",
                    "files are larger than %" PRIu64 " KiB together", d->cfg->max_code_kb);
    return 0;
}

static int take_files(struct dec *d, const json_t *v)
{
    if (!json_is_array(v))
        return BAD(d, "files", "files must be an array of {name, content, encoding}");
    size_t n = json_array_size(v);
    if (n == 0)
        return BAD(d, "files", "files must not be empty");
    if (n > FILES_MAX)
        return BAD(d, "files", "at most %d files", FILES_MAX);
    d->job.files = calloc(n, sizeof(*d->job.files));
    if (!d->job.files)
        return no_memory(d);
    d->job.nfiles = n; /* job_release frees what the loop filled */
    for (size_t i = 0; i < n; i++) {
        int r = take_file(d, i, json_array_get(v, i));
        if (r < 0)
            return r;
    }
    return 0;
}

/* A string of bytes (NULs kept) of at most max_kb KiB, copied into *out:
 * an input (stdin) over the server's maximum is 413, an expected output
 * longer than the run may print 400 (of, what bounds it, in the message). */
static int take_bytes(struct dec *d, const char *field, const json_t *v, uint64_t max_kb,
                      const char *of, char **out, size_t *len)
{
    const char *s;
    int r = get_string(d, field, v, true, &s, len);
    if (r < 0)
        return r;
    if (*len > kib(max_kb)) {
        if (!of)
            return FAIL(d, 413, "payload_too_large", field, "%s is larger than %" PRIu64 " KiB",
                        field, max_kb);
        return FAIL(d, 400, "out_of_range", field, "%s is longer than the %" PRIu64 " KiB %s",
                    field, max_kb, of);
    }
    *out = moat_memdup0(s, *len);
    return *out ? 0 : no_memory(d);
}

static int take_stdin(struct dec *d, const json_t *v)
{
    return take_bytes(d, "stdin", v, d->cfg->max_stdin_kb, NULL, &d->job.stdin_data,
                      &d->job.stdin_len);
}

/* An array of strings without NULs, at most max of them. */
static int check_strings(struct dec *d, const char *field, const json_t *v, size_t max,
                         size_t max_bytes)
{
    if (!json_is_array(v))
        return BAD(d, field, "%s must be an array of strings", field);
    if (json_array_size(v) > max)
        return FAIL(d, 400, "out_of_range", field, "%s may have at most %zu items", field, max);
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x)
    {
        const char *s;
        size_t len;
        if (!json_is_string(x))
            return BAD(d, field, "%s[%zu] must be a string", field, i);
        s = json_string_value(x);
        len = json_string_length(x);
        if (memchr(s, '\0', len))
            return BAD(d, field, "%s[%zu] must not contain NUL characters", field, i);
        if (max_bytes && len > max_bytes)
            return FAIL(d, 400, "out_of_range", field, "%s[%zu] is longer than %zu bytes", field, i,
                        max_bytes);
    }
    return 0;
}

int api_job_args(struct job *job, const json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    job->args = calloc(n, sizeof(*job->args));
    if (!job->args)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        job->args[i] = moat_memdup0(json_string_value(x), json_string_length(x));
        if (!job->args[i])
            return -ENOMEM;
        job->nargs = i + 1;
    }
    return 0;
}

static int take_args(struct dec *d, const json_t *v)
{
    int r = check_strings(d, "args", v, ARGS_MAX, 0);
    if (r < 0)
        return r;
    return api_job_args(&d->job, v) < 0 ? no_memory(d) : 0;
}

/* ---- numbers and flags ---- */

static const struct {
    const char *name;
    size_t off;
} limit_fields[] = {
    {"timeoutMs", offsetof(struct moat_limits, time_ms)},
    {"wallTimeoutMs", offsetof(struct moat_limits, wall_time_ms)},
    {"memoryMb", offsetof(struct moat_limits, memory_mb)},
    {"maxProcesses", offsetof(struct moat_limits, max_processes)},
    {"maxOutputKb", offsetof(struct moat_limits, max_output_kb)},
    {"maxFileKb", offsetof(struct moat_limits, max_file_kb)},
    {"maxOpenFiles", offsetof(struct moat_limits, max_open_files)},
    {"stackKb", offsetof(struct moat_limits, stack_kb)},
};

static int take_limit(struct dec *d, size_t i, const json_t *v)
{
    const char *name = limit_fields[i].name;
    if (!json_is_integer(v))
        return BAD(d, name, "%s must be an integer", name);
    json_int_t n = json_integer_value(v);
    if (n < 0)
        return FAIL(d, 400, "out_of_range", name, "%s must not be negative", name);
    uint64_t *p = (uint64_t *)(void *)((char *)&d->job.limits + limit_fields[i].off);
    *p = (uint64_t)n;
    if (i == 0)
        d->have_time = true;
    else if (i == 1)
        d->have_wall = true;
    return 0;
}

static int check_limits(struct dec *d)
{
    /* API.md: the wall limit follows an asked CPU limit unless asked too */
    if (d->have_time && !d->have_wall)
        d->job.limits.wall_time_ms = 0;
    struct moat_err err = {0};
    if (config_check_limits(d->cfg, &d->job.limits, &err) < 0)
        return FAIL(d, 400, "out_of_range", err.field, "%s", err.msg);
    return 0;
}

static int take_priority(struct dec *d, const json_t *v)
{
    if (!json_is_integer(v))
        return BAD(d, "priority", "priority must be an integer");
    json_int_t n = json_integer_value(v);
    if (n < JOB_PRIORITY_MIN || n > JOB_PRIORITY_MAX)
        return FAIL(d, 400, "out_of_range", "priority", "priority must be between %d and %d",
                    JOB_PRIORITY_MIN, JOB_PRIORITY_MAX);
    d->job.priority = (int)n;
    return 0;
}

/* ---- metadata and tags: stored as compact JSON, echoed back ---- */

static bool deeper_than(const json_t *v, unsigned max)
{
    if (!json_is_object(v) && !json_is_array(v))
        return false;
    if (max == 0)
        return true;
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (deeper_than(x, max - 1))
                return true;
        }
        return false;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        (void)k;
        if (deeper_than(x, max - 1))
            return true;
    }
    return false;
}

static int take_metadata(struct dec *d, const json_t *v)
{
    if (!json_is_object(v))
        return BAD(d, "metadata", "metadata must be an object");
    if (deeper_than(v, METADATA_MAX_DEPTH))
        return BAD(d, "metadata", "metadata is nested more than %d levels", METADATA_MAX_DEPTH);
    char *text = json_dumps(v, JOB_JSON_DUMP_FLAGS);
    if (!text)
        return no_memory(d);
    if (strlen(text) > METADATA_MAX_BYTES) {
        free(text);
        return BAD(d, "metadata", "metadata must be at most %d bytes as compact JSON",
                   METADATA_MAX_BYTES);
    }
    d->job.metadata_json = text;
    return 0;
}

static int take_tags(struct dec *d, const json_t *v)
{
    int r = check_strings(d, "tags", v, TAGS_MAX, TAG_MAX_BYTES);
    if (r < 0)
        return r;
    d->job.tags_json = json_dumps(v, JOB_JSON_DUMP_FLAGS);
    return d->job.tags_json ? 0 : no_memory(d);
}

/* null is "not given" for every field, as JavaScript clients send it. */
static const json_t *field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* What bounds an expected output. */
#define RUN_OUTPUT "of output the run may print (maxOutputKb)"

/* The float comparison's default tolerances: 1e-6, absolute or relative,
 * as most judges' checkers for real numbers. */
#define TOLERANCE_DEFAULT 1e-6

static int take_tolerance(struct dec *d, const char *name, const json_t *v, double *out)
{
    if (!json_is_number(v))
        return BAD(d, name, "%s must be a number", name);
    double t = json_number_value(v);
    if (!(t >= 0 && t <= 1))
        return FAIL(d, 400, "out_of_range", name, "%s must be between 0 and 1", name);
    *out = t;
    return 0;
}

/* expectedOutput and how the run's stdout (or each test's) is compared
 * with it (after take_tests). */
static int take_judge(struct dec *d, const json_t *obj)
{
    const json_t *want = field(obj, "expectedOutput"), *mode = field(obj, "compare"),
                 *abs_tol = field(obj, "absTolerance"), *rel_tol = field(obj, "relTolerance");
    if (!want && !d->job.ntests) {
        const char *orphan = mode ? "compare" : abs_tol ? "absTolerance" : "relTolerance";
        if (mode || abs_tol || rel_tol)
            return BAD(d, orphan, "%s needs expectedOutput (or tests)", orphan);
        return 0;
    }
    struct job_compare_opts c = {
        .mode = JOB_COMPARE_TRIM, .abs_tol = TOLERANCE_DEFAULT, .rel_tol = TOLERANCE_DEFAULT};
    int r = 0;
    if (mode && (!json_is_string(mode) || job_compare_parse(json_string_value(mode), &c.mode) < 0))
        return BAD(d, "compare", "compare must be one of exact, trim, tokens, float");
    if (abs_tol && (r = take_tolerance(d, "absTolerance", abs_tol, &c.abs_tol)) < 0)
        return r;
    if (rel_tol && (r = take_tolerance(d, "relTolerance", rel_tol, &c.rel_tol)) < 0)
        return r;
    d->job.compare = c;
    if (!want)
        return 0; /* the tests' */
    r = take_bytes(d, "expectedOutput", want, d->job.limits.max_output_kb, RUN_OUTPUT,
                   &d->job.expected, &d->job.expected_len);
    d->job.judged = r == 0;
    return r;
}

static const char *const test_keys[] = {"stdin", "args", "expectedOutput", "timeoutMs",
                                        "memoryMb"};

/* A test's bytes (stdin, expectedOutput) within max KiB. */
/* A test's own limit: at most the server's maximum. */
/* A test's own limit, a positive integer (its range: test_limits). */
static int test_limit(struct dec *d, const char *field, const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return BAD(d, field, "%s must be a positive integer", field);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* The limits test t runs with (the job's, with its own CPU time, whose wall
 * time then derives from it, and memory) checked as the job's are, the
 * field named inside the test (f: "tests[i]"). */
static int test_limits(struct dec *d, const char *f, const struct job_test *t)
{
    struct moat_limits l = d->job.limits;
    if (t->time_ms) {
        l.time_ms = t->time_ms;
        l.wall_time_ms = 0;
    }
    if (t->memory_mb)
        l.memory_mb = t->memory_mb;
    struct moat_err err = {0};
    if (config_check_limits(d->cfg, &l, &err) < 0) {
        char fs[48 + sizeof(err.field) + 1];
        (void)snprintf(fs, sizeof(fs), "%s.%s", f, err.field);
        return FAIL(d, 400, "out_of_range", fs, "%s: %s", f, err.msg);
    }
    return 0;
}

static int take_test(struct dec *d, size_t i, const json_t *o, struct job_test *t)
{
    char f[48];
    (void)snprintf(f, sizeof(f), "tests[%zu]", i);
    if (!json_is_object(o))
        return BAD(d, f, "%s must be an object", f);
    char fs[64];
    (void)snprintf(fs, sizeof(fs), "%s.", f);
    int r = check_keys(d, o, test_keys, MOAT_ARRAY_SIZE(test_keys), f, fs);
    const json_t *v;
    (void)snprintf(fs, sizeof(fs), "%s.stdin", f);
    if (r >= 0 && (v = field(o, "stdin")))
        r = take_bytes(d, fs, v, d->cfg->max_stdin_kb, NULL, &t->stdin_data, &t->stdin_len);
    else if (r >= 0 && !(t->stdin_data = strdup("")))
        r = no_memory(d);
    (void)snprintf(fs, sizeof(fs), "%s.args", f);
    if (r >= 0 && (v = field(o, "args"))) {
        r = check_strings(d, fs, v, ARGS_MAX, 0);
        if (r >= 0) {
            t->args = calloc(json_array_size(v) + 1, sizeof(*t->args));
            if (!t->args)
                r = no_memory(d);
            for (size_t k = 0; r >= 0 && k < json_array_size(v); k++, t->nargs++)
                if (!(t->args[k] = strdup(json_string_value(json_array_get(v, k)))))
                    r = no_memory(d);
        }
    }
    (void)snprintf(fs, sizeof(fs), "%s.expectedOutput", f);
    if (r >= 0 && (v = field(o, "expectedOutput"))) {
        t->judged = true;
        r = take_bytes(d, fs, v, d->job.limits.max_output_kb, RUN_OUTPUT, &t->expected,
                       &t->expected_len);
    }
    (void)snprintf(fs, sizeof(fs), "%s.timeoutMs", f);
    if (r >= 0 && (v = field(o, "timeoutMs")))
        r = test_limit(d, fs, v, &t->time_ms);
    (void)snprintf(fs, sizeof(fs), "%s.memoryMb", f);
    if (r >= 0 && (v = field(o, "memoryMb")))
        r = test_limit(d, fs, v, &t->memory_mb);
    return r < 0 ? r : test_limits(d, f, t);
}

/* tests: compile once, run each; with them the job's own stdin and
 * expectedOutput have no place (each test has its own). */
static int take_tests(struct dec *d, const json_t *obj)
{
    const json_t *v = field(obj, "tests"), *stop = field(obj, "stopOnFirstFailure");
    if (!v) {
        if (stop)
            return BAD(d, "stopOnFirstFailure", "stopOnFirstFailure needs tests");
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return BAD(d, "tests", "tests must be a non-empty array");
    size_t n = json_array_size(v);
    if (n > d->cfg->max_tests)
        return FAIL(d, 400, "limit_exceeded", "tests", "at most %" PRIu64 " tests",
                    d->cfg->max_tests);
    if (field(obj, "stdin"))
        return BAD(d, "stdin", "with tests, each test gives its own stdin");
    if (field(obj, "expectedOutput"))
        return BAD(d, "expectedOutput", "with tests, each test gives its own expectedOutput");
    if (stop && !json_is_boolean(stop))
        return BAD(d, "stopOnFirstFailure", "stopOnFirstFailure must be true or false");
    d->job.stop_on_failure = stop && json_is_true(stop);
    d->job.tests = calloc(n, sizeof(*d->job.tests));
    if (!d->job.tests)
        return no_memory(d);
    d->job.ntests = n;
    int r = 0;
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = take_test(d, i, json_array_get(v, i), &d->job.tests[i]);
    return r;
}

static int take_wait(struct dec *d, const json_t *v)
{
    if (!json_is_boolean(v))
        return BAD(d, "wait", "wait must be true or false");
    d->wait = json_is_true(v);
    return 0;
}

/* ---- the shapes ---- */

static const char *const native_keys[] = {
    "language",  "version",      "code",          "files",    "stdin",        "args",
    "priority",  "timeoutMs",    "wallTimeoutMs", "memoryMb", "maxProcesses", "maxOutputKb",
    "maxFileKb", "maxOpenFiles", "stackKb",       "metadata", "tags",         "wait",
    "expectedOutput", "compare", "absTolerance", "relTolerance", "tests", "stopOnFirstFailure",
    "callbackUrl",
};
static const char *const seed000_keys[] = {"code", "executionEngine", "tags"};
/* Seed 004's NATS requests: compiler requests run with the defaults;
 * problem requests may ask for their limits (up to the maxima). */
static const char *const seed004_keys[] = {"language", "code", "input"};
static const char *const seed004_problem_keys[] = {"language",  "code",          "input",
                                                   "timeoutMs", "wallTimeoutMs", "memoryMb"};

static int decode_language(struct dec *d, const json_t *obj)
{
    const json_t *v = field(obj, d->lang_field);
    if (!v)
        return BAD(d, d->lang_field, "%s is required", d->lang_field);
    const char *s;
    size_t len;
    int r = get_string(d, d->lang_field, v, true, &s, &len);
    return r < 0 ? r : set_language(d, s, len);
}

static int decode_program(struct dec *d, const json_t *obj)
{
    const json_t *code = field(obj, "code"), *files = field(obj, "files");
    if (code && files)
        return BAD(d, "code", "give either code or files, not both");
    if (!code && !files)
        return BAD(d, "code", "code is required (or files)");
    return code ? take_code(d, code) : take_files(d, files);
}

static int decode_native(struct dec *d, const json_t *obj)
{
    int r = decode_language(d, obj);
    const json_t *v;
    if (r >= 0 && (v = field(obj, "version")))
        r = check_version(d, v);
    if (r >= 0)
        r = decode_program(d, obj);
    if (r >= 0 && (v = field(obj, "stdin")))
        r = take_stdin(d, v);
    if (r >= 0 && (v = field(obj, "args")))
        r = take_args(d, v);
    if (r >= 0 && (v = field(obj, "priority")))
        r = take_priority(d, v);
    for (size_t i = 0; r >= 0 && i < MOAT_ARRAY_SIZE(limit_fields); i++)
        if ((v = field(obj, limit_fields[i].name)))
            r = take_limit(d, i, v);
    if (r >= 0)
        r = check_limits(d);
    if (r >= 0)
        r = take_tests(d, obj);
    if (r >= 0)
        r = take_judge(d, obj);
    if (r >= 0 && (v = field(obj, "metadata")))
        r = take_metadata(d, v);
    if (r >= 0 && (v = field(obj, "tags")))
        r = take_tags(d, v);
    if (r >= 0 && (v = field(obj, "wait")))
        r = take_wait(d, v);
    if (r >= 0 && (v = field(obj, "callbackUrl")))
        r = api_callback_take(d->cfg, "callbackUrl", v, JOB_CALLBACK_NATIVE, &d->job, d->e);
    return r;
}

static int decode_seed000(struct dec *d, const json_t *obj)
{
    const json_t *v;
    int r = decode_language(d, obj);
    if (r >= 0 && !field(obj, "code"))
        r = BAD(d, "code", "code is required");
    if (r >= 0)
        r = take_code(d, field(obj, "code"));
    if (r >= 0 && (v = field(obj, "tags")))
        r = take_tags(d, v);
    return r;
}

/* A base64 string field of seed 004, decoded into *out (malloc'd). */
static int take_base64(struct dec *d, const char *name, const json_t *v, char **out, size_t *len)
{
    const char *s;
    size_t n;
    int r = get_string(d, name, v, true, &s, &n);
    if (r < 0)
        return r;
    r = moat_base64_decode(s, n, out, len);
    if (r == -ENOMEM)
        return no_memory(d);
    return r < 0 ? BAD(d, name, "%s must be base64 (RFC 4648, padded, no line breaks)", name) : 0;
}

static int decode_seed004(struct dec *d, const json_t *obj, bool problem)
{
    int r = decode_language(d, obj);
    const json_t *v;
    if (r >= 0 && !field(obj, "code"))
        r = BAD(d, "code", "code is required (base64)");
    char *bytes = NULL;
    size_t len = 0;
    if (r >= 0)
        r = take_base64(d, "code", field(obj, "code"), &bytes, &len);
    if (r >= 0 && len == 0)
        r = BAD(d, "code", "code must not be empty");
    if (r >= 0)
        r = set_code(d, bytes, len);
    free(bytes);
    bytes = NULL;
    if (r >= 0 && (v = field(obj, "input"))) {
        r = take_base64(d, "input", v, &bytes, &len);
        if (r >= 0 && len > kib(d->cfg->max_stdin_kb))
            r = FAIL(d, 413, "payload_too_large", "input", "input is larger than %" PRIu64 " KiB",
                     d->cfg->max_stdin_kb);
        if (r >= 0 && len) {
            d->job.stdin_data = bytes;
            d->job.stdin_len = len;
            bytes = NULL;
        }
        free(bytes);
    }
    for (size_t i = 0; r >= 0 && problem && i < MOAT_ARRAY_SIZE(limit_fields); i++)
        if ((v = field(obj, limit_fields[i].name)))
            r = take_limit(d, i, v);
    if (r >= 0)
        r = check_limits(d);
    return r;
}

bool api_media_type_is(const char *ct, const char *type)
{
    if (!ct)
        return !type;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (!type)
        return n == 0;
    return n == strlen(type) && strncasecmp(ct, type, n) == 0;
}

/* application/json, with or without parameters; absent counts as JSON. */
static bool is_json_type(const char *ct)
{
    return api_media_type_is(ct, NULL) || api_media_type_is(ct, "application/json");
}

static int decode_json(struct dec *d, enum api_shape shape, const char *content_type,
                       const char *body, size_t len)
{
    if (!is_json_type(content_type))
        return FAIL(d, 415, "unsupported_media_type", NULL,
                    "the body must be JSON (Content-Type: application/json)");
    json_error_t jerr;
    json_t *root =
        json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return FAIL(d, 400, "invalid_json", NULL, "invalid JSON at line %d column %d: %s",
                    jerr.line, jerr.column, jerr.text);
    int r;
    if (!json_is_object(root)) {
        r = FAIL(d, 400, "invalid_json", NULL, "the body must be a JSON object");
    } else if (shape == API_SHAPE_SEED000) {
        d->lang_field = "executionEngine";
        r = check_keys(d, root, seed000_keys, MOAT_ARRAY_SIZE(seed000_keys), NULL, "");
        if (r >= 0)
            r = decode_seed000(d, root);
    } else if (shape == API_SHAPE_SEED004 || shape == API_SHAPE_SEED004_PROBLEM) {
        bool problem = shape == API_SHAPE_SEED004_PROBLEM;
        r = problem ? check_keys(d, root, seed004_problem_keys,
                                 MOAT_ARRAY_SIZE(seed004_problem_keys), NULL, "")
                    : check_keys(d, root, seed004_keys, MOAT_ARRAY_SIZE(seed004_keys), NULL, "");
        if (r >= 0)
            r = decode_seed004(d, root, problem);
    } else {
        r = check_keys(d, root, native_keys, MOAT_ARRAY_SIZE(native_keys), NULL, "");
        if (r >= 0)
            r = decode_native(d, root);
    }
    json_decref(root);
    return r;
}

/* Seed 002: the body is the program, byte for byte (curl -d sends it as a
 * form, but it is not form-decoded: `+` and `%` are Python's). */
static int decode_raw(struct dec *d, const char *query_language, const char *body, size_t len)
{
    const char *name = query_language ? query_language : "python";
    int r = set_language(d, name, strlen(name));
    if (r < 0)
        return r;
    if (len == 0)
        return BAD(d, "code", "the body (the program) is empty");
    return set_code(d, body, len);
}

int api_decode_submit(const struct moat_config *cfg, const struct lang_registry *langs,
                      enum api_shape shape, const char *content_type, const char *query_language,
                      const char *body, size_t len, struct api_submit *out, struct api_error *e)
{
    *e = (struct api_error){0};
    struct dec d = {.cfg = cfg, .langs = langs, .e = e, .lang_field = "language"};
    d.job.priority = JOB_PRIORITY_DEFAULT;
    d.job.limits = cfg->limits;
    d.job.status = JOB_STATUS_QUEUED;
    int r;
    switch (shape) {
    case API_SHAPE_NATIVE:
    case API_SHAPE_SEED000:
    case API_SHAPE_SEED004:
    case API_SHAPE_SEED004_PROBLEM:
        r = decode_json(&d, shape, content_type, body, len);
        break;
    case API_SHAPE_SEED002:
        r = decode_raw(&d, query_language, body, len);
        break;
    case API_SHAPE_PISTON:
        return api_piston_decode(cfg, langs, content_type, body, len, out, e);
    default:
        r = FAIL(&d, 500, "internal", NULL, "unknown request shape");
        break;
    }
    if (r < 0) {
        job_release(&d.job);
        return r;
    }
    *out = (struct api_submit){.job = d.job, .wait = d.wait};
    return 0;
}

int api_callback_take(const struct moat_config *cfg, const char *field, const json_t *v,
                      enum job_callback_shape shape, struct job *job, struct api_error *e)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return (api_error_set(e, 400, "invalid_field", field, "%s must be a URL string", field),
                -EINVAL);
    const char *url = json_string_value(v);
    if (strlen(url) != json_string_length(v))
        return (api_error_set(e, 400, "invalid_field", field, "%s holds a NUL byte", field),
                -EINVAL);
    struct notify_allow al;
    struct moat_err err = {0};
    /* checked when the server started: this parse does not fail */
    if (notify_allow_parse(cfg->webhook_allow, &al, &err) < 0)
        return (api_error_set(e, 500, "internal", NULL, "webhooks.allow: %s", err.msg), -EINVAL);
    if (notify_url_check(url, &al, NULL, &err) < 0)
        return (api_error_set(e, 400, "invalid_field", field, "%s: %s", field, err.msg), -EINVAL);
    moat_strlcpy(job->callback.url, url, sizeof(job->callback.url));
    job->callback.shape = shape;
    job->callback.status = JOB_CALLBACK_PENDING;
    return 0;
}
