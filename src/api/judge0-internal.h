#pragma once
/*
 * The Judge0 CE (1.13) compatible API: /submissions, /languages, /statuses
 * and the service routes a Judge0 client reads. The decoder and the
 * renderers are pure (no I/O, no MHD) so that they are unit-tested and
 * fuzzed on their own; judge0-routes.c glues them to the server.
 *
 * Judge0 speaks its own error shape: 422 {"field": ["message", ...]} for a
 * submission that does not validate (every field at fault at once), and
 * {"error": "message"} for the rest. Its token is moat's job id.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api-internal.h"

/* Judge0's status ids (its /statuses). */
enum j0_status {
    J0_IN_QUEUE = 1,
    J0_PROCESSING = 2,
    J0_ACCEPTED = 3,
    J0_WRONG_ANSWER = 4,
    J0_TIME_LIMIT = 5,
    J0_COMPILATION_ERROR = 6,
    J0_RE_SIGSEGV = 7,
    J0_RE_SIGXFSZ = 8,
    J0_RE_SIGFPE = 9,
    J0_RE_SIGABRT = 10,
    J0_RE_NZEC = 11,
    J0_RE_OTHER = 12,
    J0_INTERNAL_ERROR = 13,
    J0_EXEC_FORMAT_ERROR = 14,
};
#define J0_STATUS_COUNT 14

/* Judge0's description of status id ("Runtime Error (SIGSEGV)"); NULL out
 * of 1..14. Static storage. */
const char *j0_status_description(unsigned id);

/* The status id of a job as it is now (queued 1, running 2, then by its
 * verdict and signal), and, for a final one, Judge0's message into msg
 * ("" when none: Accepted, Wrong Answer): "Exited with error status 3",
 * "Caught fatal signal 11", "Time limit exceeded", "Memory Limit Exceeded"
 * (moat's memory verdict keeps the id of the kill), moat's detail of an
 * internal error. Pure. */
unsigned j0_status_of(const struct job *j, char *msg, size_t msgsz);

/* The query of a /submissions route. */
struct j0_query {
    bool base64;     /* ?base64_encoded=true */
    bool wait;       /* ?wait=true */
    uint64_t fields; /* bit set of j0_field; 0 = the default fields */
};

/* Every attribute a submission renders (Judge0's serializer). */
enum j0_field {
    J0F_SOURCE_CODE,
    J0F_LANGUAGE_ID,
    J0F_STDIN,
    J0F_EXPECTED_OUTPUT,
    J0F_STDOUT,
    J0F_STATUS_ID,
    J0F_CREATED_AT,
    J0F_FINISHED_AT,
    J0F_TIME,
    J0F_MEMORY,
    J0F_STDERR,
    J0F_TOKEN,
    J0F_NUMBER_OF_RUNS,
    J0F_CPU_TIME_LIMIT,
    J0F_CPU_EXTRA_TIME,
    J0F_WALL_TIME_LIMIT,
    J0F_MEMORY_LIMIT,
    J0F_STACK_LIMIT,
    J0F_MAX_PROCESSES,
    J0F_PER_PROCESS_TIME,
    J0F_PER_PROCESS_MEMORY,
    J0F_MAX_FILE_SIZE,
    J0F_COMPILE_OUTPUT,
    J0F_EXIT_CODE,
    J0F_EXIT_SIGNAL,
    J0F_MESSAGE,
    J0F_WALL_TIME,
    J0F_COMPILER_OPTIONS,
    J0F_COMMAND_LINE_ARGUMENTS,
    J0F_REDIRECT_STDERR,
    J0F_CALLBACK_URL,
    J0F_ADDITIONAL_FILES,
    J0F_ENABLE_NETWORK,
    J0F_STATUS,
    J0F_LANGUAGE,
    J0F_COUNT_,
};

/* The wire name of a field ("source_code"); NULL out of range. */
const char *j0_field_name(enum j0_field f);

/*
 * Parses ?fields= ("a,b,c" or "*"; NULL or "" = the default fields) into
 * *out. An unknown name is -EINVAL with Judge0's message ("invalid fields:
 * [foo, bar]") in msg. Pure.
 */
int j0_parse_fields(const char *s, uint64_t *out, char *msg, size_t msgsz);

/* A decoded Judge0 submission. */
struct j0_submit {
    struct job job;     /* language (language_given holds the id asked, "71"),
                           files, stdin, args, expected output (Judge0's
                           right-trim comparison), limits; metadata_json holds
                           what moat does not model (see judge0.md) */
    char *callback_url; /* NULL when none; owned. Delivery is the webhook
                           part's: it is carried, not yet called. */
};
void j0_submit_release(struct j0_submit *s);

