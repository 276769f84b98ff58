#pragma once
/*
 * config: moat.ini < MOAT_* environment < command-line flags, merged into one
 * validated, immutable struct moat_config. Every limit, default and maximum
 * of moat is named in the settings table (src/config/settings.c) and nowhere
 * else; `moat serve --help` and docs/configuration.md are generated from it.
 * Every function here is reentrant: no state beyond the caller's structs.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct moat_err;

/* Limits of one step as a user may ask for them (API units). */
struct moat_limits {
    uint64_t time_ms;      /* CPU time, summed over every process and thread */
    uint64_t wall_time_ms; /* 0 = derived: 2 * time_ms + 1000 */
    uint64_t memory_mb;
    uint64_t max_processes; /* processes and threads together */
    uint64_t max_output_kb; /* per stream */
    uint64_t max_file_kb;   /* largest file the program may write */
    uint64_t max_open_files;
    uint64_t stack_kb;
};

struct moat_config {
    /* run-step defaults and the server's maxima for what a request may ask */
    struct moat_limits limits;
    struct moat_limits max_limits;
    /* compile steps run with these (languages.ini may raise them per language) */
    struct moat_limits compile_limits;

    /* sandbox */
    uint64_t first_uid; /* host uids first_uid .. first_uid+uid_count-1 are the boxes' */
    uint64_t uid_count;
    char run_dir[256];     /* uid leases, the box root mount point */
    char cgroup_name[64];  /* parent cgroup of the boxes, in every hierarchy */
    char cgroup_parent[192]; /* where it is made: "", "self" or "/a/b" */
    uint64_t box_tmpfs_mb; /* size of /box */
    uint64_t tmp_tmpfs_mb; /* size of /tmp and of /dev/shm */
    bool landlock;
    bool mount_template;
    uint64_t warm_boxes;   /* boxes kept by the pool; 0 = as many as workers */
    uint64_t netns_pool;   /* network namespaces kept ready */
    uint64_t spawner_nice; /* nice value boxes are prepared and torn down at */
    bool reuse_cgroups;          /* a box slot's cgroups serve its next box */
    bool reuse_netns;            /* a box's network namespace serves a later box */
    uint64_t cgroup_residual_kb; /* most memory a reused cgroup may still hold */

    /* languages */
    char languages_file[256];
    char policy_file[256]; /* source policies (lang_registry_load_policy); "" none */
    char cache_dir[256]; /* precompiled headers, version probe cache */

    /* service (moat serve) */
    char listen[128];
    char data_dir[256];
    uint64_t workers; /* 0 = number of CPUs */
    uint64_t max_queue;
    uint64_t max_wait_ms;
    uint64_t stop_grace_ms; /* then running jobs are stopped, left for recovery */
    uint64_t retry_attempts;
    uint64_t retry_base_ms;
    uint64_t retry_factor;
    uint64_t max_body_kb;
    uint64_t max_code_kb;
    uint64_t max_stdin_kb;
    uint64_t max_tests; /* test cases of one job */
    /* Judge0's additional_files (a zip): bytes unpacked, and entries */
    uint64_t additional_files_max_kb;
    uint64_t additional_files_max_entries;
    uint64_t max_batch; /* submissions of one Judge0 batch, tokens of one batch read */
    uint64_t compile_cache_mb;
    bool no_exec;
    uint64_t http_threads; /* 0 = number of CPUs */
    uint64_t max_connections;
    uint64_t connection_memory_kb;
    uint64_t connection_timeout_s;
    uint64_t request_timeout_s;      /* a request's head and body arrive within */
    uint64_t max_connections_per_ip; /* 0 = no limit */
    uint64_t connection_reserve;     /* slots slow requests may not take */
    uint64_t max_refused_body_mb;    /* read and dropped so a refusal is heard */
    uint64_t max_inline_output_kb;   /* of each stream in a job's JSON */
    char store[512];                 /* "sqlite", or a postgres:// URL */
    char queue[512];                 /* "local", or nats://HOST:PORT[,nats://...] */
    char node[64];                   /* this node's name; "" = the host name */

