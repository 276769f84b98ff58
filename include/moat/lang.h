#pragma once
/*
 * lang: the language registry, read from languages.ini (inih). Adding a
 * language is a section of ini, no code. Commands are argv templates split on
 * whitespace (never a shell); placeholders are expanded per word:
 *   {main}     the entry file's name          {files}  every source file (several words)
 *   {class}    the entry's class (Java rule)  {memory_mb} the step's memory limit
 *   {cache}    the cache directory: /moat/cache inside the box, the host's
 *              cache_dir for the prepare command
 *   {output}   prepare only: the temporary file the prepare command writes
 * Templates are checked when the registry is loaded: an unknown placeholder,
 * {files} inside a longer word or a placeholder a key does not allow is an
 * error naming the line.
 *
 * A registry is immutable once loaded and may be read from any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"

struct moat_err;
struct lang_registry;

#define LANG_MAX_ALIASES 8
/* Judge0 CE language ids of one language, and the largest id */
#define LANG_MAX_JUDGE0_IDS 8
#define LANG_JUDGE0_ID_MAX 999
#define LANG_MAX_ENV 16
#define LANG_MAX_ARGV 64
#define LANG_MAX_LANGS 64          /* sections in one languages.ini */
#define LANG_MAX_ARGV_BYTES 65536  /* total size of one expanded argv */
#define LANG_BOX_CACHE_DIR "/moat/cache"
/* moat's own files in a box: a job's files may not start so */
#define LANG_RESERVED_PREFIX ".moat-"
#define LANG_CHECKER_FILE LANG_RESERVED_PREFIX "check"
#define LANG_RULES_FILE LANG_RESERVED_PREFIX "rules"
/* A policy check exits with this when the source breaks a rule, and prints
 * "FILE:LINE<TAB>RULE<TAB>message" first. */
#define LANG_CHECK_VIOLATION 3

struct lang {
    char name[32];
    char display[64];                      /* "Python 3" */
    char aliases[LANG_MAX_ALIASES][32];
    size_t naliases;
    char extensions[LANG_MAX_ALIASES][16]; /* ".py" */
    size_t nextensions;
    /* The Judge0 CE language ids that name this language, whatever version
     * Judge0 pinned (C: 48, 49, 50): a Judge0 client's language_id. Unique
     * across the registry. */
    unsigned judge0_ids[LANG_MAX_JUDGE0_IDS];
    size_t njudge0_ids;
    char source[64];       /* entry file name, may use {class}: "{class}.java" */
    char class_rule[32];   /* "java": class name from `public class X` */
    char compile[1024];    /* argv template, "" when interpreted */
    char run[1024];        /* argv template; user args are appended */
    char version_cmd[256]; /* host command whose first output line holds the version */
    char prepare[1024];    /* host command run once into {cache} (e.g. a PCH), "" for none */
    char prepare_output[256]; /* file under the cache dir that prepare creates */
    char env[LANG_MAX_ENV][256]; /* NAME=value added to the base environment */
    size_t nenv;
    /* compile-step limits; 0 = the configured compile default */
    struct moat_limits compile_limits;
    /* extra minimum for the run step (e.g. the JVM needs 40 threads); 0 = none */
    uint64_t min_processes;
    uint64_t min_memory_mb;
    /* The source policy check (lang_registry_load_policy): check is the
     * argv template of the step run before all others, in the same box,
     * with the sources on stdin (lang_policy_stdin) and, in the box's
     * directory, the checker's code as LANG_CHECKER_FILE and the rules as
     * LANG_RULES_FILE; checker names that code (lang_checker_source).
     * policy holds the rules ("key=value" lines) once a policy file gives
     * some for this language; "" = no check. */
    char check[256];
    char checker[16];
    char policy[2048];
    /* set by lang_registry_probe: lang_version and lang_available answer
     * from here, without forking or touching the file system, from any
     * thread (a submission asks both) */
    bool version_probed;
    char version[64];  /* "" when the probe found none */
    bool available;    /* lang_available's answer at the probe */
};

/* Loads the registry from an ini file (at most 1 MiB). On success *out is
 * a new registry the caller frees with lang_registry_free. -errno with err
 * naming the line and key: -EINVAL for any error of content (unknown key,
 * missing run, duplicate name or alias, bad template, a value longer than
 * its field, a line longer than 199 bytes), -ENOENT/-EACCES... for the file,
 * -EFBIG when too large, -ENOMEM. *out is untouched on failure. */
int lang_registry_load(const char *path, struct lang_registry **out, struct moat_err *err);
/* Same from a buffer of len bytes (borrowed; no NUL needed; an embedded NUL
 * is an error). For tests and fuzzing. */
int lang_registry_parse(const char *text, size_t len, struct lang_registry **out,
                        struct moat_err *err);
/* NULL ok. */
void lang_registry_free(struct lang_registry *reg);

/*
 * Reads the source policy file at path (an ini file, at most 64 KiB): one
 * section per language (its name), each key a rule its checker knows
 * (forbid_imports, forbid_calls, forbid_attributes for Python;
 * forbid_includes for C and C++) with a comma-separated list of names.
 * Each language named gets its rules in lang->policy. Before the registry
 * is shared (not thread-safe). -EINVAL with err naming the line for an
 * unknown language, a language without a check command, a bad rule name or
 * value; -errno for the file.
 */
