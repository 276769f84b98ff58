#pragma once
/*
 * job: the job model and its JSON mapping. Pure: no I/O, no threads.
 * The result of a step has the same JSON in `moat run --json` and the API:
 *   { "verdict": "ok", "exitCode": 0, "signal": null, "timeMs": 12,
 *     "wallTimeMs": 15, "memoryKb": 8123, "stdout": "4\n", "stderr": "",
 *     "stdoutTruncated": false, "stderrTruncated": false }
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum job_verdict {
    JOB_VERDICT_NONE, /* not finished */
    JOB_VERDICT_OK,
    JOB_VERDICT_RUNTIME_ERROR,
    JOB_VERDICT_TIME_LIMIT,
    JOB_VERDICT_MEMORY_LIMIT,
    JOB_VERDICT_OUTPUT_LIMIT,
    JOB_VERDICT_COMPILE_ERROR,
    JOB_VERDICT_INTERNAL_ERROR,
    JOB_VERDICT_CANCELLED,
    JOB_VERDICT_WRONG_ANSWER, /* ran to its end, its output not the one expected */
    JOB_VERDICT_ACCEPTED,     /* a test that ran to its end with the expected output */
    JOB_VERDICT_SKIPPED,      /* a test not run: an earlier one failed (stopOnFirstFailure) */
    JOB_VERDICT_POLICY_VIOLATION, /* refused by the language's source policy before it ran */
    JOB_VERDICT_MAX_,
};

/* One step (compile or run) of a job, owning its output buffers. */
struct job_step {
    enum job_verdict verdict;
    int exit_code;
    int signal;        /* 0 = none */
    uint64_t time_ms;  /* CPU */
    uint64_t wall_time_ms;
    uint64_t memory_kb;
    char *out;         /* stdout bytes (may hold NULs and invalid UTF-8) */
    size_t out_len;
    char *err;         /* stderr bytes */
    size_t err_len;
    bool out_truncated, err_truncated;
    /* The order in which the program wrote out and err: order_len / 4
     * little-endian uint32 entries, JOB_ORDER_STDERR set for err, the low
     * 31 bits a byte count of that stream (the sandbox's SBX_ORDER_*
     * format); NULL when not recorded. See job_step_interleave. */
    char *order;
    size_t order_len;
    /* Bytes of out and err a rendering leaves out (the API inlines at most
     * server.max_inline_output_kb of each stream; the rest is at its own
     * route): set on a view of the step, never stored. */
    uint64_t out_omitted, err_omitted;
    bool cached;       /* compile step served from the compile cache */
    char message[256]; /* internal detail for internal_error, "" otherwise */
};

/* Frees out and err and zeroes the whole step; accepts NULL. Not
 * thread-safe on one step (it is the step's owner that releases it). */
void job_step_release(struct job_step *s);

/* Everything below is pure and thread-safe: const tables, no state. */

#define JOB_ORDER_STDERR 0x80000000u
/* stdout and stderr of s interleaved as the program wrote them (order.c):
 * the bytes each entry of s->order counts, as far as each stream has them,
 * then what the order does not cover, stdout's rest before stderr's (all
 * of stdout, then all of stderr, without an order). Always
 * out_len + err_len bytes. Caller frees *out. -ENOMEM, -EOVERFLOW. */
int job_step_interleave(const struct job_step *s, char **out, size_t *len);

/* "ok", "runtime_error", ...; NULL for JOB_VERDICT_NONE and out-of-range
 * values. Static storage. */
const char *job_verdict_name(enum job_verdict v);
/* -EINVAL when unknown or NULL (no name parses to JOB_VERDICT_NONE); *out
 * is written only on success. Borrows name. */
int job_verdict_parse(const char *name, enum job_verdict *out);

/* A sentence for a person for any verdict but ok ("Time Limit Exceeded
 * (program ran too long)", "Runtime Error (SIGSEGV: segmentation fault)",
 * "Runtime Error (exit code 3)", "Internal Error (<message>)"); NULL for ok, accepted
 * and JOB_VERDICT_NONE. Static storage or buf (truncated to bufsz; at least
 * sizeof(s->message) + 64 bytes holds every sentence whole). With buf NULL
 * the sentence drops its detail. Borrows s. */
