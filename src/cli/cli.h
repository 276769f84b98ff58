#pragma once
/* Subcommands of the moat binary; each returns the process exit code. */
#include <jansson.h>

#include "moat/config.h"
#include "moat/lang.h"
#include "moat/util.h"

struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

int cli_run(int argc, char **argv);
int cli_doctor(int argc, char **argv);
int cli_languages(int argc, char **argv);
int cli_bench(int argc, char **argv);
/* In moat-server, the binary that links the service's libraries. */
int cli_serve(int argc, char **argv);
int cli_worker(int argc, char **argv);
int cli_submit(int argc, char **argv);
int cli_keys(int argc, char **argv); /* moat keys add|list|revoke */
/* In moat: runs argv on moat-server (beside this binary); returns only on
 * failure. */
int cli_exec_server(int argc, char **argv);

/* Exit code for bad arguments: nothing was run. */
#define CLI_EXIT_USAGE 2

/*
 * Command-line parsing shared by the subcommands: options of the command
 * itself are offered to `own` first (it returns 1 when it took the option
 * and its value, 0 when it took the option alone, -1 when it is not its);
 * everything else must be a setting of the configuration (config_lookup) in
 * `scope`. Arguments that are not options go to `positional`, and after
 * "--" to `rest`. Returns 0, or CLI_EXIT_USAGE after printing why.
 */
struct cli_parse {
    const char *cmd;
    unsigned scope;
    int (*own)(void *arg, const char *name, const char *value);
    void *arg;
    const char **positional;
    size_t npositional, maxpositional;
    char **rest;
    size_t nrest;
};
int cli_parse_args(int argc, char **argv, struct moat_config *cfg, struct cli_parse *p);

/* Loads the defaults, the ini file (--config FILE, else $MOAT_CONFIG, else
 * ./moat.ini when present) and the MOAT_* environment. */
int cli_load_config(struct moat_config *cfg, int argc, char **argv);

/* The language registry: the configured file, else languages.ini beside the
 * binary, else /etc/moat/languages.ini, else <binary's dir>/../share/moat/
 * languages.ini (an installed package). Prints why on failure. */
int cli_load_languages(const struct moat_config *cfg, struct lang_registry **out);

/* Reads a whole file (or stdin for "-") of at most max bytes; caller frees. */
int cli_read_file(const char *path, size_t max, char **data, size_t *len);

/* ---- what a server says of itself (about.c) ---- */
/* GET /v1/version's body: {version, commit, variant, runsBoxes, kernel:
 * {release, cgroupVersion, userNamespaces, seccomp, landlockAbi,
 * timeNamespaces, pidfd, cloneIntoCgroup, kernelMemoryAccounting}}.
 * Caller frees; NULL on ENOMEM. */
char *cli_about_json(bool runs_boxes);

/* ---- the service manager (sd-notify.c) ---- */
/* Sends the state lines (printf-style, e.g. "READY=1\nSTATUS=...") to
 * $NOTIFY_SOCKET; nothing without it. Never fails loudly. */
__attribute__((format(printf, 1, 2))) void cli_sd_notify(const char *fmt, ...);
/* CLOCK_MONOTONIC in microseconds, as RELOADING=1's MONOTONIC_USEC wants. */
uint64_t cli_monotonic_usec(void);

/* ---- moat submit --tests DIR (tests-dir.c) ---- */
/* DIR's test cases: each N.in (at most max_in bytes) as a test's stdin,
 * with N.out (at most max_out) as its expectedOutput when there is one, in
 * the order of N; *tests a JSON array, *names their N (caller frees each
 * and the array). 0, or -errno after saying why on stderr. */
int cli_tests_read(const char *dir, size_t max_tests, size_t max_in, size_t max_out,
                   json_t **tests, char ***names, size_t *n);
/* Prints the table of a final job's tests; returns the exit code: 0 all
 * passed, 1 compile error, 4 a test failed, 125 moat failed. */
int cli_tests_print(json_t *job, char *const *names, size_t n);

/* The lean `moat` beside the running binary (moat-asan beside a -asan
 * one), which a pool's spawner re-executes; "" when there is none (the
 * spawner then stays a fork of this process). */
void cli_lean_binary(char *out, size_t outsz);
