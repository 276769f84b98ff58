#pragma once
/*
 * Private interfaces of the sandbox module: the cgroup backends (v1 and v2
 * behind one interface), the seccomp policy, Landlock and capabilities.
 *
 * Everything that runs in a box's processes after pivot_root works on file
 * descriptors opened before it (cgroup directories, the compiled filter),
 * never on host paths.
 */
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "moat/sandbox.h"
#include "moat/util.h"

/* ======================================================================
 * cgroups (cgroup.c, cgroup-v1.c, cgroup-v2.c)
 * ====================================================================== */

struct cg_root;  /* the hierarchy moat uses and its parent group */
struct cg_group; /* one group; holds directory fds, never paths */

struct cg_root_opts {
    const char *fs;        /* "/sys/fs/cgroup" (or a fake tree in tests) */
    const char *mountinfo; /* "/proc/self/mountinfo" (or a fake file) */
    const char *name;      /* parent group of every box, e.g. "moat" */
    const char *under;     /* where name is made: "" (NULL) the hierarchy's
                              root, "self" the group moat runs in (v2: its
                              processes moved to a leaf first), "/a/b" */
    const char *self_cgroup; /* "/proc/self/cgroup" (or a fake file) */
    int force_version;     /* 0: detect; 1 or 2: tests */
    bool fake;             /* tests: interface files are created when written */
};

/* Detects the version, finds the mount point of every controller used
 * (v1: memory, pids, cpuacct; v2: the unified mount with memory, pids, cpu
 * enabled for the parent), creates the parent group. */
int cg_root_open(const struct cg_root_opts *o, struct cg_root **out, struct moat_err *err);
void cg_root_free(struct cg_root *root);
/* Removes the parent group `name` of root from every hierarchy when it is
 * empty (-EBUSY while another moat's boxes are in it). Use the root no more. */
int cg_root_remove(struct cg_root *root, const char *name);
int cg_root_version(const struct cg_root *root);
/* v2: the group the parent was made in ("/" the root, else "/a/b"), the
 * same for every process that opens it after this one (a "self" moved to
 * a leaf would not be); v1: opts->under as given (each hierarchy's own
 * group differs, and nothing moved). */
const char *cg_root_under(const struct cg_root *root);
/* Whether swap is accounted (v1 memsw files, v2 memory.swap.max). */
bool cg_root_has_swap_accounting(const struct cg_root *root);

/* Creates <parent>/<name> in every hierarchy. -EEXIST when it exists. */
int cg_create(struct cg_root *root, const char *name, struct cg_group **out,
              struct moat_err *err);
/* Creates a child group (one per step) under g; on v2 enables the
 * controllers in g's subtree_control first. */
int cg_create_child(struct cg_group *g, const char *name, struct cg_group **out,
                    struct moat_err *err);
/* Opens an existing group by name under the root (sweep); -ENOENT. */
int cg_open(struct cg_root *root, const char *name, struct cg_group **out);

/* memory limit without swap (v1: limit_in_bytes then memsw; v2: memory.max,
 * memory.swap.max=0, memory.oom.group=1) and pids.max. */
int cg_set_limits(struct cg_group *g, uint64_t memory_bytes, uint32_t max_procs);
/* Moves pid into the group (every hierarchy). */
int cg_attach(struct cg_group *g, pid_t pid);

struct cg_stats {
    uint64_t cpu_us;       /* v1 cpuacct.usage / 1000; v2 cpu.stat usage_usec */
    uint64_t memory_peak;  /* bytes; v1 memory.max_usage_in_bytes; v2 memory.peak */
    uint64_t oom_kills;    /* v1 memory.oom_control oom_kill; v2 memory.events oom_kill */
    uint64_t pids_current;
};
int cg_read_stats(struct cg_group *g, struct cg_stats *st);
/* Cheap read of the CPU time only, for polling during a step. */
int cg_read_cpu_us(struct cg_group *g, uint64_t *cpu_us);
/* Start of a step run in g itself: the memory peak restarts from the
 * current usage (v1 max_usage_in_bytes, v2 a write to memory.peak through
 * the fd later reads use) and *base gets the counters that only grow (CPU,
 * OOM kills), which the step's figures are read against. */
int cg_step_begin(struct cg_group *g, struct cg_stats *base);
/* Readies the group of a box that is gone for the next box of its slot:
 * kills what is left, removes the step groups below it, lifts its limits,
 * reclaims and checks that at most residual_bytes stay charged to it.
 * -EBUSY (still charged, or a process that would not die), -EOPNOTSUPP
 * (v2 without a resettable memory.peak): destroy it instead. */
int cg_recycle(struct cg_group *g, uint64_t residual_bytes);
/* Memory charged to g now (v1 usage_in_bytes, v2 memory.current). */
int cg_memory_current(struct cg_group *g, uint64_t *bytes);
/* v2: the group's directory fd for clone3(CLONE_INTO_CGROUP); -1 on v1,
 * where a process can only be moved in (cg_attach). Borrowed. */
int cg_clone_fd(const struct cg_group *g);
/* Number of processes in the group (0 when empty). */
int cg_count_procs(struct cg_group *g);
/* Kills every process of the group: v2 cgroup.kill when present, else
 * SIGKILL to each pid of cgroup.procs, repeated until it stays empty. */