    /* cluster (PostgreSQL, NATS JetStream) */
    uint64_t store_connections; /* PostgreSQL connections of this node */
    uint64_t store_wait_ms;     /* a write waits this long for an unreachable database */
    uint64_t inline_job_kb;     /* a job this small travels in messages and events */
    uint64_t ack_wait_s;        /* a taker silent this long loses its job */
    uint64_t max_deliveries;    /* deliveries of one job before it fails */
    char stream[64];            /* the JetStream stream of jobs */
    uint64_t stream_replicas;
    uint64_t duplicate_window_s; /* a job id published twice within it is one job */
    uint64_t reconcile_s;        /* queued jobs without a message are published again */
    char subject_prefix[32];     /* of moat's own NATS subjects */
    bool nats_api;               /* serve the NATS request/reply subjects */

    /* webhooks (callbackUrl): delivery of final jobs */
    char webhook_secret[256];    /* HMAC-SHA256 key of Moat-Signature; "" = unsigned */
    char webhook_allow[512];     /* CIDRs a callback may reach despite the refused ranges */
    uint64_t webhook_attempts;   /* delivery attempts before it fails */
    uint64_t webhook_timeout_ms; /* one attempt, connect to last byte */
    uint64_t webhook_backoff_ms; /* first retry after this, doubling, with jitter */
    uint64_t webhook_max_backoff_ms;
    uint64_t webhook_poll_ms;         /* how often the store is asked for due deliveries */
    uint64_t webhook_workers;         /* deliveries in flight at once */
    uint64_t webhook_max_response_kb; /* of a receiver's answer, read then dropped */

    /* auth: API keys, quotas, idempotency, CORS */
    bool require_keys;          /* on loopback too */
    bool allow_anonymous;       /* requests without a key, whatever the address */
    uint64_t keys_reload_ms;    /* the key cache is read again this often */
    uint64_t max_keys;          /* keys held in memory */
    uint64_t idempotency_hours; /* an Idempotency-Key's answer is kept */
    char cors_origins[512];     /* comma-separated; "" = no CORS */
    uint64_t cors_max_age_s;

    char log_level[16];
};

/* Where a setting may come from, for `moat ... --help` and error messages. */
enum config_scope {
    CONFIG_SCOPE_RUN = 1 << 0,   /* moat run */
    CONFIG_SCOPE_SERVE = 1 << 1, /* moat serve, moat worker */
};

/*
 * Fills cfg with the defaults, then the ini file (ini_path, else $MOAT_CONFIG
 * from envp, else ./moat.ini when present; a missing default file is not an
 * error, a missing named one is), then the MOAT_* variables of envp (NULL =
 * none; unknown MOAT_* names are ignored, bad values of known ones are not).
 * Flags are applied with config_set afterwards and config_validate last.
 * Borrows everything; writes *cfg only on success. Returns 0 or -errno with
 * err naming the setting (err->field = its key, "limits.time_ms") and where
 * the bad value came from ("moat.ini:3", "MOAT_TIME_LIMIT").
 * -ENOENT for a missing named file, -EINVAL/-ERANGE for bad values,
 * -EFBIG for an ini file over 1 MiB, -EPERM for a world-writable one.
 * Thread-safe (no shared state).
 */
int config_load(struct moat_config *cfg, const char *ini_path, char *const *envp,
                struct moat_err *err);

/* The built-in defaults, nothing read. */
void config_defaults(struct moat_config *cfg);

/* Applies ini text (a whole moat.ini) on top of cfg; origin names it in
 * messages ("moat.ini"). Unknown sections and keys, a key given twice, a line
 * over 197 characters and syntax errors fail with origin:line. cfg may be
 * partly updated on failure. Borrows text and origin. */
int config_apply_ini(struct moat_config *cfg, const char *text, const char *origin,
                     struct moat_err *err);

