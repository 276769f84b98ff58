/*
 * Host commands of a language: the version probe and the prepare step.
 *
 * Both run trusted binaries named by languages.ini with fixed arguments, on
 * the host (outside any box), as moat's own user. No user input reaches
 * them. They still run with a minimal environment, stdin from /dev/null,
 * bounded output and a timeout that kills the whole process group, so that a
 * wedged compiler cannot hang moat's start-up.
 */
#include "lang-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define VERSION_TIMEOUT_MS 10000
#define PREPARE_TIMEOUT_MS 120000
#define HOST_OUTPUT_MAX 4096

/* ---- running a host command ---- */

/* Between fork and execve only async-signal-safe calls: moat may have
 * threads by now. An exec failure travels to the parent as errno over a
 * CLOEXEC pipe. */
__attribute__((noreturn)) static void host_child(char *const *argv, int devnull, int out_fd,
                                                 int err_fd, pid_t parent)
{
    char path_env[] = "PATH=/usr/bin:/bin";
    char *const envp[] = {path_env, NULL};
    sigset_t none;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    (void)setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127); /* moat is gone: nobody wants the result */
    if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(out_fd, STDERR_FILENO) < 0)
        goto out;
    (void)sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)sigaction(SIGPIPE, &dfl, NULL);
    /* fds of other threads that were not opened O_CLOEXEC stay in moat */
    (void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(argv[0], argv, envp);
out:;
    int e = errno;
    if (write(err_fd, &e, sizeof(e)) != (ssize_t)sizeof(e))
        _exit(126);
    _exit(127);
}

/* Collects output until EOF and the child's exit, or the deadline. */
static int host_collect(pid_t pid, int fd, uint64_t deadline_ns, char *out, size_t cap,
                        size_t *kept, int *status)
{
    bool open_pipe = true;
    for (;;) {
        uint64_t now = moat_now_ns();
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        uint64_t left_ms = (deadline_ns - now) / 1000000u + 1;
        if (!open_pipe) {
            pid_t w = waitpid(pid, status, WNOHANG);
            if (w == pid)
                return 0;
            if (w < 0 && errno != EINTR)
                return -errno;
            /* EOF came first: the child is exiting, or a grandchild closed
             * its copy; poll its exit briefly */
            struct timespec ts = {.tv_nsec = 1000000};
            (void)nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0)
            continue;
        char chunk[4096];
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0) {
            open_pipe = false;
            continue;
        }
        size_t room = cap - 1 - *kept, take = (size_t)got < room ? (size_t)got : room;
        memcpy(out + *kept, chunk, take); /* the rest is read and dropped */
        *kept += take;
    }
}