int cg_kill_all(struct cg_group *g);
/* Removes the group's directories (children first); kills what remains.
 * Frees g in every case. NULL ok. */
int cg_destroy(struct cg_group *g);
/* Frees g without touching the cgroupfs. NULL ok. */
void cg_close(struct cg_group *g);
/* Directory fd of g in the hierarchy that holds `controller` ("memory",
 * "pids", "cpuacct"; v2: any). Borrowed; for tests and diagnostics. */
int cg_dirfd(const struct cg_group *g, const char *controller);

/* The descriptors g holds (at most max), so that a forked process can close
 * everything else. */
size_t cg_group_fds(const struct cg_group *g, int *fds, size_t max);

/* Calls fn for every group directly under the root's parent whose name
 * starts with prefix (leftovers after a crash). */
int cg_for_each(struct cg_root *root, const char *prefix,
                void (*fn)(struct cg_root *root, const char *name, void *arg), void *arg);

/* ======================================================================
 * seccomp (seccomp.c): an allowlist with a reason per rule
 * ====================================================================== */

/* What a rule does to a call it matches. */
enum sbx_rule_action {
    SBX_RULE_ALLOW,
    /* Fail with .err; .err 0 means "succeed without doing anything" (a hint
     * the kernel may ignore anyway, or a call with no effect in a box). */
    SBX_RULE_ERRNO,
};

/* Which calls of the syscall a rule matches, by one argument: the low 32
 * bits the kernel reads of an int (a mask never reaches the high half). */
enum sbx_rule_when {
    SBX_WHEN_ALWAYS,
    SBX_WHEN_ANY,  /* (arg & .mask) equals one of .values */
    SBX_WHEN_NONE, /* (arg & .pats[i].mask) equals .pats[i].value for no i */
};

struct sbx_arg_pattern {
    uint64_t mask, value;
};

#define SBX_RULE_MAX_VALUES 8
/* Rules of one name filter the same argument and never match the same
 * call twice (the unit tests check both). */
struct sbx_syscall_rule {
    const char *name;
    enum sbx_rule_action action;
    int err; /* SBX_RULE_ERRNO */
    enum sbx_rule_when when;
    unsigned arg; /* 0..5, unless SBX_WHEN_ALWAYS */
    uint64_t mask; /* SBX_WHEN_ANY */
    uint64_t values[SBX_RULE_MAX_VALUES];
    unsigned nvalues;
    struct sbx_arg_pattern pats[SBX_RULE_MAX_VALUES]; /* SBX_WHEN_NONE */
    unsigned npats;
    const char *why;
};
extern const struct sbx_syscall_rule sbx_syscall_rules[];
extern const size_t sbx_syscall_rules_len;
/* errno for syscalls no rule names (the default action) */
#define SBX_SECCOMP_DEFAULT_ERRNO EPERM

/* What the table says of one call: the seccomp return value (ALLOW, or
 * ERRNO | errno, the default for a call no rule matches). -EEXIST when two
 * rules match it (a table bug). The unit tests hold the compiled program
 * against it. */
int64_t sbx_seccomp_table_decide(int nr, const uint64_t args[6]);

struct sbx_filter {
    struct sock_filter *insns;
    unsigned short len;
};
/* Compiles the policy table with libseccomp into a BPF program (once per
 * context; children only load it). Bad architectures (i386, x32) kill the
 * process. */
int sbx_seccomp_build(struct sbx_filter *out, struct moat_err *err);
void sbx_seccomp_release(struct sbx_filter *f);
/* The same program, compiled when moat was built (no libseccomp at run
 * time); a copy the caller releases with sbx_seccomp_release. */
int sbx_seccomp_builtin(struct sbx_filter *out);
extern const struct sock_filter sbx_seccomp_builtin_insns[];
extern const unsigned short sbx_seccomp_builtin_len;
/* Loads the program into the calling thread (async-signal-safe: one prctl).
 * Requires no_new_privs. */
int sbx_seccomp_apply(const struct sbx_filter *f);

/* ======================================================================
 * Landlock (landlock.c) and capabilities (caps.c)
 * ====================================================================== */

/* Landlock ABI version of the running kernel, 0 when unavailable. */
int sbx_landlock_abi(void);
/* Builds a ruleset inside the box's root (after pivot_root): read and
 * execute anywhere under "/", write beneath /box, /tmp and /dev/shm, and to
 * /dev/null, /dev/zero, /dev/full. Returns the ruleset fd (CLOEXEC) or
 * -errno; -EOPNOTSUPP when the kernel has no Landlock. */
int sbx_landlock_prepare(int abi);
/* The same rules beneath root instead of "/" (root "/" is
 * sbx_landlock_prepare); for tests on a directory tree. */
int sbx_landlock_prepare_at(int abi, const char *root);
/* landlock_restrict_self with the prepared ruleset (needs no_new_privs). */
int sbx_landlock_enforce(int ruleset_fd);

/* Drops every capability: bounding set, ambient set, locked securebits,
 * then empty effective/permitted/inheritable sets. */
int sbx_drop_caps(void);