const char *job_error_sentence(const struct job_step *s, char *buf, size_t bufsz);

/* Name of signal n ("SIGSEGV"); never NULL, static storage. 1..31 by their
 * Linux names, 34..64 as "SIGRTMIN", "SIGRTMIN+1".."SIGRTMIN+30" (glibc's
 * numbering, as kill -l), 0, 32, 33 as "SIG<n>", others "SIGUNKNOWN". */
const char *job_signal_name(int sig);

/* A JSON string from bytes that may not be UTF-8: each maximal subpart of
 * an ill-formed sequence (Unicode ch. 3, WHATWG) becomes one U+FFFD and NUL
 * bytes are kept (dumped as \u0000). Borrows data (NULL only with len 0).
 * New reference (caller decrefs); NULL on ENOMEM. Linear time. */
json_t *job_json_bytes(const char *data, size_t len);

/* The result object of a step, as above, keys in this order: verdict,
 * exitCode, signal, timeMs, wallTimeMs, memoryKb, stdout, stderr,
 * stdoutTruncated, stderrTruncated, then "cached" (compile steps only), then
 * "error" (job_error_sentence, null for ok), then "message" (internal_error
 * only). Borrows s. New reference (caller decrefs), NULL on ENOMEM. */
json_t *job_step_to_json(const struct job_step *s, bool is_compile);

/* Flags for dumping results: compact, UTF-8 (no \u escapes beyond the ones
 * JSON requires). jansson keeps insertion order in every dump, so no
 * JSON_PRESERVE_ORDER or JSON_SORT_KEYS: the order above is the wire order. */
#define JOB_JSON_DUMP_FLAGS JSON_COMPACT

/* ---- judging an output (judge.c) ---- */

/* How a run's stdout is compared with the expected output: exact bytes;
 * trim (Judge0's rule: each line and then the whole text right-trimmed);
 * tokens (the same whitespace-separated tokens); float (tokens, numbers
 * within a tolerance). */
enum job_compare {
    JOB_COMPARE_EXACT,
    JOB_COMPARE_TRIM,
    JOB_COMPARE_TOKENS,
    JOB_COMPARE_FLOAT,
    JOB_COMPARE_MAX_,
};
/* "exact", "trim", "tokens", "float"; NULL out of range. */
const char *job_compare_name(enum job_compare c);
/* -EINVAL when unknown or NULL; *out written only on success. */
int job_compare_parse(const char *name, enum job_compare *out);

struct job_compare_opts {
    enum job_compare mode;
    /* float: two numbers match when |got - want| <= abs_tol or
     * <= rel_tol * |want| (both >= 0) */
    double abs_tol, rel_tol;
};

/* Whether got matches want under o. Any bytes (NULL only with length 0);
 * linear time, no allocation. */
bool job_output_matches(const char *got, size_t got_len, const char *want, size_t want_len,
                        const struct job_compare_opts *o);
/* Judges step s (a run) against want: only a step that ended ok is judged
 * (a crash keeps its verdict); its verdict becomes on_match (ok for a job's
 * run, accepted for a test) or wrong_answer. */
void job_step_judge(struct job_step *s, const char *want, size_t want_len,
                    const struct job_compare_opts *o, enum job_verdict on_match);

/* ---- the job: what was asked, where it is, what came of it ---- */

#include "moat/config.h"
#include "moat/util.h"

enum job_status {
    JOB_STATUS_QUEUED,
    JOB_STATUS_RUNNING,
    JOB_STATUS_COMPLETED, /* the program ran, whatever its verdict */
    JOB_STATUS_FAILED,    /* moat could not run it after its retries */
    JOB_STATUS_CANCELLED,
    JOB_STATUS_MAX_,
};

/* "queued", ...; NULL when out of range. Static storage. */
const char *job_status_name(enum job_status s);
/* -EINVAL when unknown; *out written only on success. */
int job_status_parse(const char *name, enum job_status *out);
/* completed, failed and cancelled are final: nothing changes them again. */
bool job_status_final(enum job_status s);

/* One source file of a job. */
struct job_file {
    char *name; /* NULL for the entry of a single-file program (the language's
                   rule names it: main.py, Main.java, ...) */
    char *data; /* may hold any bytes */
    size_t len;
};

