/*
 * Fixture helpers shared by the sandbox tests: files of a fake tree
 * (cgroup tests), a child that reports failed checks through a pipe (caps,
 * landlock), and for the tests that make a real context (box, pool) the
 * run directory and parent cgroups it leaves on the host, host processes
 * read from /proc and the root check (moat_test.h's, which also says how
 * a test skips and waits). Static inline, so that each test
 * uses what it needs; include after <cmocka.h>.
 *
 * The real-context fixture (struct sbx_test_fx) owns a context made under
 * /tmp/moat-ut-<tag>-<pid> with the parent cgroup moat-ut-<tag>-<pid>, on
 * a uid range of the test's own: the tests run in parallel, and two
 * contexts sharing uids or a cgroup name would take each other's leases.
 */
#ifndef MOAT_SBX_TEST_H
#define MOAT_SBX_TEST_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "moat/sandbox.h"
#include "moat/util.h"
#include "moat_test.h"

/* ---- files ---- */

/* Writes dir/file (created or truncated). */
static inline void sbx_test_put(const char *dir, const char *file, const char *content)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, content, strlen(content)), 0);
    (void)close(fd);
}

/* The contents of dir/file in buf, "<missing>" when absent. */
static inline const char *sbx_test_get(const char *dir, const char *file, char *buf, size_t size)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof path, "%s/%s", dir, file);
    return read_small_file_at(AT_FDCWD, path, buf, size) < 0 ? "<missing>" : buf;
}

static inline bool sbx_test_exists(const char *dir, const char *file)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof path, "%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

static inline int sbx_test_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes path and everything below it, best effort. */
static inline void sbx_test_rm_rf(const char *path)
{
    (void)nftw(path, sbx_test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- a child's report channel ---- */

/* A child cannot use cmocka's assertions (they longjmp into the parent's
 * copy of the runner): it writes a line per failed check to the pipe and
 * exits non-zero. */
struct sbx_report {
    int fd;
    int failures;
};

__attribute__((format(printf, 3, 4))) static inline void sbx_check(struct sbx_report *r, bool ok,
                                                                   const char *fmt, ...)
{
    if (ok)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(r->fd, line, (size_t)n);
    r->failures++;
}

/* Forks a reporting child: 0 in the child, with *r ready; the child's pid
 * in the parent, with the read end of the channel in *read_fd. */
static inline pid_t sbx_test_fork_reporter(struct sbx_report *r, int *read_fd)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)close(p[0]);
        *r = (struct sbx_report){.fd = p[1]};
        return 0;
    }
    (void)close(p[1]);
    *read_fd = p[0];
    return pid;
}

/* Collects the child's report (printed after label) and fails the test
 * when the child reported anything or did not exit 0. Takes read_fd. */
static inline void sbx_test_wait_reporter(pid_t pid, int read_fd, const char *label)
{
    char text[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(text) - 1 && (n = read(read_fd, text + len, sizeof(text) - 1 - len)) > 0)
        len += (size_t)n;
    text[len] = '\0';
    (void)close(read_fd);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (len > 0)
        print_error("%s%s", label, text);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- real contexts ---- */

/* Removes a context's run directory: the lease files under uid/ (a failed
 * test may leave some), uid/, root/ and the directory itself. -1 when any
 * of them stays. */
static inline int sbx_test_rm_run_dir(const char *run_dir)
{
    char dir[PATH_MAX];
    (void)snprintf(dir, sizeof dir, "%s/uid", run_dir);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                (void)unlinkat(dirfd(d), e->d_name, 0);
        (void)closedir(d);
    }
    int bad = rmdir(dir) < 0 && errno != ENOENT;
    (void)snprintf(dir, sizeof dir, "%s/root", run_dir);
    bad |= rmdir(dir) < 0 && errno != ENOENT;
    bad |= rmdir(run_dir) < 0 && errno != ENOENT;
    return bad ? -1 : 0;
}

/* Removes the parent groups (retrying while the kernel still counts a dead
 * box in one) and reaps what the test left unreaped. -1 when a group
 * stays. */
