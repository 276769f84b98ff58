/*
 * The decoder of POST /api/v2/execute: a Piston v2 request (untrusted, up
 * to max_body_kb) becomes a checked struct job, or Piston's 400 with its
 * wording. The checks run in Piston's order (api/src/api/v2.js get_job),
 * so that a client sees the message Piston would give for the first thing
 * wrong; moat's own bounds (sizes, names a box accepts, encodings) come
 * after and say what is wrong in the same {"message"} form.
 *
 * Unknown keys are ignored, as Piston (and Express) ignore them: clients
 * written against Piston send what they like.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>

#include "moat/sandbox.h"
#include "moat/util.h"
#include "piston-internal.h"

#define FILES_MAX 256 /* what exec_program accepts */
#define ARGS_MAX 256
#define ARG_MAX_BYTES 4096
#define MIB (1024ULL * 1024ULL)

#define FAIL(d, status, code, field, ...)                                                          \
    (api_error_set((d)->e, status, code, field, __VA_ARGS__), -EINVAL)
#define BAD(d, field, ...) FAIL(d, 400, "invalid_field", field, __VA_ARGS__)

struct pdec {
    const struct moat_config *cfg;
    const struct lang_registry *langs;
    struct api_error *e;
    struct job job; /* built here; moved to the caller only when whole */
    const struct lang *lang;
    size_t code_bytes;
};

static int no_memory(struct pdec *d)
{
    api_error_set(d->e, 500, "internal", NULL, "out of memory");
    return -ENOMEM;
}

static uint64_t kib(uint64_t n)
{
    return n > UINT64_MAX / 1024 ? UINT64_MAX : n * 1024;
}

/* JavaScript's truthiness, for Piston's `if (!value)` checks. */
static bool truthy(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_number(v))
        return json_number_value(v) != 0.0;
    return true;
}

/* ---- the runtime ---- */

/* Piston's runtime lookup: the language by name or alias, its version
 * satisfying the range. moat has one version of each language. */
static int find_runtime(struct pdec *d, const json_t *language, const json_t *version)
{
    const char *name = json_string_value(language), *range = json_string_value(version);
    size_t nlen = json_string_length(language), rlen = json_string_length(version);
    const struct lang *l = NULL;
    if (nlen < sizeof(d->job.language_given) && !memchr(name, '\0', nlen))
        l = api_piston_find(d->langs, name);
    if (l && !lang_available(l))
        l = NULL;
    char have[sizeof(d->job.version)] = "";
    if (l && lang_version(l, d->cfg->cache_dir, have, sizeof(have)) < 0)
        have[0] = '\0';
    bool ok = false;
    if (l && !memchr(range, '\0', rlen)) {
        /* a language whose version this host cannot tell matches only "*" */
        ok = have[0] ? api_piston_version_matches(have, range)
                     : strcmp(range, "*") == 0 || strcasecmp(range, "x") == 0;
    }
    if (!ok)
        return FAIL(d, 400, "unknown_language", "language", "%.100s-%.100s runtime is unknown",
                    name, range);
    d->lang = l;
    moat_strlcpy(d->job.language_given, name, sizeof(d->job.language_given));
    moat_strlcpy(d->job.language, l->name, sizeof(d->job.language));
    moat_strlcpy(d->job.version, have, sizeof(d->job.version));
    return 0;
}

/* ---- files ---- */

enum encoding { ENC_UTF8, ENC_BASE64, ENC_HEX };

static int file_encoding(struct pdec *d, size_t i, const json_t *f, enum encoding *out)
{
    const json_t *v = json_object_get(f, "encoding");
    *out = ENC_UTF8;
    if (!truthy(v)) /* Piston: no encoding is utf8 */
        return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(s, "utf8") == 0)
        return 0;
    if (strcmp(s, "base64") == 0)
        *out = ENC_BASE64;
    else if (strcmp(s, "hex") == 0)
        *out = ENC_HEX;
    else
        return BAD(d, "files", "files[%zu].encoding must be one of utf8, base64 or hex", i);
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Hex digits (either case, an even number of them) into bytes. */
static int hex_decode(const char *in, size_t len, char **out, size_t *outlen)
{
    if (len % 2)
        return -EINVAL;
    char *b = malloc(len / 2 + 1);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_value(in[i]), lo = hex_value(in[i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -EINVAL;
        }
        b[i / 2] = (char)(unsigned char)(hi << 4 | lo);
    }
    b[len / 2] = '\0';
    *out = b;
    *outlen = len / 2;
    return 0;
}