#define JOB_PRIORITY_MIN 0
#define JOB_PRIORITY_MAX 10
#define JOB_PRIORITY_DEFAULT 5

/*
 * One test case of a job: the program is compiled once, then each test
 * runs in a box of its own with its stdin (and args, limits) and, when
 * judged, is compared with its expected output. Owns its members.
 */
struct job_test {
    char *stdin_data;
    size_t stdin_len;
    char **args; /* NULL: the job's */
    size_t nargs;
    bool judged;
    char *expected; /* NULL when not read */
    size_t expected_len;
    uint64_t time_ms;   /* CPU limit; 0: the job's */
    uint64_t memory_mb; /* 0: the job's */
    struct job_step result; /* verdict NONE until it ran */
};
void job_test_release(struct job_test *t);



/*
 * The webhook of a job (callbackUrl; Judge0's callback_url): where its
 * final job is delivered, in which shape, and how the delivery stands. A
 * plain value (no pointers), so that a job copied by value carries it.
 */
#define JOB_CALLBACK_URL_MAX 2048 /* bytes of a URL, the common browser bound */
#define JOB_CALLBACK_ERROR_MAX 255

/* How the final job is delivered: the method and the body's shape. Names
 * are stored in the store's rows: they never change once published. */
enum job_callback_shape {
    JOB_CALLBACK_NATIVE, /* POST, the job as GET /v1/jobs/{id} shows it */
    JOB_CALLBACK_JUDGE0, /* PUT, the Judge0 CE submission */
    JOB_CALLBACK_SHAPE_MAX_,
};
enum job_callback_status {
    JOB_CALLBACK_NONE, /* no callback */
    JOB_CALLBACK_PENDING,
    JOB_CALLBACK_DELIVERED,
    JOB_CALLBACK_FAILED,
    JOB_CALLBACK_STATUS_MAX_,
};
struct job_callback {
    char url[JOB_CALLBACK_URL_MAX + 1]; /* "" = none */
    enum job_callback_shape shape;
    enum job_callback_status status;
    uint32_t attempts;    /* delivery attempts started */
    int64_t delivered_ms; /* Unix ms; 0 = not delivered */
    int64_t next_ms;      /* a pending delivery is due then (0 = when final) */
    char last_error[JOB_CALLBACK_ERROR_MAX + 1]; /* "" = none */
};
/* "native", "judge0" / "pending", "delivered", "failed"; NULL out of range
 * (and for JOB_CALLBACK_NONE). Static storage. */
const char *job_callback_shape_name(enum job_callback_shape s);
const char *job_callback_status_name(enum job_callback_status s);
/* -EINVAL when unknown or NULL; *out written only on success. */
int job_callback_shape_parse(const char *name, enum job_callback_shape *out);
int job_callback_status_parse(const char *name, enum job_callback_status *out);

/*
 * A job as the store keeps it and the API shows it. Every pointer member is
 * owned by the struct (job_release frees them). Text members are
 * NUL-terminated; data members may hold NULs (their _len says how long).
 */
struct job {
    char id[MOAT_UUID_LEN + 1]; /* UUIDv7 */
    enum job_status status;
    char language[32];          /* canonical name in languages.ini ("python") */
    char language_given[32];    /* as the client wrote it ("py", "c++") */
    char version[64];           /* the language's version when accepted */
    int priority;               /* JOB_PRIORITY_MIN..MAX; higher runs sooner */
    struct moat_limits limits;  /* the run step's, checked against the maxima */
    struct job_file *files;     /* files[0] is the entry point; nfiles >= 1 */
    size_t nfiles;
    char *stdin_data;
    size_t stdin_len;
    char **args;
    size_t nargs;
    bool judged;                /* the run's stdout is compared with expected */
    char *expected;             /* its expected stdout (bytes); NULL when not read */
    size_t expected_len;
    struct job_compare_opts compare; /* how stdout (or each test's) is judged: set when
                                        judged or when there are tests */
    struct job_test *tests;     /* tests[0..ntests): then run is their summary */
    size_t ntests;
    bool stop_on_failure;       /* tests after a failed one are skipped */
    char *metadata_json;        /* compact JSON object text; NULL = {} */
    char *tags_json;            /* compact JSON array text; NULL = [] */
    uint32_t attempts;          /* runs started (a crash mid-run counts one) */
    int64_t created_ms;         /* Unix ms; 0 = not yet */
    int64_t started_ms;
    int64_t finished_ms;
    char code_hash[MOAT_SHA256_HEX_LEN + 1];   /* of the code blob (job_code_blob) */
    char output_hash[MOAT_SHA256_HEX_LEN + 1]; /* of the run step's stdout; "" until finished */
    /* The result: meaningful once status is final. A failed job has the
     * last internal_error in run (its message says what went wrong). */
    bool compiled;              /* compile holds the compile step */
    struct job_step compile;
    struct job_step run;
    struct job_callback callback; /* url "" = none */
};