static inline int sbx_test_rm_parents(char (*parents)[PATH_MAX], unsigned n)
{
    int ret = 0;
    for (unsigned h = 0; h < n; h++) {
        int tries = 0;
        while (rmdir(parents[h]) < 0 && errno == EBUSY && tries++ < 100)
            (void)usleep(10000);
        if (access(parents[h], F_OK) == 0) {
            print_error("cleanup left %s behind\n", parents[h]);
            ret = -1;
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return ret;
}

/* A real context and what it leaves on the host. */
#define SBX_TEST_MAX_PARENTS 8

struct sbx_test_fx {
    struct sbx_config cfg; /* filled by sbx_test_fx_init, the test may adjust it */
    struct sbx_ctx *ctx;   /* made by sbx_test_fx_start */
    char run_dir[128];
    char cg_name[64];
    char parents[SBX_TEST_MAX_PARENTS][PATH_MAX]; /* <mount>/<cg_name> */
    unsigned nparents;
};

/* Fills x->cfg for a context of uid_count uids from uid_base, offset by
 * the pid so that two runs of the same test do not meet either. */
static inline void sbx_test_fx_init(struct sbx_test_fx *x, const char *tag, uint32_t uid_base,
                                    uint32_t uid_count)
{
    int pid = (int)getpid();
    (void)snprintf(x->run_dir, sizeof x->run_dir, "/tmp/moat-ut-%s-%d", tag, pid);
    (void)snprintf(x->cg_name, sizeof x->cg_name, "moat-ut-%s-%d", tag, pid);
    x->cfg = (struct sbx_config){
        .first_uid = uid_base + (uint32_t)(pid % 100) * 2 * uid_count,
        .uid_count = uid_count,
        .run_dir = x->run_dir,
        .cgroup_name = x->cg_name,
        .box_tmpfs_bytes = 64ull << 20,
        .tmp_tmpfs_bytes = 64ull << 20,
        .landlock = true,
    };
}

/* The parent groups, found by name (v1 hierarchies and unified, pure v2);
 * the v1 links to a shared hierarchy (cpu -> cpu,cpuacct) counted once. */
static inline void sbx_test_fx_find_parents(struct sbx_test_fx *x)
{
    char patterns[2][PATH_MAX];
    (void)snprintf(patterns[0], PATH_MAX, "/sys/fs/cgroup/*/%s", x->cg_name);
    (void)snprintf(patterns[1], PATH_MAX, "/sys/fs/cgroup/%s", x->cg_name);
    x->nparents = 0;
    for (size_t k = 0; k < MOAT_ARRAY_SIZE(patterns); k++) {
        glob_t g;
        if (glob(patterns[k], GLOB_ONLYDIR, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc && x->nparents < SBX_TEST_MAX_PARENTS; i++) {
            char real[PATH_MAX];
            if (!realpath(g.gl_pathv[i], real))
                continue;
            bool seen = false;
            for (unsigned j = 0; j < x->nparents; j++)
                seen |= strcmp(x->parents[j], real) == 0;
            if (!seen)
                moat_strlcpy(x->parents[x->nparents++], real, PATH_MAX);
        }
        globfree(&g);
    }
}

/* Makes the context of x->cfg and notes its parent groups. -1, with the
 * reason on stderr and the run directory removed, when it fails. */
static inline int sbx_test_fx_start(struct sbx_test_fx *x)
{
    struct moat_err err = {0};
    if (sbx_ctx_new(&x->cfg, &x->ctx, &err) < 0) {
        print_error("sbx_ctx_new: %s\n", err.msg);
        x->ctx = NULL;
        (void)sbx_test_rm_run_dir(x->run_dir);
        return -1;
    }
    sbx_test_fx_find_parents(x);
    assert_true(x->nparents > 0); /* else the cleanup checks would check nothing */
    return 0;
}

/* Frees the context (when the test has not) and removes what it left:
 * parent groups, run directory. Nothing for a fixture never initialised.
 * -1 when something stays. */
static inline int sbx_test_fx_stop(struct sbx_test_fx *x)
{
    if (x->run_dir[0] == '\0')
        return 0;
    sbx_ctx_free(x->ctx);
    x->ctx = NULL;
    int ret = sbx_test_rm_parents(x->parents, x->nparents);
    if (sbx_test_rm_run_dir(x->run_dir) < 0) {
        print_error("cleanup left %s behind\n", x->run_dir);
        ret = -1;
    }
    return ret;
}

/* The next host process of the /proc listing d: its pid, and its status
 * file in text. Processes that exit meanwhile are skipped. false at the
 * end. */
static inline bool sbx_test_next_proc(DIR *d, pid_t *pid, char *text, size_t size)
{
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t p;
        if (parse_u64(e->d_name, 1, INT32_MAX, &p) < 0)
            continue;
        char path[300];
        (void)snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        if (read_small_file_at(AT_FDCWD, path, text, size) < 0)
            continue;
        *pid = (pid_t)p;
        return true;
    }
    return false;
}

/* ---- what the host sees of a box's processes ----
 * No cmocka assertion in the process helpers: a test's thread may call
 * them while the main thread runs a step. */

struct sbx_test_proc {
    pid_t pid, ppid;
    char name[32];
};

enum sbx_test_match {
    SBX_TEST_BY_UID,    /* any of its real, effective, saved or fs uids */
    SBX_TEST_BY_PARENT, /* its parent pid */
};

/* Fills p from the text of /proc/<pid>/status (taken apart by strtok);
 * *uid_match when uid is any of its uids. The status file, because
 * /proc/<pid> of a non-dumpable process is owned by root. */
static inline void sbx_test_parse_status(char *text, uint32_t uid, struct sbx_test_proc *p,
                                         bool *uid_match)
{
    char *save = NULL;
    *uid_match = false;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        unsigned u[4];
        int pp;
        if (sscanf(l, "Uid: %u %u %u %u", &u[0], &u[1], &u[2], &u[3]) == 4)
            *uid_match = u[0] == uid || u[1] == uid || u[2] == uid || u[3] == uid;
        else if (sscanf(l, "PPid: %d", &pp) == 1)
            p->ppid = pp;
        else if (strncmp(l, "Name:\t", 6) == 0)
            moat_strlcpy(p->name, l + 6, sizeof p->name);
    }
}

/* Host processes matching by with id, and named name unless it is NULL:
 * how many, the first max of them in out. SIZE_MAX when /proc cannot be
 * listed. */
static inline size_t sbx_test_scan_procs(enum sbx_test_match by, uint32_t id, const char *name,
                                         struct sbx_test_proc *out, size_t max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return SIZE_MAX;
    size_t n = 0;
    pid_t pid;
    char text[4096];
    while (sbx_test_next_proc(d, &pid, text, sizeof text)) {
        struct sbx_test_proc p = {.pid = pid};
        bool uid_match;
        sbx_test_parse_status(text, id, &p, &uid_match);
        bool match = by == SBX_TEST_BY_UID ? uid_match : p.ppid == (pid_t)id;
        match = match && (!name || strcmp(p.name, name) == 0);
        if (match && n < max)
            out[n] = p;
        n += match;
    }
    (void)closedir(d);
    return n;
}

/* Waits (bounded) until a host process named name matches by and id, as
 * a step's program does once its execve is done (it then bears the
 * program's name): its pid, or 0 when none showed up in timeout_ms. */
static inline pid_t sbx_test_wait_proc(enum sbx_test_match by, uint32_t id, const char *name,
                                       unsigned timeout_ms)
{
    uint64_t dl = moat_test_deadline_ms(timeout_ms);
    struct sbx_test_proc p = {0};
    size_t n;
    while (((n = sbx_test_scan_procs(by, id, name, &p, 1)) == 0 || n == SIZE_MAX) &&
           moat_test_before(dl))
        ;
    return n != 0 && n != SIZE_MAX ? p.pid : 0;
}

/* /proc/<pid>/<file> in buf: false unless read whole. */
static inline bool sbx_test_read_proc(pid_t pid, const char *file, char *buf, size_t size)
{
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    ssize_t n = read_small_file_at(AT_FDCWD, path, buf, size);
    return n > 0 && (size_t)n < size - 1;
}

/* The value of field name ("CapEff") of a status text in out, "" when
 * absent. */
static inline const char *sbx_test_status_field(const char *status, const char *name, char *out,
                                                size_t size)
{
    char key[32];
    (void)snprintf(key, sizeof key, "\n%s:", name);
    const char *p = strstr(status, key);
    out[0] = '\0';
    if (p) {
        p += strlen(key);
        p += strspn(p, " \t");
        (void)snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
    }
    return out;
}

/* One line of a mountinfo file (proc(5)). */
struct sbx_test_mount {
    char dev[16];    /* major:minor of the filesystem */
    char root[256];  /* the bound directory or file inside it */
    char point[256]; /* where the process sees it */
    char opts[256];  /* per-mount options: ro, nosuid, ... */
    char fstype[32];
};

/* Whether the comma-separated list opts holds opt. */
static inline bool sbx_test_has_opt(const char *opts, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = opts; p; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    }
    return false;
}

