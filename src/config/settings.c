/*
 * The settings table: every limit, default and maximum of moat, once.
 *
 * Conventions, checked by the unit tests: the key is section.name; the
 * environment variable is MOAT_ and the flag in upper snake case; the range of
 * a [limits] or [compile] value is the hard bound of its [max_limits]
 * counterpart, and config_validate keeps each run default within the
 * configured maximum.
 */
#include "config-internal.h"

#define RUN CONFIG_SCOPE_RUN
#define SERVE CONFIG_SCOPE_SERVE
#define BOTH (CONFIG_SCOPE_RUN | CONFIG_SCOPE_SERVE)

#define KEY(sec, nm) .section = #sec, .name = #nm, .key = #sec "." #nm

/* clang-format off */
/* _Generic makes a row whose type does not match its field fail to compile. */
#define CFG_PTR ((struct moat_config *)0)
#define U64(f)                                                                             \
    .type = CONFIG_U64,                                                                    \
    .offset = _Generic(CFG_PTR->f, uint64_t: offsetof(struct moat_config, f)),             \
    .size = sizeof(uint64_t)
#define BOOL(f)                                                                            \
    .type = CONFIG_BOOL,                                                                   \
    .offset = _Generic(CFG_PTR->f, bool: offsetof(struct moat_config, f)),                 \
    .size = sizeof(bool)
#define TEXT(f)                                                                            \
    .type = CONFIG_STRING,                                                                 \
    .offset = _Generic(CFG_PTR->f, char *: offsetof(struct moat_config, f)),               \
    .size = sizeof(CFG_PTR->f)
/* clang-format on */

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

const struct config_section config_sections[] = {
    {"limits", "run-step defaults",
     "What a run step gets when the request (or `moat run`) does not say. A request may ask "
     "for other values up to the `[max_limits]`; the request field is named in each "
     "description."},
    {"max_limits", "the most a request may ask for",
     "A request asking for more is refused with 400 naming the field. The ranges are the hard "
     "bounds of moat itself."},
    {"compile", "compile-step limits",
     "Compile steps are not limited by the request. A language in `languages.ini` may raise "
     "them for itself."},
    {"sandbox", "the boxes",
     "Each concurrent box runs as a host uid of its own, taken from "
     "`first_uid .. first_uid + uid_count - 1`; no other user on the host should own those "
     "uids."},
    {"languages", "the language registry", ""},
    {"server", "the HTTP service", "Used by `moat serve` and `moat worker` only."},
    {"retry", "retries of infrastructure failures",
     "A job that moat could not run (never a failure of the program itself) is tried again "
     "after `base_ms * factor^(n-1)` ms, `attempts` times in all."},
    {"cluster", "PostgreSQL and NATS JetStream",
     "Used when `server.store` names PostgreSQL or `server.queue` names NATS: any number of API "
     "nodes (`moat serve`) and worker nodes (`moat worker`) share one database and one "
     "JetStream stream. See docs/cluster.md."},
    {"webhooks", "delivery of final jobs to callbackUrl",
     "A job submitted with a `callbackUrl` is delivered when it becomes final, signed with "
     "`secret`, retried with backoff. See docs/webhooks.md."},
    {"auth", "API keys, quotas, idempotency and CORS",
     "Keys are made with `moat keys add` and kept hashed in the store. They are required when "
     "`server.listen` is not a loopback address (the server refuses to start with none unless "
     "`allow_anonymous`), and on loopback once a key exists or with `require_keys`. See "
     "docs/http.md."},
    {"log", "logging", ""},
};
const size_t config_n_sections = MOAT_ARRAY_SIZE(config_sections);

