#pragma once
/*
 * The box: host side (box.c), its pid-1 supervisor "box init" (boxinit.c,
 * mounts.c, supervise.c), the pre-forked program process (program.c), the
 * wire format between them (wire.c), uid leases (lease.c) and the context.
 *
 * Process chain of a box (isolate's keeper/proxy/box, with namespaces):
 *
 *   moat (or the pool's spawner)          host namespaces, root
 *     └─ box init   pid 1 of new pid, mount, ipc, uts, net namespaces; still
 *        │          host root: builds the root, writes files, supervises
 *        └─ program pre-forked into a new user (+cgroup) namespace, host uid
 *                   U mapped to 1000, attached to the step's cgroup; waits
 *                   for one message, then rlimits, Landlock, seccomp, execve
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "moat/sandbox.h"
#include "sandbox-internal.h"

#define SBX_BOX_UID 1000 /* what the program sees as its uid and gid */
#define SBX_BOX_USER "box"
/* Fixed limits of every program, part of the policy rather than settings
 * (docs/security.md): signals queued at once (RLIMIT_SIGPENDING, which
 * also bounds POSIX timers). */
#define SBX_SIGPENDING_MAX 4096

/* What a host path was when the mount template bound it: a file replaced
 * by rename (ldconfig writes /etc/ld.so.cache so) keeps its old inode under
 * a bind, so a change means a new template. */
struct mounts_seen {
    dev_t dev;
    ino_t ino; /* 0: absent */
};
#define MOUNTS_SEEN_MAX 32

/* The template mount namespace (mounts.c): the read-only part of every
 * box's root, built once and copied by each box. */
struct mounts_template {
    int nsfd; /* its mount namespace (nsfs, O_CLOEXEC); -1 when none */
    struct mounts_seen seen[MOUNTS_SEEN_MAX];
};

struct sbx_ctx {
    struct sbx_config cfg;     /* strings point into the copies below */
    char run_dir[256];
    char cgroup_name[64];
    char cgroup_under[256]; /* as resolved by the first open (cg_root_under) */
    char cache_dir[256];
    char spawner_exe[4096];
    char root_dir[300];        /* run_dir/root: mount point of box roots */
    char lease_dir[300];       /* run_dir/uid */
    struct cg_root *cg;
    struct sbx_filter filter;
    int landlock_abi;          /* 0 when off or unavailable */
    uint32_t next_slot;        /* where the next lease search starts */
    int ncpu;                  /* CPUs the boxes may use, for CPU-limit polling */
    struct mounts_template tmpl;
    /* A cgroup hierarchy carries favordynmods: moving a process into a
     * cgroup does not wait for an RCU grace period, so box init moves its
     * first program process itself instead of forking a helper to overlap
     * the wait with the mounts. */
    bool cg_fast_attach;
    pid_t owner;               /* process that made the context */
};

/* (Re)opens the cgroup root, creating the parent group: another moat that
 * exited may have removed it when it was empty. */
int sbx_ctx_open_cgroups(struct sbx_ctx *ctx, struct moat_err *err);

/* ---- wire format: [u32 type][u32 0][u64 len] then len bytes ---- */
enum wire_type {
    WIRE_READY = 1, /* box init -> host: the box is prepared */
    WIRE_STEP,      /* host -> box init: run a step */
    WIRE_RESULT,    /* box init -> host: the step's result */
    WIRE_FAIL,      /* box init -> host: the box failed (message) */
};
#define WIRE_MAX_PAYLOAD ((uint64_t)256 << 20)

struct wire_reader {
    const char *p;
    size_t left;
    bool bad; /* set on any short read; later gets return zeroes */
};
int wire_send(int fd, enum wire_type type, const void *payload, size_t len);
/* Receives one message into *payload (caller frees). -EPIPE on EOF. */
int wire_recv(int fd, enum wire_type *type, char **payload, size_t *len);
int wire_put_u64(struct buf *b, uint64_t v);
int wire_put_bytes(struct buf *b, const void *data, size_t len);
int wire_put_str(struct buf *b, const char *s); /* bytes incl. the NUL */
uint64_t wire_get_u64(struct wire_reader *r);
const char *wire_get_bytes(struct wire_reader *r, size_t *len);
const char *wire_get_str(struct wire_reader *r); /* NULL unless NUL-terminated */

int wire_put_step(struct buf *b, const struct sbx_step *s);
/* Decoded step: pointers into the payload; argv/envp arrays malloc'ed. */
struct wire_step {
    struct sbx_limits limits;
    char **argv;
    char **envp;
    const char *stdin_data;
    size_t stdin_len;
    struct sbx_file *files;
    size_t nfiles;
    bool last;
    bool collect;
    uint64_t collect_max_bytes;
};
int wire_get_step(struct wire_reader *r, struct wire_step *s);
void wire_step_release(struct wire_step *s);
/* A result carries the files a step with collect handed back: at most
 * SBX_COLLECT_MAX_FILES, each name checked with sbx_file_name_ok and unique;
 * the decoder refuses anything else, and an overflow with files. */
int wire_put_result(struct buf *b, const struct sbx_result *res);
int wire_get_result(struct wire_reader *r, struct sbx_result *res);