int lang_registry_load_policy(struct lang_registry *reg, const char *path, struct moat_err *err);
/* The checker code of name ("python", "c"), built into moat; NULL when
 * unknown. */
const char *lang_checker_source(const char *name, size_t *len);
/* The sources as a policy check reads them on stdin: for each, its name,
 * a newline, its length in decimal, a newline, its bytes. Caller frees
 * *out. -ENOMEM, -E2BIG. */
int lang_policy_stdin(const char *const *names, const char *const *data, const size_t *lens,
                      size_t n, char **out, size_t *outlen);

/* Lookups return pointers borrowed from reg, valid until it is freed. */
size_t lang_count(const struct lang_registry *reg);
/* In file order; NULL when i >= lang_count. */
const struct lang *lang_at(const struct lang_registry *reg, size_t i);
/* By name or alias, case-insensitive; NULL when unknown. */
const struct lang *lang_find(const struct lang_registry *reg, const char *name);
/* By one of its Judge0 CE ids; NULL when no language has it. */
const struct lang *lang_find_judge0(const struct lang_registry *reg, unsigned id);
/* By the file name's extension (".cpp" -> C++), case-insensitive, the
 * longest matching extension winning; NULL when unknown. */
const struct lang *lang_for_file(const struct lang_registry *reg, const char *filename);

static inline bool lang_compiled(const struct lang *l)
{
    return l->compile[0] != '\0';
}

/* Name of the entry file for this source (code: len bytes, borrowed, no NUL
 * needed): the template in l->source with {class} derived from the code by
 * the language's class rule. Java rule: the first top-level `public class`
 * (also interface, enum, record; modifiers, annotations, generics, comments,
 * string and text-block literals are understood), else the first top-level
 * class, else "Main". The result always matches [A-Za-z0-9_.-]+.
 * -EINVAL when the class name found has other characters (e.g. `$` or
 * non-ASCII letters), -ENAMETOOLONG when it does not fit outsz. Thread-safe. */
int lang_entry_name(const struct lang *l, const char *code, size_t len, char *out,
                    size_t outsz, struct moat_err *err);

/* Values for the placeholders of one step (all borrowed). A placeholder whose
 * value is NULL makes lang_expand fail with -EINVAL, except cache, which
 * defaults to LANG_BOX_CACHE_DIR. */
struct lang_vars {
    const char *main;
    const char *const *files;
    size_t nfiles;
    const char *class_name;
    uint64_t memory_mb;
    const char *cache;  /* NULL = LANG_BOX_CACHE_DIR; the host dir for prepare */
    const char *output; /* {output} of the prepare command */
};

/* Expands a command template into a NULL-terminated argv. On success
 * *storage is one allocation holding both the pointer array and the words;
 * *argv_out points into it and the caller frees only *storage. Returns the
 * number of words. -E2BIG beyond LANG_MAX_ARGV words or LANG_MAX_ARGV_BYTES;
 * -EINVAL for an empty template, an unknown placeholder, {files} inside a
 * longer word, a missing value, or a {main}/{files}/{class} value that is
 * empty or starts with '-' (it would be read as an option); -ENOMEM.
 * Outputs are untouched on failure. Thread-safe. */
int lang_expand(const char *tmpl, const struct lang_vars *vars, char ***argv_out,
                char **storage, struct moat_err *err);

/* Version of a language on this host, e.g. "3.11.2": the first dotted number
 * of the first output line (stdout and stderr) of version_cmd that has one.
 * The probe runs the host binary with PATH=/usr/bin:/bin only, stdin
 * /dev/null, a 10 s timeout and 4 KiB of output; its result is cached in
 * <cache_dir>/versions/<name> keyed by the command and the binary's mtime
 * and size (an unwritable cache dir means probing every time; cache_dir may
 * be NULL). Returns 0 with out set, or -errno with out = "": -ENOENT binary
 * missing, -ETIMEDOUT, -ENODATA no version in the output or no version_cmd,
 * -EIO the probe failed, -ENAMETOOLONG out too small.
 * Not thread-safe (forks): call at start-up, or after lang_registry_probe,
 * which makes it a copy of the probed version (thread-safe). */
int lang_version(const struct lang *l, const char *cache_dir, char *out, size_t outsz);

/* Probes the version of every available language of reg once and keeps it
 * in the registry (a service calls it before it starts threads). */
void lang_registry_probe(struct lang_registry *reg, const char *cache_dir);

/* Whether this host can run the language: the first word of run (and of
 * compile, if any), when an absolute path, is an executable file. After
 * lang_registry_probe, the probe's answer (a server checks its interpreters
 * once at start, as it probes their versions). */
bool lang_available(const struct lang *l);

/* Runs the language's prepare command once, so that
 * <cache_dir>/<prepare_output> exists. The command writes to {output}, a
 * temporary name beside the final one, which is renamed into place only when
 * the command succeeded: the final file never appears incomplete. Concurrent
 * callers (also other processes) serialize on an flock of
 * <prepare_output>.lock and only the first one builds. Parent directories are
 * created 0755 and the artifact made 0644 so that boxes can read it. Timeout
 * 120 s. Returns 0 when there was nothing to do (no prepare command, or the
 * file exists), 1 when it was built now, -errno with err (the command's
 * first output line when it failed). Not thread-safe (forks). */
int lang_prepare(const struct lang *l, const char *cache_dir, struct moat_err *err);
