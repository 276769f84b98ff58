#pragma once
/*
 * sandbox: a box runs hostile programs with every resource bounded.
 *
 * A box is a pid 1 supervisor ("box init") in fresh pid, mount, ipc, uts and
 * network namespaces, with a tmpfs root, read-only binds of the host runtime,
 * a fresh /proc, a minimal /dev and size-limited tmpfs /box and /tmp. Each
 * step of a box runs one program, pre-forked into its own user namespace
 * (mapped to an unprivileged host uid leased to this box alone) and its own
 * cgroup, with rlimits, no capabilities, no_new_privs, Landlock and a seccomp
 * allowlist. When a step returns, every process of the box is dead. When a
 * box is freed, nothing of it remains: no process, cgroup, mount, uid lease.
 *
 * This module links only util: no JSON, SQL or network code runs with root
 * privileges next to hostile processes.
 *
 * Threads: sbx_ctx_new, sbx_box_new and sbx_pool_start fork and must be
 * called while the process is single-threaded. A box from the pool may be
 * used from any one thread at a time; sbx_box_cancel may be called from any
 * thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "moat/util.h"

struct sbx_ctx;
struct sbx_box;
struct sbx_pool;

struct sbx_config {
    uint32_t first_uid;        /* boxes run as host uids first_uid .. +uid_count-1 */
    uint32_t uid_count;
    const char *run_dir;       /* leases and the mount point of box roots */
    const char *cgroup_name;   /* parent cgroup of every box ("moat") */
    const char *cgroup_under;  /* where it is made: "" or NULL the root of each
                                  hierarchy, "self" moat's own (delegated)
                                  group, "/a/b" that group */
    uint64_t box_tmpfs_bytes;  /* /box */
    uint64_t tmp_tmpfs_bytes;  /* /tmp and /dev/shm */
    bool landlock;             /* apply Landlock where the kernel has it */
    const char *cache_dir;     /* bound read-only at /moat/cache when not NULL */
    /* Build the read-only part of a box's root once, in a template mount
     * namespace, and give each box a private copy of it (one setns and one
     * unshare instead of ~45 mount calls); box init adds only what is its
     * own: /proc, /box, /tmp, /dev/shm. */
    bool mount_template;
    uint32_t netns_pool;       /* network namespaces the pool keeps ready */
    /* Nice value (0..19) of the spawner, so of box preparation and of box
     * init between steps and at teardown: running jobs get the CPU first
     * (a box costs several ms of CPU, a job may take less). Box init and
     * the program go to 0 for a step (RLIMIT_NICE lets them); the program
     * then has RLIMIT_NICE 0. */
    uint32_t spawner_nice;
    /* Pool only: a freed box's slot (uid lease and cgroups) serves the
     * spawner's next box when its cgroups are empty and hold at most
     * cgroup_residual_bytes after reclaim; its network namespace, once it
     * reads as new, goes back to the namespace pool. */
    bool reuse_cgroups;
    bool reuse_netns;
    uint64_t cgroup_residual_bytes;
    /* A lean executable whose main hands `__spawner ARGS` to
     * sbx_spawner_main: the pool's spawner re-executes it, so that boxes
     * are forked from a small address space (a server that loads a dozen
     * shared libraries makes every fork and exit of a box process copy and
     * tear down ~200 mappings). NULL, or an exec that fails: the spawner
     * stays a fork of the caller. */
    const char *spawner_exe;
};

struct sbx_limits {
    uint64_t cpu_ms;       /* CPU of all processes and threads of the step */
    uint64_t wall_ms;
    uint64_t memory_bytes; /* RAM, no swap, summed over the step's processes */
    uint32_t max_procs;    /* processes and threads together */
    uint64_t output_bytes; /* per stream: stdout, stderr */
    uint64_t file_bytes;   /* RLIMIT_FSIZE */
    uint32_t open_files;   /* RLIMIT_NOFILE */
    uint64_t stack_bytes;  /* RLIMIT_STACK */
};