/* The mounts of a mountinfo text, at most max: how many. Fails the test
 * on a line it cannot read. */
static inline size_t sbx_test_parse_mountinfo(const char *text, struct sbx_test_mount *m,
                                              size_t max)
{
    size_t n = 0;
    for (const char *l = text; *l && n < max; l += strcspn(l, "\n") + (strchr(l, '\n') != NULL)) {
        struct sbx_test_mount e = {0};
        const char *sep = strstr(l, " - ");
        if (sscanf(l, "%*d %*d %15s %255s %255s %255s", e.dev, e.root, e.point, e.opts) != 4 ||
            !sep || sscanf(sep, " - %31s", e.fstype) != 1)
            fail_msg("bad mountinfo line: %.*s", (int)strcspn(l, "\n"), l);
        m[n++] = e;
    }
    return n;
}

/* The mount at point, the last of several (the one on top); NULL. */
static inline const struct sbx_test_mount *sbx_test_mount_at(const struct sbx_test_mount *m,
                                                             size_t n, const char *point)
{
    const struct sbx_test_mount *found = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].point, point) == 0)
            found = &m[i];
    return found;
}

/* false, with a "SKIPPED:" line on stderr, when the test cannot run real
 * boxes (not root); main then returns MOAT_TEST_SKIPPED. The one root check
 * of moat_test.h, under the name the box tests know. */
static inline bool sbx_test_have_root(const char *what)
{
    return moat_test_have_root(what);
}

#endif
