/*
 * Helpers for tests that make and compare jobs (the job module's and the
 * store's): owned copies of bytes, and field-by-field comparisons that say
 * which field differs. Static, so that each test uses what it needs;
 * include after <cmocka.h>.
 */
#ifndef MOAT_JOB_FX_H
#define MOAT_JOB_FX_H

#include <stdlib.h>
#include <string.h>

#include "moat/job.h"

/* n bytes of s, NUL-terminated, owned by the caller. */
static inline char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Two texts that may be NULL. */
static inline void assert_text_equal(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Every member of a step, outputs included. */
static inline void assert_step_equal(const struct job_step *a, const struct job_step *b)
{
    assert_int_equal(a->verdict, b->verdict);
    assert_int_equal(a->exit_code, b->exit_code);
    assert_int_equal(a->signal, b->signal);
    assert_int_equal(a->time_ms, b->time_ms);
    assert_int_equal(a->wall_time_ms, b->wall_time_ms);
    assert_int_equal(a->memory_kb, b->memory_kb);
    assert_int_equal(a->out_truncated, b->out_truncated);
    assert_int_equal(a->err_truncated, b->err_truncated);
    assert_int_equal(a->cached, b->cached);
    assert_string_equal(a->message, b->message);
    assert_int_equal(a->out_len, b->out_len);
    assert_int_equal(a->err_len, b->err_len);
    if (a->out_len)
        assert_memory_equal(a->out, b->out, a->out_len);
    if (a->err_len)
        assert_memory_equal(a->err, b->err, a->err_len);
    assert_int_equal(a->order_len, b->order_len);
    if (a->order_len)
        assert_memory_equal(a->order, b->order, a->order_len);
    else
        assert_null(b->order);
}

/* What was asked (the status and times move as the job runs). */
static inline void assert_asked_equal(const struct job *a, const struct job *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->language, b->language);
    assert_string_equal(a->language_given, b->language_given);
    assert_string_equal(a->version, b->version);
    assert_int_equal(a->priority, b->priority);
    assert_memory_equal(&a->limits, &b->limits, sizeof(a->limits));
    assert_int_equal(a->nargs, b->nargs);
    for (size_t i = 0; i < a->nargs; i++)
        assert_string_equal(a->args[i], b->args[i]);
    assert_int_equal(a->judged, b->judged);
    if (a->judged || a->ntests) {
        assert_int_equal(a->compare.mode, b->compare.mode);
        assert_true(a->compare.abs_tol == b->compare.abs_tol);
        assert_true(a->compare.rel_tol == b->compare.rel_tol);
    }
    assert_text_equal(a->metadata_json, b->metadata_json);
    assert_text_equal(a->tags_json, b->tags_json);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_string_equal(a->code_hash, b->code_hash);
}

/* What was asked and where the job is; with code, the bytes read only with
 * the code (files, stdin, the expected output). */
static inline void assert_request_equal(const struct job *a, const struct job *b, bool code)
{
    assert_asked_equal(a, b);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->started_ms, b->started_ms);
    assert_int_equal(a->finished_ms, b->finished_ms);
    assert_string_equal(a->output_hash, b->output_hash);
    if (!code)
        return;
    assert_int_equal(a->nfiles, b->nfiles);
    for (size_t i = 0; i < a->nfiles; i++) {
        assert_text_equal(a->files[i].name, b->files[i].name);
        assert_int_equal(a->files[i].len, b->files[i].len);
        assert_memory_equal(a->files[i].data, b->files[i].data, a->files[i].len);
    }
    assert_int_equal(a->stdin_len, b->stdin_len);
    if (a->stdin_len)
        assert_memory_equal(a->stdin_data, b->stdin_data, a->stdin_len);
    assert_int_equal(a->expected_len, b->expected_len);
    if (a->judged)
        assert_memory_equal(a->expected, b->expected, a->expected_len);
}

#endif