/*
 * Decodes one submission object (a POST /submissions body, or a member of
 * a batch's "submissions") into *out, with Judge0's defaults, maxima and
 * refusals. base64: the query's base64_encoded (source_code, stdin and
 * expected_output are then base64, with or without Ruby's newlines).
 * Returns 0, or -EINVAL with *errors a new object {"field": ["message"]}
 * naming every field at fault (NULL on ENOMEM: -ENOMEM). *out is untouched
 * on failure. Unknown keys are ignored, as Judge0 ignores them. Pure;
 * thread-safe.
 */
int j0_decode_submission(const struct moat_config *cfg, const struct lang_registry *langs,
                         const json_t *obj, bool base64, struct j0_submit *out, json_t **errors);

/*
 * Unpacks a zip (Judge0's additional_files, len bytes, borrowed) into
 * *out (n files, each named and owning its bytes; caller frees), bounded to
 * max_kb unpacked (declared sizes summed first, then each entry read to its
 * declared size and no further) and max_files entries; directories are
 * skipped. -EINVAL with msg ("has a symbolic link: 'x'") for anything that
 * is not a plain zip of plain files with names sbx_file_name_ok accepts;
 * -ENOMEM. Pure; thread-safe.
 */
int j0_unzip(const char *zip, size_t len, uint64_t max_kb, uint64_t max_files,
             struct job_file **out, size_t *nout, char *msg, size_t msgsz);

/* Base64 as Ruby's Base64.encode64 writes it: a '\n' after every 60
 * characters and at the end ("" for no bytes). Caller frees; NULL on
 * ENOMEM. */
char *j0_base64_encode(const void *data, size_t len, size_t *outlen);
/* Decodes base64 with or without '\n' / "\r\n" line breaks (padding
 * required). Caller frees *out (NUL-terminated). -EINVAL, -ENOMEM. */
int j0_base64_decode(const char *in, size_t len, char **out, size_t *outlen);

/* Judge0's message for output that is not UTF-8 without base64. */
#define J0_UTF8_ERROR                                                                              \
    "some attributes for this submission cannot be converted to UTF-8, use "                       \
    "base64_encoded=true query parameter"

/*
 * The submission object of job j with the fields of q (the default set when
 * q->fields is 0), text attributes base64 when q->base64. langs names the
 * language ({id, name}); version is its version ("3.11.2"). Returns a new
 * reference, or NULL with *utf8_error true when an attribute is not UTF-8
 * and q->base64 is false (the caller answers J0_UTF8_ERROR), or NULL on
 * ENOMEM (*utf8_error false). Pure.
 */
json_t *j0_submission_json(const struct job *j, const struct j0_query *q,
                           const struct lang_registry *langs, bool *utf8_error);

/* Judge0's name of a language at one of its ids: "Python (3.11.2)",
 * "C (GCC 12.2.0)", with moat's version of it. */
void j0_language_name(const struct lang *l, char *out, size_t outsz);

/* [{id, description}] of the 14 statuses. New reference. */
json_t *j0_statuses_json(void);
/* [{id, name}] (all: with "is_archived": false) of every available
 * language at each of its Judge0 ids, by id. New reference. */
json_t *j0_languages_json(const struct lang_registry *langs, bool all);
/* {id, name, is_archived, source_file, compile_cmd, run_cmd} of id; NULL
 * when no available language has it. New reference. */
json_t *j0_language_json(const struct lang_registry *langs, unsigned id);
/* GET /config_info: Judge0's keys, from moat's defaults and maxima. */
json_t *j0_config_info_json(const struct moat_config *cfg);

/* ---- judge0-routes.c: the handlers of routes.c's table ---- */
struct api_server;
struct api_req;
void j0_submit(struct api_server *srv, struct api_req *rq);
void j0_submit_resume(struct api_server *srv, struct api_req *rq);
void j0_get(struct api_server *srv, struct api_req *rq);
void j0_get_resume(struct api_server *srv, struct api_req *rq);
void j0_delete(struct api_server *srv, struct api_req *rq);
void j0_batch_submit(struct api_server *srv, struct api_req *rq);
void j0_batch_resume(struct api_server *srv, struct api_req *rq);
void j0_batch_get(struct api_server *srv, struct api_req *rq);
void j0_list(struct api_server *srv, struct api_req *rq);
void j0_languages(struct api_server *srv, struct api_req *rq);
void j0_languages_all(struct api_server *srv, struct api_req *rq);
void j0_language(struct api_server *srv, struct api_req *rq);
void j0_statuses(struct api_server *srv, struct api_req *rq);
void j0_about(struct api_server *srv, struct api_req *rq);
void j0_config_info(struct api_server *srv, struct api_req *rq);
void j0_system_info(struct api_server *srv, struct api_req *rq);
void j0_workers(struct api_server *srv, struct api_req *rq);