/* File i's bytes, decoded, into f; counted against the code limit. */
static int file_content(struct pdec *d, size_t i, const json_t *content, enum encoding enc,
                        struct job_file *f)
{
    const char *s = json_string_value(content);
    size_t len = json_string_length(content);
    int r = 0;
    if (enc == ENC_UTF8) {
        f->data = moat_memdup0(s, len);
        f->len = len;
        r = f->data ? 0 : -ENOMEM;
    } else {
        r = enc == ENC_HEX ? hex_decode(s, len, &f->data, &f->len)
                           : moat_base64_decode(s, len, &f->data, &f->len);
    }
    if (r == -ENOMEM)
        return no_memory(d);
    if (r < 0)
        return BAD(d, "files", "files[%zu].content is not valid %s", i,
                   enc == ENC_HEX ? "hex" : "base64");
    if (!size_add(d->code_bytes, f->len, &d->code_bytes) ||
        d->code_bytes > kib(d->cfg->max_code_kb))
        return FAIL(d, 413, "payload_too_large", "files",
                    "files are larger than %" PRIu64 " KiB together", d->cfg->max_code_kb);
    return 0;
}

/* Whether name ends with one of the language's extensions ("main.py"):
 * such a main file keeps its name; any other is named by moat's rule
 * (main.py, Main.java), as Piston's own compile scripts rename files. */
static bool has_extension(const struct lang *l, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < l->nextensions; i++) {
        size_t e = strlen(l->extensions[i]);
        if (e && n > e && strcasecmp(name + n - e, l->extensions[i]) == 0)
            return true;
    }
    return false;
}

/* File i's name: its own when given (a path a box accepts), else
 * Piston's "file<i>.code"; NULL for a main file moat names. */
static int file_name(struct pdec *d, size_t i, const json_t *f, bool is_main, char **out)
{
    const json_t *v = json_object_get(f, "name");
    char dflt[32];
    const char *name = dflt;
    (void)snprintf(dflt, sizeof(dflt), "file%zu.code", i);
    if (truthy(v)) { /* Piston: file.name || `file${i}.code` */
        if (!json_is_string(v))
            return BAD(d, "files", "files[%zu].name must be a string", i);
        name = json_string_value(v);
        if (memchr(name, '\0', json_string_length(v)) || !sbx_file_name_ok(name))
            return BAD(d, "files",
                       "files[%zu].name must be a relative path of [A-Za-z0-9._$-] components, "
                       "at most 255 bytes",
                       i);
    }
    *out = NULL;
    if (is_main && (name == dflt || !has_extension(d->lang, name)))
        return 0;
    *out = strdup(name);
    return *out ? 0 : no_memory(d);
}

/* The main file's name when moat names it, for the duplicate check. */
static int main_name(struct pdec *d, char *out, size_t outsz)
{
    const struct job_file *m = &d->job.files[0];
    if (m->name) {
        moat_strlcpy(out, m->name, outsz);
        return 0;
    }
    struct moat_err err = {0};
    if (lang_entry_name(d->lang, m->data, m->len, out, outsz, &err) < 0)
        return BAD(d, "files", "the main file cannot be named: %s", err.msg);
    return 0;
}

static int check_names(struct pdec *d)
{
    char first[256];
    int r = main_name(d, first, sizeof(first));
    if (r < 0)
        return r;
    for (size_t i = 1; i < d->job.nfiles; i++) {
        const char *a = d->job.files[i].name;
        if (strcmp(a, first) == 0)
            return BAD(d, "files", "file name %s is given twice", a);
        for (size_t k = 1; k < i; k++)
            if (strcmp(d->job.files[k].name, a) == 0)
                return BAD(d, "files", "file name %s is given twice", a);
    }
    return 0;
}

/* Files into the job, the main file (the first utf8 one) first, the
 * others in their order. */
static int take_files(struct pdec *d, const json_t *files)
{
    size_t n = json_array_size(files);
    if (n > FILES_MAX)
        return BAD(d, "files", "files may have at most %d entries", FILES_MAX);
    enum encoding enc[FILES_MAX];
    size_t main = n;
    for (size_t i = 0; i < n; i++) {
        int r = file_encoding(d, i, json_array_get(files, i), &enc[i]);
        if (r < 0)
            return r;
        if (enc[i] == ENC_UTF8 && main == n)
            main = i;
    }
    if (main == n)
        return BAD(d, "files", "files must include at least one utf8 encoded file");
    d->job.files = calloc(n, sizeof(*d->job.files));
    if (!d->job.files)
        return no_memory(d);
    d->job.nfiles = n; /* job_release frees what the loop filled */
    for (size_t i = 0, slot = 1; i < n; i++) {
        const json_t *f = json_array_get(files, i);
        struct job_file *dst = i == main ? &d->job.files[0] : &d->job.files[slot++];
        int r = file_name(d, i, f, i == main, &dst->name);
        if (r >= 0)
            r = file_content(d, i, json_object_get(f, "content"), enc[i], dst);
        if (r < 0)
            return r;
    }
    if (d->job.files[0].len == 0 && !d->job.files[0].name)
        return BAD(d, "files", "the main file must not be empty");
    return check_names(d);
}

