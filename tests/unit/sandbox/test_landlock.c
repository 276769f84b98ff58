/*
 * Landlock: the ruleset of a box, built beneath a temporary tree that
 * imitates a box root, then enforced in a forked child that checks what it
 * may and may not do. Children report failures as text over a pipe and
 * leave with _exit; the parent asserts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "sandbox-internal.h"
#include "sbx_test.h"

/* The newest ABI whose rights these tests check (scoping, ABI 6): on a
 * kernel below it, part of the checks cannot run and the binary reports
 * itself skipped. */
#define LANDLOCK_NEWEST_CHECKED 6

struct tree {
    char root[64];
    int abi;
};

/* ---- the child's report channel ---- */

/* Runs fn(tree, report) in a child; fails the test with the child's text
 * when it reports anything or dies. */
static void run_child(const struct tree *t, void (*fn)(const struct tree *, struct sbx_report *))
{
    struct sbx_report r;
    int rfd = -1;
    pid_t pid = sbx_test_fork_reporter(&r, &rfd);
    if (pid == 0) {
        fn(t, &r);
        _exit(r.failures ? 1 : 0);
    }
    char label[32];
    (void)snprintf(label, sizeof label, "abi %d:\n", t->abi);
    sbx_test_wait_reporter(pid, rfd, label);
}

/* ---- the tree ---- */

static void tree_path(const struct tree *t, const char *rel, char *out, size_t size)
{
    (void)snprintf(out, size, "%s/%s", t->root, rel);
}

static void make_file(const struct tree *t, const char *rel)
{
    char p[256];
    tree_path(t, rel, p, sizeof(p));
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "data\n", 5), 5);
    (void)close(fd);
}

static void make_dir(const struct tree *t, const char *rel)
{
    char p[256];
    tree_path(t, rel, p, sizeof(p));
    assert_int_equal(mkdir(p, 0755), 0);
}

static int tree_setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    moat_strlcpy(t->root, "/tmp/moat-landlock-XXXXXX", sizeof(t->root));
    if (!mkdtemp(t->root)) {
        free(t);
        return -1;
    }
    static const char *const dirs[] = {"etc", "box", "tmp", "dev", "dev/shm"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(dirs); i++)
        make_dir(t, dirs[i]);
    /* Regular files stand in for the devices: the rules are per inode. */
    static const char *const files[] = {"etc/passwd", "box/input",  "dev/null",    "dev/zero",
                                        "dev/full",   "dev/random", "dev/urandom", "dev/other"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(files); i++)
        make_file(t, files[i]);
    t->abi = sbx_landlock_abi();
    *state = t;
    return 0;
}

static int rm_tree(const char *path)
{
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd < 0)
        return unlink(path);
    DIR *d = fdopendir(dfd);
    if (!d) {
        (void)close(dfd);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[512];
        (void)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        (void)rm_tree(sub);
    }
    (void)closedir(d);
    return rmdir(path);
}

static int tree_teardown(void **state)
{
    struct tree *t = *state;
    if (!t)
        return 0; /* tree_setup failed, and said so */
    int r = rm_tree(t->root);
    free(t);
    return r;
}

/* ---- helpers for the child ---- */

