#pragma once
/*
 * Private to cgroup.c, cgroup-v1.c and cgroup-v2.c (and their unit tests).
 *
 * A group is a set of directory fds, one per hierarchy: on v1 each distinct
 * mount among those that hold memory, pids and cpuacct (a mount may carry
 * several controllers, e.g. "cpu,cpuacct"); on v2 the unified mount. They
 * are opened before the caller gives up host paths (pivot_root), and every
 * later operation works relative to them with openat/mkdirat/unlinkat.
 *
 * Fake mode (tests) runs the same code on plain directories: writes create
 * the interface files, reads of a missing file give zero, no signal is ever
 * sent, and destroying a group unlinks its files before rmdir. Kernel
 * features (swap accounting) are probed in the parent group or at the mount
 * root, where a fake tree plants the file the kernel would show.
 *
 * Nothing here is thread-safe: a root or a group belongs to one thread.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox-internal.h"

#define CG_HIER_MAX 3  /* memory, pids, cpuacct in distinct mounts at most */
#define CG_DEPTH_MAX 8 /* nesting below a group that kill and destroy follow */
#define CG_NAME_MAX 255
#define CG_KILL_ROUNDS 200 /* with cg_backoff: about 2 s before -EBUSY */
#define CG_RECLAIM_ROUNDS 9 /* cg_recycle's reclaims: about 50 ms before -EBUSY */

enum cg_ctl { CG_CTL_MEMORY, CG_CTL_PIDS, CG_CTL_CPUACCT, CG__CTL_MAX };
extern const char *const cg_ctl_names[CG__CTL_MAX];

/* Which file of a group holds what, per version. The backends read and
 * write through this table; on v1 memory_* live in the memory hierarchy,
 * pids_* in pids, cpu_usage in cpuacct. */
struct cg_files {
    const char *memory_limit;
    const char *swap_limit; /* written only with swap accounting */
    const char *pids_limit;
    const char *cpu_usage;
    const char *cpu_usage_key; /* NULL: the whole file is one number */
    uint64_t cpu_units_per_us; /* v1 counts ns, v2 µs */
    const char *memory_peak;
    const char *oom_file;
    const char *oom_key;
    const char *pids_current;
    const char *memory_current;
};

extern const struct cg_files cg_v1_files;
extern const struct cg_files cg_v2_files;

struct cg_root;
struct cg_group;
struct cg_backend {
    int version;
    const struct cg_files *files;
    int (*root_open)(const struct cg_root_opts *o, struct cg_root *root, struct moat_err *err);
    /* before the first child of g is made (v2: subtree_control); may be NULL */
    int (*prepare_parent)(struct cg_group *g);
    int (*set_limits)(struct cg_group *g, uint64_t memory_bytes, uint32_t max_procs);
    /* memory_peak and oom_kills of st */
    int (*read_memory)(struct cg_group *g, struct cg_stats *st);
    /* called on every cg_read_cpu_us (v2 without memory.peak); may be NULL */
    void (*sample)(struct cg_group *g);
    int (*kill_all)(struct cg_group *g);
    int (*count_procs)(struct cg_group *g);
    /* start of a step: the peak from now on (v1 global, v2 per fd) */
    int (*peak_reset)(struct cg_group *g);
    /* an empty group: give back what it can (page cache, reclaimable
     * kernel objects) so that only what is pinned stays charged */
    int (*reclaim)(struct cg_group *g);
    /* undo prepare_parent once the children are gone; may be NULL */
    int (*clear_parent)(struct cg_group *g);
};
extern const struct cg_backend cg_v1_backend;
extern const struct cg_backend cg_v2_backend;

/* Copied into every group, so that a group outlives its root. */
struct cg_common {
    const struct cg_backend *be;
    bool fake;
    bool swap;                     /* memsw / memory.swap.max present */
    unsigned nhier;                /* 1 on v2 */
    uint8_t ctl_hier[CG__CTL_MAX]; /* hierarchy index of each controller */
    char subtree[32];              /* v2: "+memory +pids +cpu" for children */
};

struct cg_root {
    struct cg_common c;
    int parent_fd[CG_HIER_MAX]; /* <mount>/<under>/<name> */
    char under[256];            /* cg_root_under */
};

/* ---- where the parent group is made (cgroup-under.c) ---- */
/* The path of moat's own group in self_file (/proc/self/cgroup): in the
 * v1 hierarchy with controller, or v2's ("0::") when controller is NULL.
 * -ENOENT when it has none. */
int cg_own_path(const char *self_file, const char *controller, char *out, size_t size);
/* "", "self", or an absolute path without "." or ".." components. */
bool cg_under_valid(const char *under);
/* The path (from the hierarchy's root, starting with '/') o->under names
 * in the hierarchy of controller (NULL: v2). */
int cg_under_path(const struct cg_root_opts *o, const char *controller, char *out, size_t size);
/* Opens path under the mount's fd without leaving it. fd or -errno. */
int cg_under_open(int mfd, const char *path);
/* v2: moves every process of dirfd's group into its child "supervisor",
 * so that dirfd may enable controllers for children. -EBUSY if processes
 * keep coming. */
int cg_v2_leave_for_leaf(const struct cg_common *c, int dirfd);