/* ---- stdin and args ---- */

static int take_stdin(struct pdec *d, const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return BAD(d, "stdin", "stdin must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return 0;
    /* Piston ends a non-empty stdin with a newline, so that a program
     * reading lines sees its last one */
    bool add_nl = s[len - 1] != '\n';
    size_t total = len + (add_nl ? 1 : 0);
    if (total > kib(d->cfg->max_stdin_kb))
        return FAIL(d, 413, "payload_too_large", "stdin", "stdin is larger than %" PRIu64 " KiB",
                    d->cfg->max_stdin_kb);
    char *b = malloc(total + 1);
    if (!b)
        return no_memory(d);
    memcpy(b, s, len);
    if (add_nl)
        b[len] = '\n';
    b[total] = '\0';
    d->job.stdin_data = b;
    d->job.stdin_len = total;
    return 0;
}

static int take_args(struct pdec *d, const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return BAD(d, "args", "args must be an array of strings");
    size_t n = json_array_size(v);
    if (n > ARGS_MAX)
        return FAIL(d, 400, "out_of_range", "args", "args may have at most %d items", ARGS_MAX);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_string(x))
            return BAD(d, "args", "args[%zu] must be a string", i);
        if (memchr(json_string_value(x), '\0', json_string_length(x)))
            return BAD(d, "args", "args[%zu] must not contain NUL characters", i);
        if (json_string_length(x) > ARG_MAX_BYTES)
            return FAIL(d, 400, "out_of_range", "args", "args[%zu] is longer than %d bytes", i,
                        ARG_MAX_BYTES);
    }
    return api_job_args(&d->job, v) < 0 ? no_memory(d) : 0;
}

/* ---- limits ---- */

/* Piston's six limits in its order of checks; the configured limit of
 * each in its own unit (ms, bytes). */
enum constraint { C_MEMORY, C_TIMEOUT, C_CPU };

static uint64_t configured(const struct moat_limits *l, enum constraint c)
{
    switch (c) {
    case C_MEMORY:
        return l->memory_mb > UINT64_MAX / MIB ? UINT64_MAX : l->memory_mb * MIB;
    case C_TIMEOUT:
        return config_wall_ms(l);
    case C_CPU:
        return l->time_ms;
    }
    return 0;
}

/* One limit: 0 when absent (or falsy, as Piston skips it), else its value
 * in its unit, -1 giving the configured maximum. */
static int take_limit(struct pdec *d, const json_t *obj, const char *type, enum constraint c,
                      uint64_t max, uint64_t *out)
{
    static const char *const names[] = {"memory_limit", "timeout", "cpu_time"};
    char name[32];
    (void)snprintf(name, sizeof(name), "%s_%s", type, names[c]);
    const json_t *v = json_object_get(obj, name);
    *out = 0;
    if (!truthy(v))
        return 0;
    if (!json_is_number(v))
        return BAD(d, name, "If specified, %s must be a number", name);
    double x = json_number_value(v);
    if (x == -1.0) {
        *out = max;
        return 0;
    }
    if (x > (double)max)
        return FAIL(d, 400, "out_of_range", name,
                    "%s cannot exceed the configured limit of %" PRIu64, name, max);
    if (x < 0)
        return FAIL(d, 400, "out_of_range", name, "%s must be non-negative", name);
    *out = (uint64_t)ceil(x);
    return 0;
}