static int open_err(const struct tree *t, const char *rel, int flags)
{
    char p[256];
    if (rel[0] == '/')
        moat_strlcpy(p, rel, sizeof(p));
    else
        tree_path(t, rel, p, sizeof(p));
    int fd = open(p, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    (void)close(fd);
    return 0;
}

static int path_err(int r) { return r < 0 ? errno : 0; }

static void enforce_or_report(const struct tree *t, struct sbx_report *r, int abi)
{
    int rs = sbx_landlock_prepare_at(abi, t->root);
    sbx_check(r, rs >= 0, "prepare_at(%d): %s", abi, rs < 0 ? strerror(-rs) : "");
    if (rs < 0)
        _exit(1);
    sbx_check(r, (fcntl(rs, F_GETFD) & FD_CLOEXEC) != 0, "ruleset fd is not CLOEXEC");
    sbx_check(r, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs");
    int e = sbx_landlock_enforce(rs);
    sbx_check(r, e == 0, "enforce: %s", e < 0 ? strerror(-e) : "");
    if (e < 0)
        _exit(1);
    (void)close(rs);
}

#define CHECK_ERR(r, got, want, what)                                                              \
    do {                                                                                           \
        int got_ = (got);                                                                          \
        sbx_check((r), got_ == (want), "%s: got %s, want %s", (what),                              \
                  got_ ? strerror(got_) : "success", (want) ? strerror(want) : "success");         \
    } while (0)

/* ---- child bodies ---- */

static void check_read_only(const struct tree *t, struct sbx_report *r, int abi)
{
    char p[256], q[256];
    /* Reading and listing anywhere beneath the root. */
    CHECK_ERR(r, open_err(t, "etc/passwd", O_RDONLY), 0, "read etc/passwd");
    CHECK_ERR(r, open_err(t, "etc", O_RDONLY | O_DIRECTORY), 0, "list etc");
    CHECK_ERR(r, open_err(t, "box/input", O_RDONLY), 0, "read box/input");
    /* Nothing outside the root (in a box, there is no outside). */
    CHECK_ERR(r, open_err(t, "/etc/passwd", O_RDONLY), EACCES, "read host /etc/passwd");

    /* No writes outside the writable trees. */
    CHECK_ERR(r, open_err(t, "etc/passwd", O_WRONLY), EACCES, "write etc/passwd");
    CHECK_ERR(r, open_err(t, "etc/new", O_WRONLY | O_CREAT), EACCES, "create etc/new");
    tree_path(t, "etc/dir", p, sizeof(p));
    CHECK_ERR(r, path_err(mkdir(p, 0755)), EACCES, "mkdir etc/dir");
    tree_path(t, "etc/passwd", p, sizeof(p));
    CHECK_ERR(r, path_err(unlink(p)), EACCES, "unlink etc/passwd");
    tree_path(t, "etc/link", q, sizeof(q));
    CHECK_ERR(r, path_err(symlink("passwd", q)), EACCES, "symlink in etc");
    CHECK_ERR(r, open_err(t, "dev/other", O_WRONLY), EACCES, "write dev/other");
    if (abi >= 3) {
        tree_path(t, "etc/passwd", p, sizeof(p));
        CHECK_ERR(r, path_err(truncate(p, 0)), EACCES, "truncate etc/passwd");
    }
}

/* Writes inside /box, /tmp and /dev/shm. */
static void check_writable(const struct tree *t, struct sbx_report *r)
{
    char p[256], q[256];
    static const char *const writable[] = {"box", "tmp", "dev/shm"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(writable); i++) {
        char rel[64], what[96];
        (void)snprintf(rel, sizeof(rel), "%s/out", writable[i]);
        (void)snprintf(what, sizeof(what), "create %s", rel);
        CHECK_ERR(r, open_err(t, rel, O_WRONLY | O_CREAT | O_TRUNC), 0, what);
        (void)snprintf(rel, sizeof(rel), "%s/d", writable[i]);
        tree_path(t, rel, p, sizeof(p));
        CHECK_ERR(r, path_err(mkdir(p, 0755)), 0, "mkdir in a writable tree");
        CHECK_ERR(r, path_err(rmdir(p)), 0, "rmdir in a writable tree");
        (void)snprintf(rel, sizeof(rel), "%s/out", writable[i]);
        tree_path(t, rel, p, sizeof(p));
        (void)snprintf(rel, sizeof(rel), "%s/moved", writable[i]);
        tree_path(t, rel, q, sizeof(q));
        CHECK_ERR(r, path_err(rename(p, q)), 0, "rename in a writable tree");
        CHECK_ERR(r, path_err(truncate(q, 0)), 0, "truncate in a writable tree");
        CHECK_ERR(r, path_err(unlink(q)), 0, "unlink in a writable tree");
    }
    tree_path(t, "tmp/fifo", p, sizeof(p));
    CHECK_ERR(r, path_err(mkfifo(p, 0600)), 0, "mkfifo in tmp");
    CHECK_ERR(r, path_err(unlink(p)), 0, "unlink the fifo");
    /* Device nodes are never granted (the test runs as root: only
     * Landlock stands in the way here). */
    tree_path(t, "tmp/mem", p, sizeof(p));
    CHECK_ERR(r, path_err(mknod(p, S_IFCHR | 0600, makedev(1, 1))), EACCES, "mknod c in tmp");
}

static void child_files(const struct tree *t, struct sbx_report *r, int abi)
{
    enforce_or_report(t, r, abi);
    check_read_only(t, r, abi);
    check_writable(t, r);
    /* The sinks: `> /dev/null` opens with O_TRUNC. */
    CHECK_ERR(r, open_err(t, "dev/null", O_WRONLY | O_TRUNC), 0, "write dev/null");
    CHECK_ERR(r, open_err(t, "dev/zero", O_RDWR), 0, "read/write dev/zero");
    CHECK_ERR(r, open_err(t, "dev/full", O_WRONLY), 0, "write dev/full");
    CHECK_ERR(r, open_err(t, "dev/urandom", O_RDONLY), 0, "read dev/urandom");
    CHECK_ERR(r, open_err(t, "dev/random", O_WRONLY), EACCES, "write dev/random");
}

/* ABI 4: TCP bind and connect handled with no rule. ABI 6: signals and
 * abstract unix sockets scoped to the domain. */
static void child_scopes(const struct tree *t, struct sbx_report *r, int abi)
{
    /* An abstract socket made before the domain exists is outside it. */
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "moat-ll-%d", (int)getpid());
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    sbx_check(r, srv >= 0 && bind(srv, (struct sockaddr *)&sa, salen) == 0 && listen(srv, 1) == 0,
              "abstract listener: %s", strerror(errno));

    enforce_or_report(t, r, abi);

    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ce = connect(c, (struct sockaddr *)&sa, salen) < 0 ? errno : 0;
    CHECK_ERR(r, ce, abi >= 6 ? EPERM : 0, "connect to an abstract socket outside");
    CHECK_ERR(r, path_err(kill(getppid(), 0)), abi >= 6 ? EPERM : 0, "signal the parent");
    CHECK_ERR(r, path_err(kill(getpid(), 0)), 0, "signal itself");

    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    in.sin_port = htons(1);
    int be = bind(s, (struct sockaddr *)&in, sizeof(in)) < 0 ? errno : 0;
    int te = connect(s, (struct sockaddr *)&in, sizeof(in)) < 0 ? errno : 0;
    if (abi >= 4) {
        CHECK_ERR(r, be, EACCES, "TCP bind");
        CHECK_ERR(r, te, EACCES, "TCP connect");
    }
}

static void child_files_at_abi(const struct tree *t, struct sbx_report *r)
{
    child_files(t, r, t->abi);
}

static void child_scopes_at_abi(const struct tree *t, struct sbx_report *r)
{
    child_scopes(t, r, t->abi);
}

/* ---- tests ---- */

static bool lsm_lacks_landlock(void)
{
    char buf[512];
    ssize_t n = read_small_file_at(AT_FDCWD, "/sys/kernel/security/lsm", buf, sizeof(buf));
    return n >= 0 && !strstr(buf, "landlock");
}

static void test_abi(void **state)
{
    struct tree *t = *state;
    if (t->abi == 0)
        fail_msg("landlock ABI 0 but /sys/kernel/security/lsm does not rule it out");
    print_message("landlock ABI %d\n", t->abi);
    assert_true(t->abi >= 1);
    assert_int_equal(sbx_landlock_prepare(0), -EOPNOTSUPP);
    assert_int_equal(sbx_landlock_prepare_at(-1, t->root), -EOPNOTSUPP);
    assert_int_equal(sbx_landlock_enforce(-1), -EBADF);
}

/* main runs the cases only when the kernel reports an ABI or its LSM list
 * does not rule Landlock out: a missing ABI then is a failure to see, not
 * a skip (boxes would silently run without Landlock). */
#define NEED_LANDLOCK(t)                                                                           \
    do {                                                                                           \
        if ((t)->abi == 0)                                                                         \
            fail_msg("no Landlock ABI, yet the LSM list does not rule Landlock out");              \
    } while (0)

static void test_files(void **state)
{
    struct tree *t = *state;
    NEED_LANDLOCK(t);
    run_child(t, child_files_at_abi);
}

/* Every older ABI builds a valid ruleset with the same file behaviour
 * (within its rights), as on an older kernel. */
static void test_files_every_abi(void **state)
{
    struct tree *t = *state;
    NEED_LANDLOCK(t);
    int detected = t->abi;
    for (int abi = 1; abi <= detected; abi++) {
        struct tree older = *t;
        older.abi = abi;
        run_child(&older, child_files_at_abi);
        run_child(&older, child_scopes_at_abi);
    }
    /* An ABI newer than this code knows is treated as the newest known. */
    int rs = sbx_landlock_prepare_at(99, t->root);
    assert_true(rs >= 0);
    (void)close(rs);
}

static void test_scopes(void **state)
{
    struct tree *t = *state;
    NEED_LANDLOCK(t);
    run_child(t, child_scopes_at_abi);
    /* What an older kernel lacks is checked as absent (the rules still
     * build), but the protection itself went unchecked: say so. */
    if (t->abi < LANDLOCK_NEWEST_CHECKED)
        moat_test_skip_case("Landlock ABI %d < %d: truncate (3), TCP (4), signal and abstract "
                            "socket scoping (6) are not all checked on this kernel",
                            t->abi, LANDLOCK_NEWEST_CHECKED);
}

static void test_missing_paths_skipped(void **state)
{
    struct tree *t = *state;
    NEED_LANDLOCK(t);
    char bare[128]; /* a root without tmp, dev, ... */
    (void)snprintf(bare, sizeof(bare), "%s/box", t->root);
    int rs = sbx_landlock_prepare_at(t->abi, bare);
    assert_true(rs >= 0);
    (void)close(rs);
    /* The root itself is not optional. */
    assert_int_equal(sbx_landlock_prepare_at(t->abi, "/nonexistent-moat-root"), -ENOENT);
}

int main(void)
{
    if (sbx_landlock_abi() == 0) {
        (void)fprintf(stderr, "LANDLOCK IS NOT AVAILABLE on this kernel: boxes run without it\n");
        if (lsm_lacks_landlock())
            return moat_test_skip("landlock is not in the kernel's LSM list "
                                  "(/sys/kernel/security/lsm)");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_files_every_abi),
        cmocka_unit_test(test_missing_paths_skipped),
    };
    return moat_test_result(cmocka_run_group_tests(tests, tree_setup, tree_teardown));
}