enum cg_peak { CG_PEAK_UNKNOWN, CG_PEAK_FILE, CG_PEAK_SAMPLED };

struct cg_group {
    struct cg_common c;
    char name[CG_NAME_MAX + 1];
    int pfd[CG_HIER_MAX]; /* parent directory, for rmdir */
    int fd[CG_HIER_MAX];  /* -1 where cg_open found no directory */
    int cpu_fd;           /* cpuacct.usage / cpu.stat, opened on first poll */
    int mem_fd;           /* v2 memory.current when memory.peak is missing */
    int peak_fd;          /* v2 memory.peak, reset through this fd per step */
    enum cg_peak peak;
    uint64_t mem_sampled; /* highest memory.current seen while polling */
};

/* fd of g in the hierarchy that holds ctl (-1 when absent). */
static inline int cg_group_fd(const struct cg_group *g, enum cg_ctl ctl)
{
    return g->fd[g->c.ctl_hier[ctl]];
}

/* ---- interface files (cgroup.c) ---- */
int cg_io_write(const struct cg_common *c, int dirfd, const char *file, const char *s);
int cg_io_write_u64(const struct cg_common *c, int dirfd, const char *file, uint64_t v);
/* NUL-terminated into buf; 0 bytes for a missing file in fake mode; -EFBIG
 * when the file does not fit. */
ssize_t cg_io_read(const struct cg_common *c, int dirfd, const char *file, char *buf, size_t size);
/* One number (key NULL) or the value of the line "key N"; a missing file
 * reads 0 in fake mode; -ENOENT when the key is absent. */
int cg_io_read_u64(const struct cg_common *c, int dirfd, const char *file, const char *key,
                   uint64_t *out);
bool cg_io_exists(int dirfd, const char *file);

/* ---- parsers of kernel text (cgroup.c); strict, never trust the input ---- */
/* "N" with an optional final newline. */
int cg_parse_u64(const char *text, uint64_t *out);
/* The line "key N" of a flat keyed file; -ENOENT when absent. */
int cg_parse_keyed(const char *text, const char *key, uint64_t *out);
/* Whether word is one of the tokens of list, split at sep, spaces and
 * newlines; a leading '+' of a token is ignored (subtree_control). */
bool cg_words_has(const char *list, const char *word, char sep);

/* ---- mountinfo (cgroup.c) ---- */
struct cg_mount {
    char dev[32]; /* "major:minor": one hierarchy, however often mounted */
    char path[PATH_MAX];
    char fstype[32];
    char super[256]; /* super options: "rw,cpu,cpuacct" */
};
/* One line of /proc/<pid>/mountinfo (modified in place); -EINVAL. */
int cg_mountinfo_parse_line(char *line, struct cg_mount *m);
/* Calls fn for each well-formed line; fn returns <0 to fail, >0 to stop. */
int cg_mountinfo_each(const char *mountinfo, int (*fn)(const struct cg_mount *m, void *arg),
                      void *arg);
/* path is dir or below it */
bool cg_path_under(const char *path, const char *dir);

/* ---- directories and processes (cgroup.c) ---- */
int cg_mkdir_open(int parent_fd, const char *name, bool excl, int *out);
/* Calls fn(fd of the directory, name, arg) for each subdirectory (dirs) or
 * other entry (!dirs); stops at the first negative return. */
int cg_dir_each(int dirfd, bool dirs, int (*fn)(int dirfd, const char *name, void *arg), void *arg);
/* fn on dirfd, then on every group below it (pre-order, CG_DEPTH_MAX). */
int cg_tree_each(int dirfd, int (*fn)(int dirfd, void *arg), void *arg);
/* fn for each pid of dirfd's cgroup.procs; fn returns <0 to fail, >0 to stop. */
int cg_procs_each(int dirfd, int (*fn)(pid_t pid, void *arg), void *arg);
/* Processes listed in dirfd's group and below. */
int cg_count_tree(int dirfd, size_t *count);
void cg_backoff(unsigned round);

/* ---- backends ---- */
struct cg_v1_layout {
    unsigned nhier;
    uint8_t ctl_hier[CG__CTL_MAX];
    char path[CG_HIER_MAX][PATH_MAX];
};
/* Mount points of memory, pids and cpuacct (v1), each distinct mount
 * once, preferring mounts under fs. -EOPNOTSUPP when one is missing. */
int cg_v1_scan(const char *fs, const char *mountinfo, struct cg_v1_layout *out);
/* SIGKILL to every pid listed in g's groups until none is left (-EBUSY
 * after CG_KILL_ROUNDS). Sends nothing in fake mode. */
int cg_v1_kill_loop(struct cg_group *g);
/* The cgroup2 mount: fs when it is one, else one listed in mountinfo
 * (preferring mounts under fs); -ENOENT. */
int cg_v2_find_mount(const char *fs, const char *mountinfo, char *out, size_t size);
/* Whether the cgroup2 mount at mfd offers memory and pids (-EOPNOTSUPP);
 * *has_cpu tells about cpu. A fake tree without cgroup.controllers offers all. */
int cg_v2_controllers(const struct cg_common *c, int mfd, bool *has_cpu);