const struct config_setting config_settings[] = {
    /* ---- [limits]: run-step defaults ---- */
    {KEY(limits, time_ms), .env = "MOAT_TIME_LIMIT", .flag = "time-limit", U64(limits.time_ms),
     .min = 1, .max = 600000, .def = 3000, .scope = BOTH, .api_field = "timeoutMs",
     .description = "CPU time in ms, all processes and threads together"},
    {KEY(limits, wall_time_ms), .env = "MOAT_WALL_TIME_LIMIT", .flag = "wall-time-limit",
     U64(limits.wall_time_ms), .min = 0, .max = 3600000, .def = 0, .scope = BOTH,
     .api_field = "wallTimeoutMs", .description = "wall-clock time in ms; 0 = 2 * time + 1000"},
    {KEY(limits, memory_mb), .env = "MOAT_MEMORY_LIMIT", .flag = "memory-limit",
     U64(limits.memory_mb), .min = 1, .max = 65536, .def = 128, .scope = BOTH,
     .api_field = "memoryMb", .description = "memory in MB, no swap"},
    {KEY(limits, max_processes), .env = "MOAT_MAX_PROCESSES", .flag = "max-processes",
     U64(limits.max_processes), .min = 1, .max = 4096, .def = 64, .scope = BOTH,
     .api_field = "maxProcesses", .description = "processes and threads at once"},
    {KEY(limits, max_output_kb), .env = "MOAT_MAX_OUTPUT", .flag = "max-output",
     U64(limits.max_output_kb), .min = 1, .max = 1048576, .def = 64, .scope = BOTH,
     .api_field = "maxOutputKb", .description = "output kept in KB, per stream"},
    {KEY(limits, max_file_kb), .env = "MOAT_MAX_FILE_SIZE", .flag = "max-file-size",
     U64(limits.max_file_kb), .min = 0, .max = 4194304, .def = 16384, .scope = BOTH,
     .api_field = "maxFileKb", .description = "largest file the program may write, KB"},
    {KEY(limits, max_open_files), .env = "MOAT_MAX_OPEN_FILES", .flag = "max-open-files",
     U64(limits.max_open_files), .min = 1, .max = 65536, .def = 256, .scope = BOTH,
     .api_field = "maxOpenFiles", .description = "open files per process"},
    {KEY(limits, stack_kb), .env = "MOAT_STACK_LIMIT", .flag = "stack-limit", U64(limits.stack_kb),
     .min = 1, .max = 4194304, .def = 65536, .scope = BOTH, .api_field = "stackKb",
     .description = "stack size in KB"},

    /* ---- [max_limits]: ceilings of what a request may ask ---- */
    {KEY(max_limits, time_ms), .env = "MOAT_MAX_TIME_LIMIT", .flag = "max-time-limit",
     U64(max_limits.time_ms), .min = 1, .max = 600000, .def = 10000, .scope = BOTH,
     .description = "most CPU time a run may ask for, ms"},
    {KEY(max_limits, wall_time_ms), .env = "MOAT_MAX_WALL_TIME_LIMIT",
     .flag = "max-wall-time-limit", U64(max_limits.wall_time_ms), .min = 1, .max = 3600000,
     .def = 60000, .scope = BOTH,
     .description = "most wall-clock time a run may ask for or derive, ms"},
    {KEY(max_limits, memory_mb), .env = "MOAT_MAX_MEMORY_LIMIT", .flag = "max-memory-limit",
     U64(max_limits.memory_mb), .min = 1, .max = 65536, .def = 1024, .scope = BOTH,
     .description = "most memory a run may ask for, MB"},
    {KEY(max_limits, max_processes), .env = "MOAT_MAX_PROCESSES_LIMIT",
     .flag = "max-processes-limit", U64(max_limits.max_processes), .min = 1, .max = 4096,
     .def = 256, .scope = BOTH, .description = "most processes and threads a run may ask for"},
    {KEY(max_limits, max_output_kb), .env = "MOAT_MAX_OUTPUT_LIMIT", .flag = "max-output-limit",
     U64(max_limits.max_output_kb), .min = 1, .max = 1048576, .def = 16384, .scope = BOTH,
     .description = "most output per stream a run may ask for, KB"},
    {KEY(max_limits, max_file_kb), .env = "MOAT_MAX_FILE_SIZE_LIMIT", .flag = "max-file-size-limit",
     U64(max_limits.max_file_kb), .min = 0, .max = 4194304, .def = 262144, .scope = BOTH,
     .description = "largest file size a run may ask for, KB"},
    {KEY(max_limits, max_open_files), .env = "MOAT_MAX_OPEN_FILES_LIMIT",
     .flag = "max-open-files-limit", U64(max_limits.max_open_files), .min = 1, .max = 65536,
     .def = 4096, .scope = BOTH, .description = "most open files a run may ask for"},
    {KEY(max_limits, stack_kb), .env = "MOAT_MAX_STACK_LIMIT", .flag = "max-stack-limit",
     U64(max_limits.stack_kb), .min = 1, .max = 4194304, .def = 1048576, .scope = BOTH,
     .description = "largest stack a run may ask for, KB"},

    /* ---- [compile]: compile-step limits ---- */
    {KEY(compile, time_ms), .env = "MOAT_COMPILE_TIME_LIMIT", .flag = "compile-time-limit",
     U64(compile_limits.time_ms), .min = 1, .max = 600000, .def = 10000, .scope = BOTH,
     .description = "CPU time of a compile step, ms"},
    {KEY(compile, wall_time_ms), .env = "MOAT_COMPILE_WALL_TIME_LIMIT",
     .flag = "compile-wall-time-limit", U64(compile_limits.wall_time_ms), .min = 0, .max = 3600000,
     .def = 20000, .scope = BOTH,
     .description = "wall-clock time of a compile step, ms; 0 = 2 * time + 1000"},
    {KEY(compile, memory_mb), .env = "MOAT_COMPILE_MEMORY_LIMIT", .flag = "compile-memory-limit",
     U64(compile_limits.memory_mb), .min = 1, .max = 65536, .def = 512, .scope = BOTH,
     .description = "memory of a compile step, MB"},
    {KEY(compile, max_processes), .env = "MOAT_COMPILE_MAX_PROCESSES",
     .flag = "compile-max-processes", U64(compile_limits.max_processes), .min = 1, .max = 4096,
     .def = 128, .scope = BOTH, .description = "processes and threads of a compile step"},
    {KEY(compile, max_output_kb), .env = "MOAT_COMPILE_MAX_OUTPUT", .flag = "compile-max-output",
     U64(compile_limits.max_output_kb), .min = 1, .max = 1048576, .def = 64, .scope = BOTH,
     .description = "compiler output kept per stream, KB"},
    {KEY(compile, max_file_kb), .env = "MOAT_COMPILE_MAX_FILE_SIZE",
     .flag = "compile-max-file-size", U64(compile_limits.max_file_kb), .min = 0, .max = 4194304,
     .def = 262144, .scope = BOTH, .description = "largest file a compiler may write, KB"},
    {KEY(compile, max_open_files), .env = "MOAT_COMPILE_MAX_OPEN_FILES",
     .flag = "compile-max-open-files", U64(compile_limits.max_open_files), .min = 1, .max = 65536,
     .def = 512, .scope = BOTH, .description = "open files per compiler process"},
    {KEY(compile, stack_kb), .env = "MOAT_COMPILE_STACK_LIMIT", .flag = "compile-stack-limit",
     U64(compile_limits.stack_kb), .min = 1, .max = 4194304, .def = 65536, .scope = BOTH,
     .description = "stack size of a compile step, KB"},

    /* ---- [sandbox] ---- */
    {KEY(sandbox, first_uid), .env = "MOAT_FIRST_UID", .flag = "first-uid", U64(first_uid),
     .min = 1000, .max = 4000000000, .def = 3000000, .scope = BOTH,
     .description = "first host uid given to boxes"},
    {KEY(sandbox, uid_count), .env = "MOAT_UID_COUNT", .flag = "uid-count", U64(uid_count),
     .min = 1, .max = 65536, .def = 1024, .scope = BOTH,
     .description = "host uids for boxes: the most boxes at once"},
    {KEY(sandbox, run_dir), .env = "MOAT_RUN_DIR", .flag = "run-dir", TEXT(run_dir),
     .def_text = "/run/moat", .rule = CONFIG_TEXT_ABS_PATH, .scope = BOTH,
     .description = "runtime state: uid leases, box mount points"},
    {KEY(sandbox, cgroup_name), .env = "MOAT_CGROUP_NAME", .flag = "cgroup-name", TEXT(cgroup_name),
     .def_text = "moat", .rule = CONFIG_TEXT_NAME, .scope = BOTH,
     .description = "parent cgroup of the boxes, in every hierarchy"},
    {KEY(sandbox, cgroup_parent), .env = "MOAT_CGROUP_PARENT", .flag = "cgroup-parent",
     TEXT(cgroup_parent), .def_text = "", .rule = CONFIG_TEXT_CGROUP, .scope = BOTH,
     .description = "group cgroup_name is made in: \"\" root, self (delegated), /path"},
    {KEY(sandbox, box_tmpfs_mb), .env = "MOAT_BOX_TMPFS_SIZE", .flag = "box-tmpfs-size",
     U64(box_tmpfs_mb), .min = 1, .max = 16384, .def = 64, .scope = BOTH,
     .description = "size of the writable /box, MB"},
    {KEY(sandbox, tmp_tmpfs_mb), .env = "MOAT_TMP_TMPFS_SIZE", .flag = "tmp-tmpfs-size",
     U64(tmp_tmpfs_mb), .min = 1, .max = 16384, .def = 64, .scope = BOTH,
     .description = "size of /tmp and of /dev/shm in a box, MB"},
    {KEY(sandbox, landlock), .env = "MOAT_LANDLOCK", .flag = "landlock", BOOL(landlock), .def = 1,
     .scope = BOTH, .description = "use Landlock where the kernel has it"},
    {KEY(sandbox, mount_template), .env = "MOAT_MOUNT_TEMPLATE", .flag = "mount-template",
     BOOL(mount_template), .def = 1, .scope = BOTH,
     .description = "build the read-only part of a box's root once and give each box of the "
                    "pool a copy of it; rebuilt when a host file it binds changes"},
    {KEY(sandbox, warm_boxes), .env = "MOAT_WARM_BOXES", .flag = "warm-boxes", U64(warm_boxes),
     .min = 0, .max = 1024, .def = 0, .scope = SERVE,
     .description = "boxes the pool keeps alive, busy or prepared for the next jobs; "
                    "0 = one per worker, and never fewer than workers"},
    {KEY(sandbox, netns_pool), .env = "MOAT_NETNS_POOL", .flag = "netns-pool", U64(netns_pool),
     .min = 0, .max = 1024, .def = 4, .scope = SERVE,
     .description = "empty network namespaces kept ready"},
    {KEY(sandbox, spawner_nice), .env = "MOAT_SPAWNER_NICE", .flag = "spawner-nice",
     U64(spawner_nice), .min = 0, .max = 19, .def = 10, .scope = SERVE,
     .description = "nice value at which boxes are prepared and torn down, so that running "
                    "jobs come first; a job's steps run at 0"},
    {KEY(sandbox, reuse_cgroups), .env = "MOAT_REUSE_CGROUPS", .flag = "reuse-cgroups",
     BOOL(reuse_cgroups), .def = 1, .scope = BOTH,
     .description = "a freed box's cgroups, emptied and reclaimed, serve the pool's next box"},
    {KEY(sandbox, reuse_netns), .env = "MOAT_REUSE_NETNS", .flag = "reuse-netns",
     BOOL(reuse_netns), .def = 1, .scope = BOTH,
     .description = "a freed box's network namespace serves a later box when it reads as new"},
    {KEY(sandbox, cgroup_residual_kb), .env = "MOAT_CGROUP_RESIDUAL", .flag = "cgroup-residual",
     U64(cgroup_residual_kb), .min = 0, .max = 65536, .def = 512, .scope = BOTH,
     .description = "most memory a freed box's cgroup may hold after reclaim to be reused, KB"},

    /* ---- [languages] ---- */
    {KEY(languages, languages_file), .env = "MOAT_LANGUAGES", .flag = "languages",
     TEXT(languages_file), .def_text = "", .rule = CONFIG_TEXT_ANY, .scope = BOTH,
     .description = "languages.ini; \"\" = beside moat, /etc/moat, ../share/moat"},
    {KEY(languages, policy_file), .env = "MOAT_POLICY_FILE", .flag = "policy-file",
     TEXT(policy_file), .def_text = "", .rule = CONFIG_TEXT_ANY, .scope = BOTH,
     .description = "source policies checked before a job runs; \"\" = none"},
    {KEY(languages, cache_dir), .env = "MOAT_CACHE_DIR", .flag = "cache-dir", TEXT(cache_dir),
     .def_text = "/var/cache/moat", .rule = CONFIG_TEXT_NONEMPTY, .scope = BOTH,
     .description = "precompiled headers, version probe results"},

    /* ---- [server] ---- */
    {KEY(server, listen), .env = "MOAT_LISTEN", .flag = "listen", TEXT(listen),
     .def_text = "127.0.0.1:8080", .rule = CONFIG_TEXT_HOST_PORT, .scope = SERVE,
     .description = "address of the HTTP API, HOST:PORT"},
    {KEY(server, data_dir), .env = "MOAT_DATA_DIR", .flag = "data-dir", TEXT(data_dir),
     .def_text = "./moat-data", .rule = CONFIG_TEXT_NONEMPTY, .scope = SERVE,
     .description = "embedded store and its files"},
    {KEY(server, workers), .env = "MOAT_WORKERS", .flag = "workers", U64(workers), .min = 0,
     .max = 1024, .def = 0, .scope = SERVE, .description = "jobs run at once; 0 = number of CPUs"},
    {KEY(server, max_queue), .env = "MOAT_MAX_QUEUE", .flag = "max-queue", U64(max_queue), .min = 1,
     .max = 10000000, .def = 10000, .scope = SERVE,
     .description = "queued jobs before submissions are refused"},
    {KEY(server, stop_grace_ms), .env = "MOAT_STOP_GRACE", .flag = "stop-grace",
     U64(stop_grace_ms), .min = 0, .max = 3600000, .def = 20000, .scope = SERVE,
     .description = "on SIGTERM, ms running jobs may take to finish"},
    {KEY(server, max_wait_ms), .env = "MOAT_MAX_WAIT", .flag = "max-wait", U64(max_wait_ms),
     .min = 0, .max = 600000, .def = 30000, .scope = SERVE,
     .description = "longest wait=true request, ms"},
    {KEY(server, max_body_kb), .env = "MOAT_MAX_BODY", .flag = "max-body", U64(max_body_kb),
     .min = 1, .max = 1048576, .def = 2560, .scope = SERVE,
     .description = "largest request body, KB"},
    {KEY(server, max_code_kb), .env = "MOAT_MAX_CODE", .flag = "max-code", U64(max_code_kb),
     .min = 1, .max = 1048576, .def = 1024, .scope = SERVE,
     .description = "largest source code of a job, KB"},
    {KEY(server, max_stdin_kb), .env = "MOAT_MAX_STDIN", .flag = "max-stdin", U64(max_stdin_kb),
     .min = 1, .max = 1048576, .def = 1024, .scope = SERVE,
     .description = "largest stdin of a job, KB"},
    {KEY(server, max_tests), .env = "MOAT_MAX_TESTS", .flag = "max-tests", U64(max_tests),
     .min = 1, .max = 1024, .def = 64, .scope = SERVE,
     .description = "most test cases of one job (compiled once, each run in a box of its own)"},
    {KEY(server, additional_files_max_kb), .env = "MOAT_ADDITIONAL_FILES_MAX",
     .flag = "additional-files-max", U64(additional_files_max_kb), .min = 0, .max = 1048576,
     .def = 10240, .scope = SERVE,
     .description = "Judge0 additional_files: most bytes the zip may unpack to (declared and "
                    "read), KB; 0 refuses additional_files"},
    {KEY(server, additional_files_max_entries), .env = "MOAT_ADDITIONAL_FILES_MAX_ENTRIES",
     .flag = "additional-files-max-entries", U64(additional_files_max_entries), .min = 0, .max = 255, .def = 64, .scope = SERVE,
     .description = "Judge0 additional_files: most entries of the zip"},
    {KEY(server, max_batch), .env = "MOAT_MAX_BATCH", .flag = "max-batch", U64(max_batch),
     .min = 1, .max = 1000, .def = 20, .scope = SERVE,
     .description = "submissions of one Judge0 batch (POST /submissions/batch) and tokens of "
                    "one batch read"},
    {KEY(server, compile_cache_mb), .env = "MOAT_COMPILE_CACHE_SIZE", .flag = "compile-cache-size",
     U64(compile_cache_mb), .min = 1, .max = 1048576, .def = 256, .scope = SERVE,
     .description = "compiled programs kept for reuse, MB"},
    {KEY(server, no_exec), .env = "MOAT_NO_EXEC", .flag = "no-exec", BOOL(no_exec), .def = 0,
     .scope = SERVE, .description = "API only: run no jobs on this node"},
    {KEY(server, http_threads), .env = "MOAT_HTTP_THREADS", .flag = "http-threads",
     U64(http_threads), .min = 0, .max = 256, .def = 0, .scope = SERVE,
     .description = "HTTP event threads; 0 = number of CPUs"},
    {KEY(server, max_connections), .env = "MOAT_MAX_CONNECTIONS", .flag = "max-connections",
     U64(max_connections), .min = 1, .max = 1000000, .def = 4096, .scope = SERVE,
     .description = "open client connections at once"},
    {KEY(server, connection_memory_kb), .env = "MOAT_CONNECTION_MEMORY",
     .flag = "connection-memory", U64(connection_memory_kb), .min = 8, .max = 65536, .def = 64,
     .scope = SERVE, .description = "memory for one connection's headers and buffers, KB"},
    {KEY(server, connection_timeout_s), .env = "MOAT_CONNECTION_TIMEOUT",
     .flag = "connection-timeout", U64(connection_timeout_s), .min = 1, .max = 3600, .def = 30,
     .scope = SERVE, .description = "idle client connection closed after, s"},
    {KEY(server, request_timeout_s), .env = "MOAT_REQUEST_TIMEOUT", .flag = "request-timeout",
     U64(request_timeout_s), .min = 1, .max = 3600, .def = 20, .scope = SERVE,
     .description = "a request's head and body must arrive within this many s of its first "
                    "byte's turn, however steadily it trickles in"},
    {KEY(server, max_connections_per_ip), .env = "MOAT_MAX_CONNECTIONS_PER_IP",
     .flag = "max-connections-per-ip", U64(max_connections_per_ip), .min = 0, .max = 1000000,
     .def = 512, .scope = SERVE,
     .description = "open connections of one client address; 0 = no limit"},
    {KEY(server, connection_reserve), .env = "MOAT_CONNECTION_RESERVE",
     .flag = "connection-reserve", U64(connection_reserve), .min = 0, .max = 100000, .def = 64,
     .scope = SERVE,
     .description = "connections kept free for requests that arrive whole (health, metrics): "
                    "the oldest unfinished requests are cut first when fewer remain"},
    {KEY(server, max_refused_body_mb), .env = "MOAT_MAX_REFUSED_BODY", .flag = "max-refused-body",
     U64(max_refused_body_mb), .min = 0, .max = 4096, .def = 128, .scope = SERVE,
     .description = "body of a refused request read and dropped so that its client hears the "
                    "answer; past it the connection is closed, MB"},
    {KEY(server, max_inline_output_kb), .env = "MOAT_MAX_INLINE_OUTPUT",
     .flag = "max-inline-output", U64(max_inline_output_kb), .min = 0, .max = 1048576, .def = 256,
     .scope = SERVE,
     .description = "output of each stream a job's JSON carries, KB; the whole stream is at "
                    "/v1/jobs/{id}/output and /stderr"},

    {KEY(server, store), .env = "MOAT_STORE", .flag = "store", TEXT(store), .def_text = "sqlite",
     .rule = CONFIG_TEXT_NONEMPTY, .scope = SERVE,
     .description = "where jobs are kept: sqlite (one file in data_dir) or a postgres:// URL"},
    {KEY(server, queue), .env = "MOAT_QUEUE", .flag = "queue", TEXT(queue), .def_text = "local",
     .rule = CONFIG_TEXT_NONEMPTY, .scope = SERVE,
     .description = "how jobs reach executors: local (this process) or nats://HOST:PORT, "
                    "several separated by commas (NATS JetStream)"},
    {KEY(server, node), .env = "MOAT_NODE", .flag = "node", TEXT(node), .def_text = "",
     .rule = CONFIG_TEXT_ANY, .scope = SERVE,
     .description = "name of this node in logs, events and metrics; empty = the host name"},

    /* ---- [webhooks] ---- */
    {KEY(webhooks, secret), .env = "MOAT_WEBHOOK_SECRET", .flag = "webhook-secret",
     TEXT(webhook_secret), .def_text = "", .rule = CONFIG_TEXT_ANY, .scope = SERVE,
     .description = "key of the HMAC-SHA256 in each delivery's Moat-Signature header; empty: "
                    "deliveries are not signed"},
    {KEY(webhooks, allow), .env = "MOAT_WEBHOOK_ALLOW", .flag = "webhook-allow",
     TEXT(webhook_allow), .def_text = "", .rule = CONFIG_TEXT_ANY, .scope = SERVE,
     .description = "CIDRs a callback may reach although they are loopback, private, "
                    "link-local or otherwise refused, comma-separated (127.0.0.1/32,::1/128)"},
    {KEY(webhooks, attempts), .env = "MOAT_WEBHOOK_ATTEMPTS", .flag = "webhook-attempts",
     U64(webhook_attempts), .min = 1, .max = 100, .def = 8, .scope = SERVE,
     .description = "delivery attempts of one job before the delivery fails"},
    {KEY(webhooks, timeout_ms), .env = "MOAT_WEBHOOK_TIMEOUT", .flag = "webhook-timeout",
     U64(webhook_timeout_ms), .min = 100, .max = 300000, .def = 10000, .scope = SERVE,
     .description = "one delivery attempt, from the DNS lookup to the answer's last byte, ms"},
    {KEY(webhooks, backoff_ms), .env = "MOAT_WEBHOOK_BACKOFF", .flag = "webhook-backoff",
     U64(webhook_backoff_ms), .min = 1, .max = 3600000, .def = 1000, .scope = SERVE,
     .description = "first retry after about this long, doubling at each attempt (with "
                    "jitter: 50 to 100%), ms"},
    {KEY(webhooks, max_backoff_ms), .env = "MOAT_WEBHOOK_MAX_BACKOFF",
     .flag = "webhook-max-backoff", U64(webhook_max_backoff_ms), .min = 1, .max = 86400000,
     .def = 600000, .scope = SERVE,
     .description = "longest wait between two attempts, Retry-After included, ms"},
    {KEY(webhooks, poll_ms), .env = "MOAT_WEBHOOK_POLL", .flag = "webhook-poll",
     U64(webhook_poll_ms), .min = 10, .max = 60000, .def = 250, .scope = SERVE,
     .description = "how often the store is asked for deliveries that are due, ms"},
    {KEY(webhooks, workers), .env = "MOAT_WEBHOOK_WORKERS", .flag = "webhook-workers",
     U64(webhook_workers), .min = 0, .max = 256, .def = 4, .scope = SERVE,
     .description = "deliveries in flight at once on this node; 0: this node delivers none"},
    {KEY(webhooks, max_response_kb), .env = "MOAT_WEBHOOK_MAX_RESPONSE",
     .flag = "webhook-max-response", U64(webhook_max_response_kb), .min = 0, .max = 1024,
     .def = 16, .scope = SERVE,
     .description = "body of a receiver's answer read at most (and dropped); the connection "
                    "is closed past it, its status still counts, KB"},

    /* ---- [auth] ---- */
    {KEY(auth, require_keys), .env = "MOAT_REQUIRE_KEYS", .flag = "require-keys",
     BOOL(require_keys), .def = 0, .scope = SERVE,
     .description = "require an API key on a loopback address too"},
    {KEY(auth, allow_anonymous), .env = "MOAT_ALLOW_ANONYMOUS", .flag = "allow-anonymous",
     BOOL(allow_anonymous), .def = 0, .scope = SERVE,
     .description = "serve requests without a key, whatever the address (a key given is still "
                    "checked)"},
    {KEY(auth, keys_reload_ms), .env = "MOAT_KEYS_RELOAD", .flag = "keys-reload",
     U64(keys_reload_ms), .min = 100, .max = 3600000, .def = 2000, .scope = SERVE,
     .description = "the keys are read from the store again this often: how soon `moat keys` "
                    "changes reach a running server, ms"},
    {KEY(auth, max_keys), .env = "MOAT_MAX_KEYS", .flag = "max-keys", U64(max_keys), .min = 1,
     .max = 1000000, .def = 10000, .scope = SERVE,
     .description = "keys held in memory (revoked ones count); past it the reload fails and "
                    "the keys loaded before stay"},
    {KEY(auth, idempotency_hours), .env = "MOAT_IDEMPOTENCY_HOURS", .flag = "idempotency-hours",
     U64(idempotency_hours), .min = 1, .max = 8760, .def = 24, .scope = SERVE,
     .description = "an Idempotency-Key's answer is kept this long, hours"},
    {KEY(auth, cors_origins), .env = "MOAT_CORS_ORIGINS", .flag = "cors-origins",
     TEXT(cors_origins), .def_text = "", .rule = CONFIG_TEXT_ANY, .scope = SERVE,
     .description = "origins browsers may call from, separated by commas (\"*\": any); "
                    "empty: no CORS headers"},
    {KEY(auth, cors_max_age_s), .env = "MOAT_CORS_MAX_AGE", .flag = "cors-max-age",
     U64(cors_max_age_s), .min = 0, .max = 86400, .def = 600, .scope = SERVE,
     .description = "how long a browser may keep a preflight's answer, s"},

    /* ---- [cluster] ---- */
    {KEY(cluster, store_connections), .env = "MOAT_STORE_CONNECTIONS", .flag = "store-connections",
     U64(store_connections), .min = 2, .max = 256, .def = 8, .scope = SERVE,
     .description = "PostgreSQL connections of this node (one of them writes)"},
    {KEY(cluster, store_wait_ms), .env = "MOAT_STORE_WAIT", .flag = "store-wait",
     U64(store_wait_ms), .min = 100, .max = 600000, .def = 5000, .scope = SERVE,
     .description = "a write waits this long for an unreachable PostgreSQL before it fails "
                    "(a submission then gets 503), ms"},
    {KEY(cluster, inline_job_kb), .env = "MOAT_INLINE_JOB", .flag = "inline-job",
     U64(inline_job_kb), .min = 0, .max = 768, .def = 16, .scope = SERVE,
     .description = "a job this small (its bytes in base64) travels in its queue message and "
                    "final event, not read back from the store (0: never), KiB"},
    {KEY(cluster, ack_wait_s), .env = "MOAT_ACK_WAIT", .flag = "ack-wait", U64(ack_wait_s),
     .min = 1, .max = 3600, .def = 30, .scope = SERVE,
     .description = "a worker that neither finishes a job nor says it is still at it for this "
                    "long loses it to another worker, s"},
    {KEY(cluster, max_deliveries), .env = "MOAT_MAX_DELIVERIES", .flag = "max-deliveries",
     U64(max_deliveries), .min = 1, .max = 100, .def = 5, .scope = SERVE,
     .description = "deliveries of one job to workers (one that died or stalled counts); then "
                    "it is failed"},
    {KEY(cluster, stream), .env = "MOAT_STREAM", .flag = "stream", TEXT(stream),
     .def_text = "MOAT_JOBS", .rule = CONFIG_TEXT_NAME, .scope = SERVE,
     .description = "the JetStream stream of queued jobs"},
    {KEY(cluster, stream_replicas), .env = "MOAT_STREAM_REPLICAS", .flag = "stream-replicas",
     U64(stream_replicas), .min = 1, .max = 5, .def = 1, .scope = SERVE,
     .description = "copies of the stream in a NATS cluster (3 survives the loss of a node)"},
    {KEY(cluster, duplicate_window_s), .env = "MOAT_DUPLICATE_WINDOW", .flag = "duplicate-window",
     U64(duplicate_window_s), .min = 1, .max = 86400, .def = 120, .scope = SERVE,
     .description = "a job published twice within this many s is queued once"},
    {KEY(cluster, reconcile_s), .env = "MOAT_RECONCILE", .flag = "reconcile", U64(reconcile_s),
     .min = 1, .max = 3600, .def = 10, .scope = SERVE,
     .description = "how often a node publishes again the queued jobs the stream lacks "
                    "(a publish lost with the broker), s"},
    {KEY(cluster, subject_prefix), .env = "MOAT_SUBJECT_PREFIX", .flag = "subject-prefix",
     TEXT(subject_prefix), .def_text = "moat", .rule = CONFIG_TEXT_NAME, .scope = SERVE,
     .description = "first token of moat's own NATS subjects"},
    {KEY(cluster, nats_api), .env = "MOAT_NATS_API", .flag = "nats-api", BOOL(nats_api), .def = 1,
     .scope = SERVE,
     .description = "an API node with a NATS queue also answers the NATS request subjects "
                    "(docs/nats.md)"},

    /* ---- [retry] ---- */
    {KEY(retry, attempts), .env = "MOAT_RETRY_ATTEMPTS", .flag = "retry-attempts",
     U64(retry_attempts), .min = 1, .max = 100, .def = 3, .scope = SERVE,
     .description = "tries of a job, the first included"},
    {KEY(retry, base_ms), .env = "MOAT_RETRY_BASE_DELAY", .flag = "retry-base-delay",
     U64(retry_base_ms), .min = 0, .max = 600000, .def = 1000, .scope = SERVE,
     .description = "delay before the first retry, ms"},
    {KEY(retry, factor), .env = "MOAT_RETRY_FACTOR", .flag = "retry-factor", U64(retry_factor),
     .min = 1, .max = 10, .def = 2, .scope = SERVE,
     .description = "each further delay is this many times the last"},

    /* ---- [log] ---- */
    {KEY(log, level), .env = "MOAT_LOG_LEVEL", .flag = "log-level", TEXT(log_level),
     .def_text = "info", .rule = CONFIG_TEXT_CHOICE, .choices = log_levels, .scope = BOTH,
     .description = "least severe level logged"},
};
const size_t config_n_settings = MOAT_ARRAY_SIZE(config_settings);
_Static_assert(MOAT_ARRAY_SIZE(config_settings) <= CONFIG_MAX_SETTINGS,
               "raise CONFIG_MAX_SETTINGS");

const struct config_setting *config_find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (strcmp(s->section, section) == 0 && strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

const struct config_setting *config_find_name(const char *flag_or_key)
{
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (strcmp(s->flag, flag_or_key) == 0 || strcmp(s->key, flag_or_key) == 0)
            return s;
    }
    return NULL;
}

const struct config_setting *config_find_env(const char *env, size_t len)
{
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (strlen(s->env) == len && memcmp(s->env, env, len) == 0)
            return s;
    }
    return NULL;
}

const struct config_section *config_find_section(const char *name)
{
    for (size_t i = 0; i < config_n_sections; i++)
        if (strcmp(config_sections[i].name, name) == 0)
            return &config_sections[i];
    return NULL;
}