/* Applies the MOAT_* entries ("NAME=value") of envp (may be NULL) on top of cfg.
 * cfg may be partly updated on failure. */
int config_apply_env(struct moat_config *cfg, char *const *envp, struct moat_err *err);

/* Applies one setting by its flag name ("time-limit") or its key
 * ("limits.time_ms"); value NULL means "true" for a boolean and is an error
 * for any other. -ENOENT when no such setting, -EINVAL/-ERANGE for a bad
 * value (cfg unchanged). Borrows name and value. */
int config_set(struct moat_config *cfg, const char *name, const char *value, struct moat_err *err);

/* Finds a setting by flag name or key, for the command-line parser: 0 with
 * *scope (enum config_scope bits) and *is_bool (a flag that may stand without
 * a value) filled, or -ENOENT. Either output may be NULL. */
int config_lookup(const char *name, unsigned *scope, bool *is_bool);

/* Every setting within its own range, then the cross-field checks: each run
 * default within its maximum (limits.time_ms <= max_limits.time_ms, also the
 * derived wall time), max_code_kb and max_stdin_kb within max_body_kb, the
 * boxes (config_warm_boxes) within uid_count and not below the executors
 * (config_workers), connection_reserve below max_connections.
 * -EINVAL/-ERANGE with err->field the key. */
int config_validate(const struct moat_config *cfg, struct moat_err *err);

/* Prints the settings of scope (enum config_scope bits) as an aligned table:
 * flag, environment variable, default, range, description (for --help). */
void config_print_help(FILE *out, unsigned scope);

/* Prints docs/configuration.md (every setting, by ini section). */
void config_print_markdown(FILE *out);

/* Prints moat.ini.example: every section and key, commented out, with its
 * default and description. */
void config_print_ini_example(FILE *out);

/* The keys ("section.name") whose values differ between a and b, in the
 * table's order: up to max of them in keys (static strings); returns how
 * many differ (may exceed max). */
size_t config_changed(const struct moat_config *a, const struct moat_config *b,
                      const char **keys, size_t max);

/* Prints the manual page file ("moat.ini.5", "moat-run.1", "moat-serve.1",
 * "moat-worker.1"; config_man_page(i) names the i-th, NULL past the last)
 * in roff: the settings from the table, a short description. 0, or
 * -ENOENT for another name. */
int config_print_man(FILE *out, const char *file);
const char *config_man_page(size_t i);

/* Effective wall limit: wall_time_ms, or 2 * time_ms + 1000 when 0
 * (saturating). */
uint64_t config_wall_ms(const struct moat_limits *l);

/* The executors moat serve runs: workers, or the number of CPUs when 0. */
uint64_t config_workers(const struct moat_config *cfg);

/* The boxes the pool keeps: warm_boxes, or config_workers when 0 (each
 * executor holds a box while it runs a job: fewer would idle executors). */
uint64_t config_warm_boxes(const struct moat_config *cfg);

/* Whether cfg names the embedded store (SQLite in data_dir) / the
 * in-process queue, rather than PostgreSQL / NATS JetStream. */
bool config_store_embedded(const struct moat_config *cfg);
bool config_queue_local(const struct moat_config *cfg);

/* url with any password replaced by "***", for logs: "postgres://moat:***@db/moat". */
void config_redact_url(const char *url, char *out, size_t outsz);

/* Checks a requested limit set against the maxima: -ERANGE above a maximum
 * ("timeoutMs must be at most 10000"), -EINVAL below a minimum (a zero time,
 * memory, process or output limit), with err->field set to the API field name
 * at fault (timeoutMs, wallTimeoutMs, memoryMb, maxProcesses, maxOutputKb,
 * maxFileKb, maxOpenFiles, stackKb). wall_time_ms 0 means derived; a derived
 * wall time above the maximum is refused on wallTimeoutMs as well. */
int config_check_limits(const struct moat_config *cfg, const struct moat_limits *want,
                        struct moat_err *err);
