/*
 * Every body of POST /api/v2/execute reaches api_piston_decode first. The
 * first byte of an input picks the Content-Type; the rest is the body
 * (and, NUL-terminated, a version range for api_piston_version_matches).
 * Checks that:
 *  - a refusal is -EINVAL (or -ENOMEM) with a 400/413/415 (500 for
 *    ENOMEM), a message, and Piston's error body renders; the output is
 *    left untouched;
 *  - an accepted job keeps every promise the server relies on: a known,
 *    available language, files within the code limit with names a box
 *    accepts (only the main file may be unnamed), stdin within its limit
 *    and ending with a newline, limits within the maxima, wait set;
 *  - decoding is deterministic, and the job renders in Piston's shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/piston-internal.h"
#include "moat/sandbox.h"
#include "moat/util.h"

#include "fuzz.h"

static void check_dumps(json_t *o)
{
    CHECK(o);
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    CHECK(text);
    free(text);
    json_decref(o);
}

/* No version command: decoding never forks a probe (only "*" matches). */
static const char langs_ini[] = "[python]\naliases = py, python3\nextensions = .py\n"
                                "source = main.py\nrun = /bin/sh {main}\n"
                                "[cpp]\naliases = c++\nextensions = .cpp\nsource = main.cpp\n"
                                "compile = /bin/sh {files}\nrun = ./main\n"
                                "[java]\nextensions = .java\nsource = {class}.java\n"
                                "class_rule = java\ncompile = /bin/sh {files}\nrun = /bin/sh x\n"
                                "[ghost]\nsource = main.g\nrun = /nonexistent/ghost {main}\n";

static const char *const content_types[] = {
    NULL,
    "application/json",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
};

static void check_job(const struct moat_config *cfg, const struct lang_registry *langs,
                      const struct job *j)
{
    CHECK(lang_find(langs, j->language));
    CHECK(strcmp(j->language, "ghost") != 0);
    CHECK(config_check_limits(cfg, &j->limits, NULL) == 0);
    CHECK(j->nfiles >= 1 && j->files);
    size_t total = 0;
    for (size_t i = 0; i < j->nfiles; i++) {
        CHECK(j->files[i].data);
        CHECK(j->files[i].data[j->files[i].len] == '\0');
        total += j->files[i].len;
        if (j->files[i].name)
            CHECK(sbx_file_name_ok(j->files[i].name));
        else
            CHECK(i == 0);
        for (size_t k = 1; k < i && j->files[i].name; k++)
            CHECK(strcmp(j->files[k].name, j->files[i].name) != 0);
    }
    CHECK(total <= cfg->max_code_kb * 1024);
    CHECK(j->stdin_len <= cfg->max_stdin_kb * 1024);
    CHECK((j->stdin_data == NULL) == (j->stdin_len == 0));
    CHECK(j->stdin_len == 0 || j->stdin_data[j->stdin_len - 1] == '\n');
    for (size_t i = 0; i < j->nargs; i++)
        CHECK(j->args[i]);
}

/* The job as if it had run: every verdict renders. */
static void check_render(struct job *j)
{
    j->status = JOB_STATUS_COMPLETED;
    for (int v = JOB_VERDICT_NONE; v < JOB_VERDICT_MAX_; v++) {
        j->run.verdict = (enum job_verdict)v;
        j->compiled = v % 2 == 0;
        j->compile.verdict = (enum job_verdict)(JOB_VERDICT_MAX_ - 1 - v);
        check_dumps(api_piston_job_json(j));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct moat_config cfg;
    config_defaults(&cfg);
    cfg.cache_dir[0] = '\0';
    cfg.max_code_kb = 4;
    cfg.max_stdin_kb = 2;
    struct lang_registry *langs = NULL;
    CHECK(lang_registry_parse(langs_ini, strlen(langs_ini), &langs, NULL) == 0);

    const char *ct = content_types[data[0] % MOAT_ARRAY_SIZE(content_types)];
    size_t len = size - 1;
    char *body = malloc(len + 1);
    CHECK(body);
    if (len)
        memcpy(body, data + 1, len);
    body[len] = '\0';
    (void)api_piston_version_matches("3.11.2", body);
    (void)api_piston_version_matches(body, "^3.1 || 4.x - 5");

    struct api_submit s, s2, before;
    memset(&s, 0xa5, sizeof(s));
    memcpy(&before, &s, sizeof(s));
    struct api_error e, e2;
    int r = api_piston_decode(&cfg, langs, ct, body, len, &s, &e);
    int r2 = api_piston_decode(&cfg, langs, ct, body, len, &s2, &e2);
    CHECK(r == r2);
    if (r < 0) {
        CHECK(r == -EINVAL || r == -ENOMEM);
        CHECK(memchr(e.message, '\0', sizeof(e.message)) && e.message[0]);
        CHECK(r == -ENOMEM ? e.status == 500
                           : e.status == 400 || e.status == 413 || e.status == 415);
        CHECK(memcmp(&s, &before, sizeof(s)) == 0);
        CHECK(e.status == e2.status && strcmp(e.message, e2.message) == 0);
        check_dumps(api_piston_error_json(&e));
    } else {
        CHECK(r == 0 && s.wait);
        check_job(&cfg, langs, &s.job);
        CHECK(s.job.nfiles == s2.job.nfiles && s.job.stdin_len == s2.job.stdin_len);
        CHECK(memcmp(&s.job.limits, &s2.job.limits, sizeof(s.job.limits)) == 0);
        check_render(&s.job);
        job_release(&s.job);
        job_release(&s2.job);
    }
    free(body);
    lang_registry_free(langs);
    return 0;
}
