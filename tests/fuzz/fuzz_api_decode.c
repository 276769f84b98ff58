/*
 * Every request body of the HTTP API reaches api_decode_submit before
 * anything else looks at it. The first byte of an input picks the route
 * (byte % 3: native, seed 000, seed 002), the Content-Type and seed 002's
 * ?language= (byte / 3); the rest is the body. Checks that:
 *  - a refusal is -EINVAL (or -ENOMEM) with a 400/413/415 (500 for ENOMEM),
 *    a known code, a message, terminated strings, a renderable error body,
 *    and the output left untouched;
 *  - an accepted job keeps every promise the server relies on: a known
 *    language, files within the code limit with names a box accepts, stdin
 *    within its limit, a priority and limits within range, metadata an
 *    object of at most 16 KiB, tags an array of strings;
 *  - decoding is deterministic, and the job renders in every state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "moat/sandbox.h"
#include "moat/util.h"

#include "fuzz.h"

/* A rendered object exists and dumps as the server sends it; consumed. */
static void check_dumps(json_t *o)
{
    CHECK(o);
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    CHECK(text);
    free(text);
    json_decref(o);
}

/* Languages every host can "run" (/bin/sh exists) and one it cannot; no
 * version command, so that decoding never forks a probe. */
static const char langs_ini[] = "[python]\naliases = py, python3\nsource = main.py\n"
                                "run = /bin/sh {main}\n"
                                "[cpp]\naliases = c++\nsource = main.cpp\n"
                                "compile = /bin/sh {files}\nrun = ./main\n"
                                "[go]\naliases = golang\nsource = main.go\n"
                                "compile = /bin/sh {files}\nrun = ./main\n"
                                "[ghost]\nsource = main.g\nrun = /nonexistent/ghost {main}\n";

static const char *const content_types[] = {
    NULL,
    "application/json",
    "text/plain",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
};
static const char *const query_languages[] = {NULL, "python", "c++", "ghost", "", "cobol"};

static const char *const codes[] = {
    "invalid_json",     "unknown_field",     "invalid_field",          "out_of_range",
    "unknown_language", "payload_too_large", "unsupported_media_type", "internal",
};

static void check_error(int r, const struct api_error *e)
{
    CHECK(r == -EINVAL || r == -ENOMEM);
    CHECK(memchr(e->field, '\0', sizeof(e->field)));
    CHECK(memchr(e->message, '\0', sizeof(e->message)));
    CHECK(e->message[0] != '\0');
    CHECK(e->code);
    bool known = false;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(codes); i++)
        known = known || strcmp(e->code, codes[i]) == 0;
    CHECK(known);
    if (r == -ENOMEM)
        CHECK(e->status == 500);
    else
        CHECK(e->status == 400 || e->status == 413 || e->status == 415);
    CHECK((e->status == 413) == (strcmp(e->code, "payload_too_large") == 0));
    CHECK((e->status == 415) == (strcmp(e->code, "unsupported_media_type") == 0));
    check_dumps(api_error_json(e));
}

static void check_json_text(const char *text, bool array)
{
    if (!text)
        return;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, NULL);
    CHECK(v);
    CHECK(array ? json_is_array(v) : json_is_object(v));
    if (array) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) CHECK(json_is_string(x));
    } else {
        CHECK(strlen(text) <= 16384);
    }
    json_decref(v);
}

static void check_job(const struct moat_config *cfg, const struct lang_registry *langs,
                      const struct job *j)
{
    CHECK(lang_find(langs, j->language));
    CHECK(strcmp(j->language, "ghost") != 0);
    CHECK(j->language_given[0]);
    CHECK(j->priority >= JOB_PRIORITY_MIN && j->priority <= JOB_PRIORITY_MAX);
    CHECK(config_check_limits(cfg, &j->limits, NULL) == 0);
    CHECK(j->nfiles >= 1 && j->files);
    size_t total = 0;
    for (size_t i = 0; i < j->nfiles; i++) {
        CHECK(j->files[i].data);
        CHECK(j->files[i].data[j->files[i].len] == '\0');
        total += j->files[i].len;
        if (j->files[i].name) {
            CHECK(sbx_file_name_ok(j->files[i].name));
            for (size_t k = 0; k < i; k++)
                CHECK(strcmp(j->files[k].name, j->files[i].name) != 0);
        } else {
            CHECK(i == 0 && j->nfiles == 1);
        }
    }
    CHECK(total <= cfg->max_code_kb * 1024); /* files may be empty, code may not */
    CHECK(j->files[0].name || j->files[0].len > 0);
    CHECK(j->stdin_len <= cfg->max_stdin_kb * 1024);
    CHECK((j->stdin_data == NULL) == (j->stdin_len == 0));
    for (size_t i = 0; i < j->nargs; i++)
        CHECK(j->args[i]);
    check_json_text(j->metadata_json, false);
    check_json_text(j->tags_json, true);
}

static void check_render(struct job *j)
{
    static const enum job_status states[] = {JOB_STATUS_QUEUED, JOB_STATUS_COMPLETED,
                                             JOB_STATUS_FAILED, JOB_STATUS_CANCELLED};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(states); i++) {
        j->status = states[i];
        check_dumps(api_job_json(j));
        check_dumps(api_job_json_seed000(j));
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
    struct lang_registry *langs = NULL;
    CHECK(lang_registry_parse(langs_ini, strlen(langs_ini), &langs, NULL) == 0);

    unsigned sel = data[0];
    enum api_shape shape = (enum api_shape)(sel % 3);
    const char *ct = content_types[(sel / 3) % MOAT_ARRAY_SIZE(content_types)];
    const char *ql = query_languages[(sel / 15) % MOAT_ARRAY_SIZE(query_languages)];
    /* a copy of exactly the body: ASan sees any read past its end */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    CHECK(body);
    if (len)
        memcpy(body, data + 1, len);

    struct api_submit s, s2, before;
    memset(&s, 0xa5, sizeof(s));
    memcpy(&before, &s, sizeof(s));
    struct api_error e, e2;
    int r = api_decode_submit(&cfg, langs, shape, ct, ql, body, len, &s, &e);
    int r2 = api_decode_submit(&cfg, langs, shape, ct, ql, body, len, &s2, &e2);
    CHECK(r == r2);
    if (r < 0) {
        check_error(r, &e);
        CHECK(memcmp(&s, &before, sizeof(s)) == 0);
        CHECK(e.status == e2.status && strcmp(e.code, e2.code) == 0);
        CHECK(strcmp(e.field, e2.field) == 0 && strcmp(e.message, e2.message) == 0);
    } else {
        CHECK(r == 0);
        check_job(&cfg, langs, &s.job);
        CHECK(s.wait == s2.wait && s.job.nfiles == s2.job.nfiles);
        CHECK(s.job.files[0].len == s2.job.files[0].len);
        CHECK(memcmp(s.job.files[0].data, s2.job.files[0].data, s.job.files[0].len) == 0);
        CHECK(memcmp(&s.job.limits, &s2.job.limits, sizeof(s.job.limits)) == 0);
        if (shape == API_SHAPE_SEED002)
            CHECK(s.job.files[0].len == len && memcmp(s.job.files[0].data, body, len) == 0);
        check_render(&s.job);
        job_release(&s.job);
        job_release(&s2.job);
    }
    free(body);
    lang_registry_free(langs);
    return 0;
}