/* Frees every owned member and zeroes the struct; accepts NULL. */
void job_release(struct job *j);

/*
 * A job's tests as JSON (tests.c): with results false what each asks (a
 * JSON array of {stdin, args, expected, time, memory}, bytes in base64),
 * with results true what each gave (an array of steps). New reference,
 * NULL on ENOMEM. The inverse fills j->tests (results false; j has none
 * yet) or each test's result (results true; as many as j->ntests): 0,
 * -EINVAL for anything else, -ENOMEM; what it filled is released with j.
 * _encode/_decode: the same as compact text (caller frees *out).
 */
json_t *job_tests_json(const struct job *j, bool results);
int job_tests_from_json(json_t *a, struct job *j, bool results);
int job_tests_encode(const struct job *j, bool results, char **out, size_t *len);
int job_tests_decode(const char *text, size_t len, struct job *j, bool results);

/* A deep copy of what was asked (id, status, language, limits, files,
 * stdin, args, expected output and its comparison, metadata, tags, times,
 * hashes, attempts); the result steps
 * are not copied. *dst is overwritten (release it first); on failure it is
 * left empty. -ENOMEM. */
int job_copy_request(struct job *dst, const struct job *src);

/*
 * The code blob of a job (stored under "jobs/{id}/code.bin"): the source
 * itself when the job is one unnamed file (so seed 000's codeHash is the
 * SHA-256 of its code), else a JSON array [{"name","content"}] with content
 * base64. Caller frees *out. -ENOMEM.
 */
int job_code_blob(const struct job *j, char **out, size_t *len);
/* codeHash: the SHA-256 (hex) of the code blob, into out, without copying
 * a single file's source. -EINVAL (no files), -ENOMEM. */
int job_code_hash(const struct job *j, char out[MOAT_SHA256_HEX_LEN + 1]);
/* The inverse: fills j->files/nfiles from a blob made by job_code_blob.
 * single says which form it is (j's store record knows). -EINVAL, -ENOMEM. */
int job_code_from_blob(struct job *j, const char *blob, size_t len, bool single);

/*
 * The job between nodes (wire.c): every field of j in one JSON object, the
 * bytes (files, stdin, outputs) in base64, the steps too with with_result.
 * A copy a node hands another so that it need not read the store (a queue
 * message's accepted job, a final event's job); the store stays the truth.
 * NULL when the byte fields alone would pass max bytes (nothing is built
 * then) or on ENOMEM. Borrows j; new reference.
 */
json_t *job_wire_json(const struct job *j, bool with_result, size_t max);
/* The same as compact text in *out (caller frees), *len bytes: -E2BIG when
 * longer than max, -ENOMEM. */
int job_wire_encode(const struct job *j, bool with_result, size_t max, char **out, size_t *len);
/* The inverse, into *out (overwritten; release it after): -EINVAL for
 * anything but the shape above (another version, a bad field), -ENOMEM.
 * The steps are read when the object has them. *out is written only on
 * success. Borrows o. */
int job_wire_from_json(json_t *o, struct job *out);
int job_wire_decode(const char *text, size_t len, struct job *out);

/* Blob keys of API.md: "jobs/{id}/code.bin", "jobs/{id}/output.log". */
#define JOB_CODE_KEY_FMT "jobs/%s/code.bin"
#define JOB_OUTPUT_KEY_FMT "jobs/%s/output.log"
