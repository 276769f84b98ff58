/*
 * Fixture helpers shared by the sandbox tests: files of a fake tree
 * (cgroup tests), a child that reports failed checks through a pipe (caps,
 * landlock), and for the tests that make a real context (box, pool) the
 * run directory and parent cgroups it leaves on the host, host processes
 * read from /proc and the root check. Static inline, so that each test
 * uses what it needs; include after <cmocka.h>.
 */
#ifndef MOAT_SBX_TEST_H
#define MOAT_SBX_TEST_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "moat/util.h"

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

/* The host paths (<mount>/<cgroup name>) of a context's n parent groups,
 * from the descriptors it holds. */
static inline unsigned sbx_test_parent_paths(const int *parent_fd, unsigned n,
                                             char (*parents)[PATH_MAX])
{
    for (unsigned h = 0; h < n; h++) {
        char link[64];
        (void)snprintf(link, sizeof link, "/proc/self/fd/%d", parent_fd[h]);
        ssize_t len = readlink(link, parents[h], PATH_MAX - 1);
        assert_true(len > 0);
        parents[h][len] = '\0';
    }
    return n;
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

/* false, with the reason on stderr, when the test cannot run real boxes;
 * main then exits 77 (skipped). */
static inline bool sbx_test_have_root(const char *what)
{
    if (geteuid() == 0)
        return true;
    (void)fprintf(stderr, "SKIPPED: the %s test runs real sandboxes and needs root (euid %d)\n",
                  what, (int)geteuid());
    return false;
}

#endif