static int host_status(char *const *argv, int status, int exec_errno, struct moat_err *err)
{
    if (exec_errno)
        return moat_err_set(err, -exec_errno, "cannot execute '%s': %s", argv[0],
                            strerror(exec_errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        return moat_err_set(err, -EIO, "'%s' exited with status %d", argv[0], WEXITSTATUS(status));
    return moat_err_set(err, -EIO, "'%s' was killed by signal %d", argv[0],
                        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int lang_host_run(char *const *argv, uint64_t timeout_ms, char *out, size_t cap, size_t *outlen,
                  struct moat_err *err)
{
    MOAT_ASSERT(cap > 0 && argv && argv[0]);
    *outlen = 0;
    out[0] = '\0';
    _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0)
        return moat_err_set(err, -errno, "cannot open /dev/null: %s", strerror(errno));
    int p[2], e[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return moat_err_set(err, -errno, "pipe: %s", strerror(errno));
    _cleanup_close_ int rd = p[0], wr = p[1];
    if (pipe2(e, O_CLOEXEC) < 0)
        return moat_err_set(err, -errno, "pipe: %s", strerror(errno));
    _cleanup_close_ int erd = e[0], ewr = e[1];
    uint64_t deadline = moat_now_ns() + timeout_ms * 1000000u;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return moat_err_set(err, -errno, "fork: %s", strerror(errno));
    if (pid == 0)
        host_child(argv, devnull, wr, ewr, parent);
    (void)setpgid(pid, pid); /* also done by the child: whichever runs first */
    (void)close(TAKE_FD(wr));
    (void)close(TAKE_FD(ewr));

    int status = 0;
    int r = host_collect(pid, rd, deadline, out, cap, outlen, &status);
    if (r < 0) {
        (void)kill(-pid, SIGKILL);
        (void)kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        out[*outlen] = '\0';
        if (r == -ETIMEDOUT)
            return moat_err_set(err, r, "'%s' ran longer than %" PRIu64 " ms", argv[0], timeout_ms);
        return moat_err_set(err, r, "waiting for '%s': %s", argv[0], strerror(-r));
    }
    out[*outlen] = '\0';
    int exec_errno = 0;
    if (read(erd, &exec_errno, sizeof(exec_errno)) != (ssize_t)sizeof(exec_errno))
        exec_errno = 0;
    return host_status(argv, status, exec_errno, err);
}

/* ---- version ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The first dotted number ("3.11.2") of the first line that has one. */
static int extract_version(const char *text, char *out, size_t outsz)
{
    for (const char *s = text; *s; s++) {
        if (!is_digit(*s) || (s > text && is_digit(s[-1])))
            continue;
        const char *e = s;
        size_t dots = 0;
        for (;;) {
            while (is_digit(*e))
                e++;
            if (e[0] == '.' && is_digit(e[1])) {
                e++;
                dots++;
                continue;
            }
            break;
        }
        if (dots == 0)
            continue;
        size_t n = (size_t)(e - s);
        if (n >= outsz)
            return -ENAMETOOLONG;
        memcpy(out, s, n);
        out[n] = '\0';
        return 0;
    }
    return -ENODATA;
}

static int path_join(char *out, size_t outsz, const char *a, const char *b, const char *c)
{
    int n = snprintf(out, outsz, "%s/%s%s", a, b, c);
    return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

/* Creates dir (0755) when missing; umask does not narrow it, since boxes
 * read the cache as another uid. */
static int mkdir_0755(const char *dir)
{
    if (mkdir(dir, 0755) == 0)
        return chmod(dir, 0755) < 0 ? -errno : 0;
    return errno == EEXIST ? 0 : -errno;
}

/* mkdir -p of every directory of path before its last component (or of all
 * of it when whole). */
static int mkdirs(const char *path, bool whole)
{
    char buf[PATH_MAX];
    if (moat_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
        return -ENAMETOOLONG;
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        int r = mkdir_0755(buf);
        *s = '/';
        if (r < 0)
            return r;
    }
    return whole ? mkdir_0755(buf) : 0;
}

static void version_store(const char *cache_dir, const char *name, const char *key,
                          const char *version)
{
    char dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX], tail[64];
    (void)snprintf(tail, sizeof(tail), ".tmp.%ld", (long)getpid());
    if (path_join(dir, sizeof(dir), cache_dir, "versions", "") < 0 ||
        path_join(final, sizeof(final), dir, name, "") < 0 ||
        path_join(tmp, sizeof(tmp), dir, name, tail) < 0 || mkdirs(dir, true) < 0)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return;
    int r = write_full(fd, key, strlen(key));
    if (r == 0)
        r = write_full(fd, version, strlen(version));
    if (r == 0)
        r = write_full(fd, "\n", 1);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0 || rename(tmp, final) < 0)
        (void)unlink(tmp);
}

/* The cached version when its key line matches. */
static bool version_cached(const char *cache_dir, const char *name, const char *key, char *out,
                           size_t outsz)
{
    char path[PATH_MAX], buf[1024];
    if (path_join(path, sizeof(path), cache_dir, "versions/", name) < 0)
        return false;
    ssize_t n = read_small_file_at(AT_FDCWD, path, buf, sizeof(buf));
    if (n < 0 || !str_has_prefix(buf, key))
        return false;
    char *v = buf + strlen(key);
    size_t len = strcspn(v, "\n");
    if (len == 0 || len >= outsz || v[len] != '\n' || v[len + 1] != '\0')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(v[i]) && v[i] != '.')
            return false;
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
}

int lang_version(const struct lang *l, const char *cache_dir, char *out, size_t outsz)
{
    if (outsz == 0)
        return -ENAMETOOLONG;
    out[0] = '\0';
    if (l->version_probed) {
        if (!l->version[0])
            return -ENODATA;
        return moat_strlcpy(out, l->version, outsz) < outsz ? 0 : -ENAMETOOLONG;
    }
    if (!*l->version_cmd)
        return -ENODATA;
    static const struct lang_vars none = {0};
    _cleanup_free_ char *storage = NULL;
    char **argv = NULL;
    int r = lang_expand_allowed(l->version_cmd, &none, 0, &argv, &storage, NULL);
    if (r < 0)
        return r;
    struct stat st;
    if (stat(argv[0], &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -ENOENT;
    /* a new binary (upgrade, alternatives switch) changes mtime or size */
    char key[512];
    int n = snprintf(key, sizeof(key), "%s\t%lld.%09ld\t%lld\n", l->version_cmd,
                     (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, (long long)st.st_size);
    if (n < 0 || (size_t)n >= sizeof(key))
        return -ENAMETOOLONG;
    if (cache_dir && *cache_dir && version_cached(cache_dir, l->name, key, out, outsz))
        return 0;

    char output[HOST_OUTPUT_MAX];
    size_t len = 0;
    r = lang_host_run(argv, VERSION_TIMEOUT_MS, output, sizeof(output), &len, NULL);
    if (r < 0)
        return r == -ETIMEDOUT ? r : -EIO;
    for (char *line = output; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        r = extract_version(line, out, outsz);
        if (r != -ENODATA)
            break;
        line = nl ? nl + 1 : line + strlen(line);
    }
    if (r < 0) {
        out[0] = '\0';
        return r;
    }
    if (cache_dir && *cache_dir)
        version_store(cache_dir, l->name, key, out);
    return 0;
}

/* ---- availability ---- */

static bool first_word_runs(const char *tmpl)
{
    char w[PATH_MAX];
    if (lang_first_word(tmpl, w, sizeof(w)) < 0)
        return false;
    if (w[0] != '/') /* ./main: made by the compile step */
        return true;
    struct stat st;
    return stat(w, &st) == 0 && S_ISREG(st.st_mode) && access(w, X_OK) == 0;
}

bool lang_available(const struct lang *l)
{
    if (l->version_probed)
        return l->available;
    return first_word_runs(l->run) && (!*l->compile || first_word_runs(l->compile));
}

/* ---- prepare ---- */

static bool is_file(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Removes what killed earlier runs left (<final>.tmp.<pid>, maybe 100 MB
 * each). Safe because every writer of such a file holds the lock. */
static void prepare_sweep(const char *final)
{
    char dir[PATH_MAX], prefix[NAME_MAX + 8];
    moat_strlcpy(dir, final, sizeof(dir));
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    int n = snprintf(prefix, sizeof(prefix), "%s.tmp.", slash + 1);
    if (n < 0 || (size_t)n >= sizeof(prefix))
        return;
    DIR *d = opendir(*dir ? dir : "/");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (str_has_prefix(e->d_name, prefix))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    (void)closedir(d);
}

/* Runs the prepare command into tmp; the caller holds the lock. */
static int prepare_run(const struct lang *l, const char *cache_dir, const char *tmp,
                       const char *final, struct moat_err *err)
{
    prepare_sweep(final);
    const struct lang_vars vars = {.cache = cache_dir, .output = tmp};
    _cleanup_free_ char *storage = NULL;
    char **argv = NULL;
    int r = lang_expand_allowed(l->prepare, &vars, LANG_PH_CACHE | LANG_PH_OUTPUT, &argv, &storage,
                                err);
    if (r < 0)
        return r;
    char output[HOST_OUTPUT_MAX];
    size_t len = 0;
    struct moat_err e = {0};
    r = lang_host_run(argv, PREPARE_TIMEOUT_MS, output, sizeof(output), &len, &e);
    if (r < 0) {
        (void)unlink(tmp);
        output[strcspn(output, "\n")] = '\0';
        return moat_err_set(err, r, "prepare of %s failed: %s%s%.120s", l->name, e.msg,
                            *output ? ": " : "", output);
    }
    if (!is_file(tmp)) {
        (void)unlink(tmp);
        return moat_err_set(err, -EIO, "prepare of %s did not write {output}", l->name);
    }
    if (chmod(tmp, 0644) < 0 || rename(tmp, final) < 0) {
        r = -errno;
        (void)unlink(tmp);
        return moat_err_set(err, r, "cannot install '%s': %s", final, strerror(-r));
    }
    return 1;
}

int lang_prepare(const struct lang *l, const char *cache_dir, struct moat_err *err)
{
    if (!*l->prepare)
        return 0;
    if (!cache_dir || !*cache_dir || !*l->prepare_output)
        return moat_err_set(err, -EINVAL, "prepare of %s needs a cache dir and an output", l->name);
    char final[PATH_MAX], lock[PATH_MAX], tmp[PATH_MAX], tail[64];
    (void)snprintf(tail, sizeof(tail), ".tmp.%ld", (long)getpid());
    if (path_join(final, sizeof(final), cache_dir, l->prepare_output, "") < 0 ||
        path_join(lock, sizeof(lock), cache_dir, l->prepare_output, ".lock") < 0 ||
        path_join(tmp, sizeof(tmp), cache_dir, l->prepare_output, tail) < 0)
        return moat_err_set(err, -ENAMETOOLONG, "cache path too long");
    if (is_file(final))
        return 0;
    int r = mkdirs(cache_dir, true);
    if (r == 0)
        r = mkdirs(final, false);
    if (r < 0)
        return moat_err_set(err, r, "cannot create the directories of '%s': %s", final,
                            strerror(-r));
    /* other moat processes may be here at the same time: one builds, the
     * others wait and then find the file */
    _cleanup_close_ int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return moat_err_set(err, -errno, "cannot open '%s': %s", lock, strerror(errno));
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return moat_err_set(err, -errno, "cannot lock '%s': %s", lock, strerror(errno));
    if (is_file(final))
        return 0;
    return prepare_run(l, cache_dir, tmp, final, err);
}
