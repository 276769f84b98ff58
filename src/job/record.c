/*
 * job: the job record. Status names, releasing a job, and the code blob
 * the store keeps for it. Pure: no I/O, no state.
 */
#include "moat/job.h"
#include "moat/util.h"

/* Indexed by enum job_status; the names are the wire format of the API and
 * of the store's rows, so they never change once published. */
static const char *const status_names[JOB_STATUS_MAX_] = {
    [JOB_STATUS_QUEUED] = "queued",       [JOB_STATUS_RUNNING] = "running",
    [JOB_STATUS_COMPLETED] = "completed", [JOB_STATUS_FAILED] = "failed",
    [JOB_STATUS_CANCELLED] = "cancelled",
};

const char *job_status_name(enum job_status s)
{
    if ((unsigned)s >= (unsigned)JOB_STATUS_MAX_)
        return NULL;
    return status_names[s];
}

int job_status_parse(const char *name, enum job_status *out)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(status_names); i++) {
        if (strcmp(status_names[i], name) == 0) {
            *out = (enum job_status)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool job_status_final(enum job_status s)
{
    return s == JOB_STATUS_COMPLETED || s == JOB_STATUS_FAILED || s == JOB_STATUS_CANCELLED;
}

static const char *const callback_shapes[JOB_CALLBACK_SHAPE_MAX_] = {
    [JOB_CALLBACK_NATIVE] = "native",
    [JOB_CALLBACK_JUDGE0] = "judge0",
};
static const char *const callback_statuses[JOB_CALLBACK_STATUS_MAX_] = {
    [JOB_CALLBACK_NONE] = NULL,
    [JOB_CALLBACK_PENDING] = "pending",
    [JOB_CALLBACK_DELIVERED] = "delivered",
    [JOB_CALLBACK_FAILED] = "failed",
};

const char *job_callback_shape_name(enum job_callback_shape s)
{
    return (unsigned)s < (unsigned)JOB_CALLBACK_SHAPE_MAX_ ? callback_shapes[s] : NULL;
}

const char *job_callback_status_name(enum job_callback_status s)
{
    return (unsigned)s < (unsigned)JOB_CALLBACK_STATUS_MAX_ ? callback_statuses[s] : NULL;
}

static int name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return (int)i;
    return -EINVAL;
}

int job_callback_shape_parse(const char *name, enum job_callback_shape *out)
{
    int i = name_index(callback_shapes, MOAT_ARRAY_SIZE(callback_shapes), name);
    if (i < 0)
        return i;
    *out = (enum job_callback_shape)i;
    return 0;
}

int job_callback_status_parse(const char *name, enum job_callback_status *out)
{
    int i = name_index(callback_statuses, MOAT_ARRAY_SIZE(callback_statuses), name);
    if (i < 0)
        return i;
    *out = (enum job_callback_status)i;
    return 0;
}

static void files_free(struct job_file *files, size_t n)
{
    if (!files)
        return;
    for (size_t i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].data);
    }
    free(files);
}

static void strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void job_test_release(struct job_test *t)
{
    if (!t)
        return;
    free(t->stdin_data);
    strv_free(t->args, t->nargs);
    free(t->expected);
    job_step_release(&t->result);
    *t = (struct job_test){0};
}

void job_release(struct job *j)
{
    if (!j)
        return;
    for (size_t i = 0; j->tests && i < j->ntests; i++)
        job_test_release(&j->tests[i]);
    free(j->tests);
    files_free(j->files, j->nfiles);
    free(j->stdin_data);
    strv_free(j->args, j->nargs);
    free(j->expected);
    free(j->metadata_json);
    free(j->tags_json);
    job_step_release(&j->compile);
    job_step_release(&j->run);
    *j = (struct job){0};
}

/* One entry {"name": name or null, "content": base64}. New reference. */
static json_t *file_json(const struct job_file *f)
{
    size_t b64len = 0;
    _cleanup_free_ char *b64 = moat_base64_encode(f->data, f->len, &b64len);
    if (!b64)
        return NULL;
    /* base64 is ASCII: nothing to validate */
    json_t *content = json_stringn_nocheck(b64, b64len);
    /* a name that is not UTF-8 fails json_string: the API never makes one */
    json_t *name = f->name ? json_string(f->name) : json_null();
    if (!content || !name) {
        json_decref(content);
        json_decref(name);
        return NULL;
    }
    /* "o" steals both references, also on failure */
    return json_pack("{s:o, s:o}", "name", name, "content", content);
}

int job_code_hash(const struct job *j, char out[MOAT_SHA256_HEX_LEN + 1])
{
    if (j->nfiles == 1 && j->files && !j->files[0].name) {
        moat_sha256_hex(j->files[0].data, j->files[0].len, out);
        return 0;
    }
    char *blob = NULL;
    size_t len = 0;
    int r = job_code_blob(j, &blob, &len);
    if (r == 0)
        moat_sha256_hex(blob, len, out);
    free(blob);
    return r;
}

