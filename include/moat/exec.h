#pragma once
/*
 * exec: runs programs in boxes. exec_program is the whole life of one
 * program in one box: write its files, compile (compiled languages), run,
 * and map the sandbox's results to job steps. The executor loop of the
 * service (queue, store, retries) builds on it.
 */
#include <stdbool.h>
#include <stddef.h>

#include "moat/config.h"
#include "moat/job.h"
#include "moat/lang.h"

struct sbx_box;
struct moat_err;

struct exec_file {
    const char *name; /* NULL for the entry of a single-file program: the
                         language's rule names it (main.py, Main.java, ...) */
    const char *data;
    size_t len;
};

struct exec_request {
    const struct lang *lang;
    const struct exec_file *files; /* files[0] is the entry point */
    size_t nfiles;
    const char *stdin_data;
    size_t stdin_len;
    const char *const *args;
    size_t nargs;
    struct moat_limits limits; /* the run step's, already checked */
};

struct exec_outcome {
    bool compiled;           /* a compile step ran (or came from the cache) */
    struct job_step compile; /* valid when compiled */
    struct job_step run;     /* verdict compile_error when compilation failed */
};

void exec_outcome_release(struct exec_outcome *o);

/*
 * Runs req in box (which is used up: the caller frees it afterwards).
 * Returns 0 when there is an outcome (whatever the program did) and -errno
 * with err set when the request itself is wrong (e.g. a bad file name:
 * err->field names it) or the box failed (outcome verdict internal_error).
 */
int exec_program(struct sbx_box *box, const struct moat_config *cfg,
                 const struct exec_request *req, struct exec_outcome *out,
                 struct moat_err *err);