static int take_limits(struct pdec *d, const json_t *obj)
{
    /* compile_* are checked against the compile step's configured limits;
     * the compile step runs with those (docs/piston.md) */
    const struct moat_limits *maxima[2] = {&d->cfg->compile_limits, &d->cfg->max_limits};
    static const char *const types[2] = {"compile", "run"};
    uint64_t run[3] = {0, 0, 0};
    for (int c = C_MEMORY; c <= C_CPU; c++) {
        for (size_t t = 0; t < 2; t++) {
            uint64_t v = 0;
            int r = take_limit(d, obj, types[t], (enum constraint)c,
                               configured(maxima[t], (enum constraint)c), &v);
            if (r < 0)
                return r;
            if (t == 1)
                run[c] = v;
        }
    }
    struct moat_limits *l = &d->job.limits;
    if (run[C_MEMORY])
        l->memory_mb = (run[C_MEMORY] + MIB - 1) / MIB;
    if (run[C_CPU])
        l->time_ms = run[C_CPU];
    if (run[C_TIMEOUT]) {
        l->wall_time_ms = run[C_TIMEOUT];
        /* a wall limit alone: the CPU limit cannot be the larger one */
        if (!run[C_CPU] && l->time_ms > l->wall_time_ms)
            l->time_ms = l->wall_time_ms;
    } else if (l->wall_time_ms == 0 && config_wall_ms(l) > d->cfg->max_limits.wall_time_ms) {
        /* a CPU limit whose derived wall limit passes the maximum: the
         * maximum, not a refusal on a field Piston does not have */
        l->wall_time_ms = d->cfg->max_limits.wall_time_ms;
    }
    struct moat_err err = {0};
    if (config_check_limits(d->cfg, l, &err) < 0)
        return FAIL(d, 400, "out_of_range", NULL, "%s", err.msg);
    return 0;
}

/* ---- the request ---- */

/* application/json, or text/plain (node-fetch's type for a string body,
 * which piston-client posts), or none: read as JSON. */
static bool is_json_type(const char *ct)
{
    return api_media_type_is(ct, NULL) || api_media_type_is(ct, "application/json") ||
           api_media_type_is(ct, "text/plain");
}

/* The checks of Piston's get_job, in its order. */
static int check_shape(struct pdec *d, const json_t *obj)
{
    const json_t *language = json_object_get(obj, "language");
    const json_t *version = json_object_get(obj, "version");
    const json_t *files = json_object_get(obj, "files");
    if (!truthy(language) || !json_is_string(language))
        return BAD(d, "language", "language is required as a string");
    if (!truthy(version) || !json_is_string(version))
        return BAD(d, "version", "version is required as a string");
    if (!json_is_array(files))
        return BAD(d, "files", "files is required as an array");
    for (size_t i = 0; i < json_array_size(files); i++) {
        const json_t *f = json_array_get(files, i);
        if (!json_is_object(f) || !json_is_string(json_object_get(f, "content")))
            return BAD(d, "files", "files[%zu].content is required as a string", i);
    }
    int r = find_runtime(d, language, version);
    if (r < 0)
        return r;
    /* Piston: a file without an encoding is utf8 */
    for (size_t i = 0; i < json_array_size(files); i++) {
        const json_t *enc = json_object_get(json_array_get(files, i), "encoding");
        if (!truthy(enc) || (json_is_string(enc) && strcmp(json_string_value(enc), "utf8") == 0))
            return 0;
    }
    return BAD(d, "files", "files must include at least one utf8 encoded file");
}

static int decode(struct pdec *d, const char *content_type, const char *body, size_t len)
{
    if (!is_json_type(content_type))
        return FAIL(d, 415, "unsupported_media_type", NULL,
                    "requests must be of type application/json");
    json_error_t jerr;
    json_t *root =
        json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return FAIL(d, 400, "invalid_json", NULL, "invalid JSON at line %d column %d: %s",
                    jerr.line, jerr.column, jerr.text);
    int r = json_is_object(root)
                ? check_shape(d, root)
                : FAIL(d, 400, "invalid_json", NULL, "the body must be a JSON object");
    if (r >= 0)
        r = take_limits(d, root);
    if (r >= 0)
        r = take_files(d, json_object_get(root, "files"));
    if (r >= 0)
        r = take_stdin(d, json_object_get(root, "stdin"));
    if (r >= 0)
        r = take_args(d, json_object_get(root, "args"));
    json_decref(root);
    return r;
}

int api_piston_decode(const struct moat_config *cfg, const struct lang_registry *langs,
                      const char *content_type, const char *body, size_t len,
                      struct api_submit *out, struct api_error *e)
{
    *e = (struct api_error){0};
    struct pdec d = {.cfg = cfg, .langs = langs, .e = e};
    d.job.priority = JOB_PRIORITY_DEFAULT;
    d.job.limits = cfg->limits;
    d.job.status = JOB_STATUS_QUEUED;
    int r = decode(&d, content_type, body, len);
    if (r < 0) {
        job_release(&d.job);
        return r;
    }
    /* Piston answers when the run is over: the server waits for the job */
    *out = (struct api_submit){.job = d.job, .wait = true};
    return 0;
}