/* ---- collecting a step's files (collect.c) ---- */
/* Box init, after a step of s->collect ran and every process of the box is
 * dead: reads every regular file under boxfd that is not one of s->files
 * into res->collected, never following a link or leaving the mount; a name
 * sbx_file_name_ok refuses is skipped, as is anything not a regular file.
 * At most SBX_COLLECT_MAX_FILES files and min(s->collect_max_bytes, room)
 * bytes, else res->collect_overflow and no files. -errno on a failure of
 * box init itself (-ENOMEM), with nothing collected. */
int collect_box_files(int boxfd, const struct wire_step *s, uint64_t room,
                      struct sbx_result *res);
/* Host side: whether what box init handed back is what step asked for
 * (nothing without collect; count, total bytes, names unique and none of
 * the step's own files). -EPROTO otherwise. */
int collect_check(const struct sbx_step *step, const struct sbx_result *res);

/* ---- uid leases: an flock on run_dir/uid/<uid>; the kernel drops it
 * when the owner dies, which is what makes crash sweeping safe ---- */
/* Takes a free uid; returns the lock fd (the lease) and the uid. */
int lease_take(struct sbx_ctx *ctx, uint32_t *uid, struct moat_err *err);
/* Tries to take the lease of one uid; -EWOULDBLOCK when someone holds it. */
int lease_try(struct sbx_ctx *ctx, uint32_t uid);
/* Removes what a dead owner of every free uid left (cgroups, processes). */
void lease_sweep(struct sbx_ctx *ctx);

/* ---- box init ---- */
struct boxinit_args {
    struct sbx_ctx *ctx;
    uint32_t uid;
    struct cg_group *cg; /* the box's group; steps get children */
    int ctl;             /* socket to the host */
    int netns;           /* pooled netns to join, -1 when cloned fresh */
};
/* Runs in the cloned child; never returns. */
__attribute__((noreturn)) void boxinit_main(struct boxinit_args *a);
/* Builds the box's root under ctx->root_dir and pivots into it. */
int mounts_build(const struct sbx_ctx *ctx, uint32_t uid, struct moat_err *err);
/* Host side, before a box is cloned (single-threaded caller): makes sure
 * ctx->tmpl holds a template that matches the host, building it (a forked
 * helper, ~45 mount calls) when there is none or a host path it binds
 * changed. 0 without doing anything when cfg.mount_template is off. */
int mounts_template_prepare(struct sbx_ctx *ctx, struct moat_err *err);
/* Whether a cgroup or cgroup2 mount of mountinfo carries favordynmods
 * (probe.c). */
bool sbx_probe_favordynmods(const char *mountinfo);
/* Closes the template (its namespace goes with the last box holding it). */
void mounts_template_release(struct mounts_template *t);
/* Box init, before it forks the program process: enters a private copy of
 * the template namespace (its root is the box's root, cwd /), closes the
 * template's fd and mounts the box's /proc (masked by mounts_finish). */
int mounts_enter_template(const struct sbx_ctx *ctx, struct moat_err *err);
/* Box init, in its copy of the template: mounts what is the box's own
 * (the masks over /proc, /box, /tmp, /dev/shm) and moves to /box. */
int mounts_finish(const struct sbx_ctx *ctx, uint32_t uid, struct moat_err *err);

/* Where the program process failed before its execve worked, as reported
 * on its exec_err pipe with the errno. */
enum program_stage {
    PROGRAM_STAGE_SETUP = 1,
    PROGRAM_STAGE_LIMITS,
    PROGRAM_STAGE_LANDLOCK,
    PROGRAM_STAGE_STDIO,
    PROGRAM_STAGE_SECCOMP,
    PROGRAM_STAGE_EXEC,
};

/* The pre-forked program process of one step. */
struct program {
    pid_t pid;
    int go_w;       /* spec to the program */
    int out_r;      /* its stdout */
    int err_r;      /* its stderr */
    int stdin_fd;   /* memfd holding stdin (read-write side) */
    int exec_err_r; /* errno of a failed execve, CLOEXEC pipe */
    struct cg_group *cg; /* the step's group */
    bool cg_owned;       /* a step group of its own (later steps), not the box's */
};
/* Work box init does while the new program process is being moved into its
 * cgroup (the first step's: building the root). */
struct prefork_hook {
    int (*fn)(void *arg, struct moat_err *err);
    void *arg;
};
int program_prefork(struct sbx_ctx *ctx, uint32_t uid, struct cg_group *box_cg,
                    unsigned step_no, const struct prefork_hook *hook, struct program *p,
                    struct moat_err *err);
void program_discard(struct program *p);
/* Sends the spec; the program applies it and execs. */
int program_go(struct program *p, const struct wire_step *s);

/* Runs the step to its end and fills res; every process of the box is dead
 * when it returns. cancel_fd becomes readable on a cancel request. */
int supervise_step(struct program *p, const struct wire_step *s, int ctl, int sigfd, int ncpu,
                   struct sbx_result *res);
/* Kills every process of the pid namespace but the caller (pid 1) and reaps
 * them all. */
void boxinit_kill_all(void);