int job_code_blob(const struct job *j, char **out, size_t *len)
{
    if (j->nfiles == 0 || !j->files)
        return -EINVAL;
    if (j->nfiles == 1 && !j->files[0].name) {
        char *p = moat_memdup0(j->files[0].data, j->files[0].len);
        if (!p)
            return -ENOMEM;
        *out = p;
        *len = j->files[0].len;
        return 0;
    }
    _cleanup_(json_decrefp) json_t *arr = json_array();
    if (!arr)
        return -ENOMEM;
    for (size_t i = 0; i < j->nfiles; i++) {
        json_t *f = file_json(&j->files[i]);
        if (!f)
            return -ENOMEM;
        if (json_array_append_new(arr, f) < 0) /* steals f */
            return -ENOMEM;
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    if (!s)
        return -ENOMEM;
    *out = s;
    *len = strlen(s);
    return 0;
}

/* Decodes one {"name","content"} entry into f. */
static int file_from_json(json_t *o, struct job_file *f)
{
    json_t *name = NULL;
    const char *content = NULL;
    size_t clen = 0;
    if (json_unpack(o, "{s:o, s:s% !}", "name", &name, "content", &content, &clen) < 0)
        return -EINVAL;
    if (json_is_string(name)) {
        /* a NUL inside the name would be cut short silently: refuse it */
        if (strlen(json_string_value(name)) != json_string_length(name))
            return -EINVAL;
        f->name = strdup(json_string_value(name));
        if (!f->name)
            return -ENOMEM;
    } else if (!json_is_null(name)) {
        return -EINVAL;
    }
    return moat_base64_decode(content, clen, &f->data, &f->len);
}

int job_code_from_blob(struct job *j, const char *blob, size_t len, bool single)
{
    if (single) {
        struct job_file *f = calloc(1, sizeof(*f));
        if (!f)
            return -ENOMEM;
        f->data = moat_memdup0(blob, len);
        if (!f->data) {
            free(f);
            return -ENOMEM;
        }
        f->len = len;
        j->files = f;
        j->nfiles = 1;
        return 0;
    }

    _cleanup_(json_decrefp) json_t *arr = json_loadb(blob, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return -EINVAL;
    size_t n = json_array_size(arr);
    struct job_file *files = calloc(n, sizeof(*files));
    if (!files)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = file_from_json(json_array_get(arr, i), &files[i]);
        if (r < 0) {
            files_free(files, i + 1);
            return r;
        }
    }
    j->files = files;
    j->nfiles = n;
    return 0;
}

static char *text_dup(const char *s)
{
    return s ? moat_memdup0(s, strlen(s)) : NULL;
}

/* A copy of the n strings of src into *dst (NULL-terminated), counted in
 * *ndst as they are made, so that a failure leaves what was made for the
 * owner's release. -ENOMEM. */
static int strv_copy(char ***dst, size_t *ndst, char *const *src, size_t n)
{
    *dst = calloc(n + 1, sizeof(**dst));
    if (!*dst)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++, (*ndst)++)
        if (!((*dst)[i] = text_dup(src[i])))
            return -ENOMEM;
    return 0;
}

/* What test src asks, into dst (zeroed); the result is not copied. */
static int test_copy(struct job_test *dst, const struct job_test *src)
{
    *dst = (struct job_test){.judged = src->judged,
                             .time_ms = src->time_ms,
                             .memory_mb = src->memory_mb,
                             .stdin_len = src->stdin_len,
                             .expected_len = src->expected_len};
    dst->stdin_data = moat_memdup0(src->stdin_data, src->stdin_len);
    if (!dst->stdin_data)
        return -ENOMEM;
    if (src->expected && !(dst->expected = moat_memdup0(src->expected, src->expected_len)))
        return -ENOMEM;
    return src->args ? strv_copy(&dst->args, &dst->nargs, src->args, src->nargs) : 0;
}

int job_copy_request(struct job *dst, const struct job *src)
{
    *dst = *src;
    dst->files = NULL;
    dst->stdin_data = NULL;
    dst->args = NULL;
    dst->metadata_json = dst->tags_json = NULL;
    dst->expected = NULL;
    dst->tests = NULL;
    dst->ntests = 0;
    dst->compiled = false;
    dst->compile = (struct job_step){0};
    dst->run = (struct job_step){0};
    dst->nfiles = dst->nargs = 0;
    dst->files = calloc(src->nfiles ? src->nfiles : 1, sizeof(*dst->files));
    if (!dst->files || strv_copy(&dst->args, &dst->nargs, src->args, src->nargs) < 0)
        goto fail;
    for (size_t i = 0; i < src->nfiles; i++, dst->nfiles++) {
        struct job_file *f = &dst->files[i];
        f->data = moat_memdup0(src->files[i].data, src->files[i].len);
        f->len = src->files[i].len;
        f->name = text_dup(src->files[i].name);
        if (!f->data || (src->files[i].name && !f->name)) {
            dst->nfiles++; /* released with the others */
            goto fail;
        }
    }
    dst->stdin_data = moat_memdup0(src->stdin_data, src->stdin_len);
    dst->metadata_json = text_dup(src->metadata_json);
    dst->tags_json = text_dup(src->tags_json);
    if (src->expected)
        dst->expected = moat_memdup0(src->expected, src->expected_len);
    if (src->ntests && !(dst->tests = calloc(src->ntests, sizeof(*dst->tests))))
        goto fail;
    for (size_t i = 0; i < src->ntests; i++, dst->ntests++)
        if (test_copy(&dst->tests[i], &src->tests[i]) < 0) {
            dst->ntests++; /* released with the others */
            goto fail;
        }
    if (!dst->stdin_data || (src->metadata_json && !dst->metadata_json) ||
        (src->tags_json && !dst->tags_json) || (src->expected && !dst->expected))
        goto fail;
    return 0;
fail:
    job_release(dst);
    return -ENOMEM;
}