enum sbx_verdict {
    SBX_VERDICT_OK,
    SBX_VERDICT_RUNTIME_ERROR, /* non-zero exit or killed by a signal */
    SBX_VERDICT_TIME_LIMIT,    /* CPU or wall */
    SBX_VERDICT_MEMORY_LIMIT,  /* the cgroup's OOM killer fired */
    SBX_VERDICT_OUTPUT_LIMIT,  /* a stream went past output_bytes */
    SBX_VERDICT_CANCELLED,     /* sbx_box_cancel */
    SBX_VERDICT_INTERNAL_ERROR,/* moat's own fault; message says what */
    SBX_VERDICT_MAX_,
};

/* A file written into /box before the step runs (never following a link). */
struct sbx_file {
    const char *name; /* relative, no "..", no leading "/" */
    const void *data;
    size_t len;
    bool executable;
};

/* A name box init accepts for a file in /box: relative, at most 255 bytes,
 * no "." or ".." or empty component, characters [A-Za-z0-9._-] and "/".
 * Callers check user input with it to refuse a bad name before any box is
 * used; box init checks again. */
bool sbx_file_name_ok(const char *name);

struct sbx_step {
    const char *const *argv; /* argv[0] is an absolute path or relative to /box */
    const char *const *envp; /* the whole environment: nothing of moat's leaks */
    struct sbx_limits limits;
    const void *stdin_data;  /* stdin is exactly these bytes, then EOF */
    size_t stdin_len;
    const struct sbx_file *files;
    size_t nfiles;
    /* No step follows in this box: box init does not prepare the next
     * program process. Preparing one moves a process into a new cgroup,
     * which on cgroup v1 waits for an RCU grace period (5-10 ms here) while
     * holding up fork and exit on the whole host. */
    bool last;
    /* After the step, hand back every regular file under /box that is not
     * one of files[] (by name): in the first step of a box, what the step
     * made (the compile cache keeps a compile step's artifacts). At most
     * SBX_COLLECT_MAX_FILES files and collect_max_bytes bytes in all, else
     * the result has collect_overflow set and no files. Links are never
     * followed; anything else left out sets collect_skipped. */
    bool collect;
    uint64_t collect_max_bytes;
};

#define SBX_COLLECT_MAX_FILES 64

/* The order in which a step wrote its two streams, as the supervisor read
 * them: little-endian uint32 entries, SBX_ORDER_STDERR set for stderr, the
 * low 31 bits the bytes kept of that stream; consecutive reads of one
 * stream share an entry. At most SBX_ORDER_MAX entries: what comes after
 * is in the streams but not in the order. Reads of two pipes see the order
 * of the writes only as far as the supervisor keeps up with the program:
 * writes that land in both pipes before it wakes are read stdout first. */
#define SBX_ORDER_STDERR 0x80000000u
#define SBX_ORDER_MAX 8192

/* A file handed back by a step with collect (name relative to /box). */
struct sbx_collected {
    char *name;
    char *data;
    size_t len;
    bool executable;
};

struct sbx_result {
    enum sbx_verdict verdict;
    int exit_code;   /* 0..255; 128+n after signal n; 124 on time limit */
    int signal;      /* 0 when the program was not killed by a signal */
    uint64_t cpu_us;
    uint64_t wall_us;
    uint64_t memory_kb; /* peak of the step's cgroup */
    bool cpu_exceeded, wall_exceeded, oom_killed, output_exceeded;
    struct buf out, err; /* stdout, stderr (at most output_bytes each) */
    bool out_truncated, err_truncated;
    struct buf order;  /* the streams' order (SBX_ORDER_STDERR above) */
    char message[256]; /* internal error detail, "" otherwise */
    struct sbx_collected *collected; /* with step.collect: owned, released
                                        by sbx_result_release */
    size_t ncollected;
    bool collect_overflow;
    /* With step.collect: something under /box was left out (a link, a
     * device or fifo, a name sbx_file_name_ok refuses), so the files do not
     * reproduce what the step left (e.g. javac's Main$1.class). */
    bool collect_skipped;
};

void sbx_result_init(struct sbx_result *r);
void sbx_result_release(struct sbx_result *r);
const char *sbx_verdict_name(enum sbx_verdict v); /* "time_limit" */

/*
 * Context: detects cgroup v1/v2, compiles the seccomp filter once, prepares
 * the run directory and sweeps what a killed earlier moat left behind (boxes
 * whose uid lease is free: their processes, cgroups). Single-threaded only.
 */
