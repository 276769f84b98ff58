/*
 * Every Judge0 submission body (POST /submissions, each member of a batch)
 * reaches j0_decode_submission; every ?fields= reaches j0_parse_fields. The
 * first byte of an input picks base64_encoded (bit 0), whether the rest is
 * a fields list (bit 1) or a zip for j0_unzip (bit 2) instead of a body.
 * Checks that:
 *  - a refusal is -EINVAL with an object of fields, each a non-empty list
 *    of strings, and the output left untouched (or -ENOMEM);
 *  - an accepted job keeps every promise the server relies on: a language
 *    with a Judge0 id, one unnamed file within the code limit, stdin and
 *    the expected output within theirs, limits within the maxima,
 *    arguments that are C strings, metadata that is a JSON object;
 *  - the job renders, in every field and both encodings, in every state;
 *  - decoding is deterministic;
 *  - an unzipped archive is within its bounds (entries, bytes), each file
 *    named as a box accepts, or refused with a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/judge0-internal.h"
#include "moat/sandbox.h"
#include "moat/util.h"

#include "fuzz.h"

static const char langs_ini[] = "[python]\nsource = main.py\nrun = /bin/sh {main}\n"
                                "judge0_ids = 71\n"
                                "[c]\nsource = main.c\ncompile = /bin/sh {files}\n"
                                "run = ./main\njudge0_ids = 48, 50\n"
                                "[ghost]\nsource = main.g\nrun = /nonexistent/ghost {main}\n"
                                "judge0_ids = 99\n";

static void check_errors(const json_t *errors)
{
    CHECK(json_is_object(errors) && json_object_size(errors) > 0);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)errors, k, v)
    {
        CHECK(json_is_array(v) && json_array_size(v) > 0);
        for (size_t i = 0; i < json_array_size(v); i++)
            CHECK(json_is_string(json_array_get(v, i)));
    }
    char *t = json_dumps(errors, JOB_JSON_DUMP_FLAGS);
    CHECK(t);
    free(t);
}

static void check_job(const struct moat_config *cfg, const struct lang_registry *langs,
                      const struct j0_submit *s)
{
    const struct job *j = &s->job;
    const struct lang *l = lang_find(langs, j->language);
    CHECK(l && l->njudge0_ids > 0 && lang_available(l));
    CHECK(j->nfiles >= 1 && j->files[0].len > 0);
    CHECK(j->nfiles == 1 || j->files[0].name); /* with additional_files, named */
    for (size_t i = 1; i < j->nfiles; i++)
        CHECK(j->files[i].name && sbx_file_name_ok(j->files[i].name));
    CHECK(j->files[0].len <= cfg->max_code_kb * 1024);
    CHECK(j->stdin_len <= cfg->max_stdin_kb * 1024);
    CHECK(!j->judged || j->expected_len <= cfg->max_stdin_kb * 1024);
    CHECK(config_check_limits(cfg, &j->limits, NULL) == 0);
    for (size_t i = 0; i < j->nargs; i++)
        CHECK(j->args[i] && strlen(j->args[i]) <= 512);
    if (j->metadata_json) {
        json_t *m = json_loads(j->metadata_json, 0, NULL);
        CHECK(json_is_object(m));
        json_decref(m);
    }
    CHECK(!s->callback_url || strncmp(s->callback_url, "http", 4) == 0);
}

static void render_all(struct job *j, const struct lang_registry *langs)
{
    static const enum job_status states[] = {JOB_STATUS_QUEUED, JOB_STATUS_COMPLETED,
                                             JOB_STATUS_FAILED, JOB_STATUS_CANCELLED};
    moat_strlcpy(j->id, "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f", sizeof(j->id));
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(states); i++) {
        j->status = states[i];
        j->run.verdict = i == 1 ? JOB_VERDICT_RUNTIME_ERROR : JOB_VERDICT_NONE;
        j->run.signal = (int)i * 4;
        for (int b = 0; b < 2; b++) {
            struct j0_query q = {.base64 = b == 1, .fields = (UINT64_C(1) << J0F_COUNT_) - 1};
            bool utf8 = false;
            json_t *o = j0_submission_json(j, &q, langs, &utf8);
            CHECK(o || (utf8 && !q.base64));
            json_decref(o);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct moat_config cfg;
    config_defaults(&cfg);
    cfg.cache_dir[0] = '\0';
    cfg.max_code_kb = 4; /* small, so that inputs reach the limits */
    cfg.max_stdin_kb = 2;
    unsigned sel = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (sel & 4) { /* the rest is a zip: additional_files once base64-decoded */
        struct job_file *files = NULL;
        size_t n = 0;
        char msg[200];
        int r = j0_unzip(body, len, 64, 8, &files, &n, msg, sizeof(msg));
        CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        CHECK(r == 0 || (n == 0 && !files && (r != -EINVAL || msg[0])));
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(files[i].name && sbx_file_name_ok(files[i].name));
            CHECK(files[i].data || files[i].len == 0);
            total += files[i].len;
            free(files[i].name);
            free(files[i].data);
        }
        CHECK(n <= 8 && total <= 64 * 1024);
        free(files);
        return 0;
    }
    if (sel & 2) {
        char *s = moat_memdup0(body, len);
        CHECK(s);
        uint64_t set = 0;
        char msg[256];
        int r = j0_parse_fields(s, &set, msg, sizeof(msg));
        CHECK(r == 0 || (r == -EINVAL && strncmp(msg, "invalid fields: [", 17) == 0));
        CHECK(r < 0 || (set && set < (UINT64_C(1) << J0F_COUNT_)));
        free(s);
        return 0;
    }
    struct lang_registry *langs = NULL;
    CHECK(lang_registry_parse(langs_ini, strlen(langs_ini), &langs, NULL) == 0);
    json_t *obj = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!obj) {
        lang_registry_free(langs);
        return 0;
    }
    struct j0_submit s = {0}, again = {0};
    json_t *errors = NULL, *errors2 = NULL;
    int r = j0_decode_submission(&cfg, langs, obj, sel & 1, &s, &errors);
    int r2 = j0_decode_submission(&cfg, langs, obj, sel & 1, &again, &errors2);
    CHECK(r == r2);
    if (r == -EINVAL) {
        check_errors(errors);
        CHECK(json_equal(errors, errors2));
        CHECK(!s.job.files && !s.callback_url);
    } else if (r == 0) {
        check_job(&cfg, langs, &s);
        CHECK(again.job.nfiles == s.job.nfiles && again.job.files[0].len == s.job.files[0].len &&
              memcmp(again.job.files[0].data, s.job.files[0].data, s.job.files[0].len) == 0);
        render_all(&s.job, langs);
    } else {
        CHECK(r == -ENOMEM);
    }
    json_decref(errors);
    json_decref(errors2);
    j0_submit_release(&s);
    j0_submit_release(&again);
    json_decref(obj);
    lang_registry_free(langs);
    return 0;
}