int sbx_ctx_new(const struct sbx_config *cfg, struct sbx_ctx **out, struct moat_err *err);
void sbx_ctx_free(struct sbx_ctx *ctx);

/* A cold box, made by the calling (single-threaded) process. */
int sbx_box_new(struct sbx_ctx *ctx, struct sbx_box **out, struct moat_err *err);
/*
 * Runs one step. Returns 0 when the step ran (whatever the program did: see
 * res->verdict) and -errno when the box failed (res->verdict is then
 * SBX_VERDICT_INTERNAL_ERROR and the box must be freed). Caller releases res.
 */
int sbx_box_run(struct sbx_box *box, const struct sbx_step *step, struct sbx_result *res,
                struct moat_err *err);
/* Kills the step running in box, if any (thread-safe, async-signal-safe). */
void sbx_box_cancel(struct sbx_box *box);
/* Host uid the box's programs run as. */
uint32_t sbx_box_uid(const struct sbx_box *box);
/* Host pid of the box's init (diagnostics, benchmarks). */
pid_t sbx_box_init_pid(const struct sbx_box *box);
/* Waits until the box is prepared (sbx_box_run does it by itself). */
int sbx_box_wait_ready(struct sbx_box *box, struct moat_err *err);
/* Kills whatever runs in the box and releases everything of it. NULL ok. */
void sbx_box_free(struct sbx_box *box);

/*
 * Warm pool: forks a single-threaded spawner that keeps `warm` boxes alive,
 * busy or prepared (namespaces made, mounts done, cgroup made, the program
 * process pre-forked into its user namespace; a freed box is replaced, a
 * taken one is not) and a pool of network namespaces.
 * Must be called before the process starts threads.
 */
int sbx_pool_start(struct sbx_ctx *ctx, uint32_t warm, struct sbx_pool **out,
                   struct moat_err *err);
/* Takes a warm box (waits up to timeout_ms; -ETIMEDOUT). Thread-safe. */
int sbx_pool_take(struct sbx_pool *pool, int timeout_ms, struct sbx_box **out,
                  struct moat_err *err);
struct sbx_pool_stats {
    uint32_t warm;      /* prepared and waiting */
    uint32_t busy;      /* taken and not freed yet */
    uint64_t made;      /* boxes made since start */
    uint64_t failed;    /* box creations that failed */
    uint64_t slots_reused; /* freed boxes whose uid and cgroups were kept */
    uint64_t netns_reused; /* freed boxes whose network namespace was kept */
    uint32_t slots_kept;   /* slots of freed boxes kept for the next ones (at
                              most the pool's size): their cgroups outlive the
                              box, so an idle pool may hold more than warm */
};
void sbx_pool_stats(struct sbx_pool *pool, struct sbx_pool_stats *st);
/* Stops the spawner; every box it made is destroyed. NULL ok. */
void sbx_pool_stop(struct sbx_pool *pool);
/* The main of a re-executed spawner (sbx_config.spawner_exe): argv[0] is
 * "__spawner", then what sbx_pool_start passed. Returns only on bad
 * arguments (exit code 2). */
int sbx_spawner_main(int argc, char **argv);

/* What the kernel offers, for `moat doctor`. */
struct sbx_features {
    bool userns, pidns, netns, mntns, ipcns, utsns, cgroupns;
    bool timens;          /* time namespaces (5.6+): a box's own uptime */
    bool kmem_accounting; /* 5.15+: the memory cgroup charges SysV IPC,
                             queued signals, POSIX timers, file tables */
    int cgroup_version; /* 1, 2, 0 = none usable */
    bool cg_memory, cg_pids, cg_cpu, cg_swap_accounting, cg_kill, cg_peak;
    /* A cgroup hierarchy (any: the option is global) is mounted with
     * favordynmods (6.0+): moving a process into a cgroup no longer waits
     * for an RCU grace period, at the price of a slower lock in every
     * fork, exit and exec. */
    bool cg_favordynmods;
    bool seccomp, seccomp_kill_process;
    int landlock_abi;   /* 0 = unavailable */
    bool openat2, pidfd, clone_into_cgroup;
    bool protected_hardlinks, protected_symlinks;
    char kernel[64];
};
void sbx_probe(struct sbx_features *f);
