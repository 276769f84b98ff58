/*
 * The seccomp policy loaded: the compiled filter's behaviour on real calls
 * (the table itself is test_seccomp_table.c). Each behaviour case runs in
 * a forked child that loads the filter after no_new_privs and reports one
 * int back over a pipe; the parent asserts. Children never use cmocka and
 * leave with _exit, so a failing child cannot run the rest of the suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "sandbox-internal.h"
#include "../moat_test.h"
#include "seccomp_fx.h"

#define NO_REPORT (-1000) /* the child died before writing its result */

/* Runs fn in a child under the filter; returns what fn returned (or
 * NO_REPORT) and the wait status in *status. */
static int run_filtered(const struct sbx_filter *f, int (*fn)(void), int *status)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)close(p[0]);
        int v = NO_REPORT - 1;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && sbx_seccomp_apply(f) == 0)
            v = fn();
        (void)!write(p[1], &v, sizeof(v));
        _exit(0);
    }
    (void)close(p[1]);
    int v = NO_REPORT;
    if (read(p[0], &v, sizeof(v)) != (ssize_t)sizeof(v))
        v = NO_REPORT;
    (void)close(p[0]);
    assert_int_equal(waitpid(pid, status, 0), pid);
    return v;
}

static void expect_result(void **state, int (*fn)(void), int want, const char *what)
{
    int status = 0;
    int got = run_filtered(*state, fn, &status);
    if (got != want)
        print_error("%s: got %d (%s), want %d (%s)\n", what, got, got > 0 ? strerror(got) : "-",
                    want, want > 0 ? strerror(want) : "-");
    assert_int_equal(got, want);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#define EXPECT(fn, want) expect_result(state, fn, want, #fn)

static void expect_sigsys(void **state, int (*fn)(void), const char *what)
{
    int status = 0;
    int got = run_filtered(*state, fn, &status);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
        print_error("%s: not killed by SIGSYS (status %#x, result %d)\n", what, status, got);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
    assert_int_equal(got, NO_REPORT);
}

static int err_of(long r) { return r < 0 ? errno : 0; }

static void test_build_and_release(void **state)
{
    const struct sbx_filter *f = *state;
    assert_non_null(f->insns);
    assert_true(f->len > 0);
    struct sbx_filter g;
    assert_int_equal(sbx_seccomp_build(&g, NULL), 0);
    assert_int_equal(g.len, f->len);
    assert_memory_equal(g.insns, f->insns, f->len * sizeof(*f->insns));
    sbx_seccomp_release(&g);
    assert_null(g.insns);
    sbx_seccomp_release(&g);
    sbx_seccomp_release(NULL);
    assert_int_equal(sbx_seccomp_apply(&g), -EINVAL);
    assert_int_equal(sbx_seccomp_apply(NULL), -EINVAL);
}

/* ================= behaviour: processes and namespaces ================= */

static int p_getpid(void) { return syscall(SYS_getpid) == getpid() && getpid() > 0 ? 0 : -1; }
static int p_unshare_user(void) { return err_of(unshare(CLONE_NEWUSER)); }
static int p_unshare_nothing(void) { return err_of(unshare(0)); }
static int p_clone3(void)
{
    struct clone_args a = {.exit_signal = SIGCHLD};
    long r = syscall(SYS_clone3, &a, sizeof(a));
    if (r == 0)
        _exit(0);
    return err_of(r);
}
static int raw_clone(unsigned long flags)
{
    long r = syscall(SYS_clone, flags, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    int e = err_of(r);
    if (r > 0)
        (void)waitpid((pid_t)r, NULL, 0);
    return e;
}
static int p_clone_newuser(void) { return raw_clone(CLONE_NEWUSER | SIGCHLD); }
static int p_clone_newuser_high(void) { return raw_clone(CLONE_NEWUSER | (1ul << 32) | SIGCHLD); }
static int p_clone_newnet(void) { return raw_clone(CLONE_NEWNET | SIGCHLD); }
static int p_clone_plain(void) { return raw_clone(SIGCHLD); }
static void *thread_fn(void *arg) { return arg; }
static int p_pthread(void)
{
    pthread_t t;
    int r = pthread_create(&t, NULL, thread_fn, (void *)42);
    if (r != 0)
        return r;
    void *ret = NULL;
    r = pthread_join(t, &ret);
    return r != 0 ? r : ret == (void *)42 ? 0 : -1;
}
static int p_fork(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid == 0)
        _exit(7);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : -1;
}
static int p_exec_true(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid == 0) {
        char *const argv[] = {(char *)"true", NULL};
        char *const envp[] = {NULL};
        execve("/bin/true", argv, envp);
        _exit(100 + errno % 100);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

static void test_processes(void **state)
{
    EXPECT(p_getpid, 0);
    EXPECT(p_unshare_user, EPERM);
    EXPECT(p_unshare_nothing, EPERM);
    EXPECT(p_clone3, ENOSYS);
    EXPECT(p_clone_newuser, EPERM);
    EXPECT(p_clone_newuser_high, EPERM);
    EXPECT(p_clone_newnet, EPERM);
    EXPECT(p_clone_plain, 0);
    EXPECT(p_pthread, 0);
    EXPECT(p_fork, 0);
    EXPECT(p_exec_true, 0);
}

/* ================= behaviour: sockets ================= */

static int socket_domain(long fd)
{
    if (fd < 0)
        return errno;
    int dom = -1;
    socklen_t len = sizeof(dom);
    int r = getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &dom, &len);
    (void)close((int)fd);
    return r < 0 ? -1 : dom == AF_UNIX ? 0 : 1000 + dom;
}
static int p_socket_inet(void) { return err_of(socket(AF_INET, SOCK_STREAM, 0)); }
static int p_socket_inet6(void) { return err_of(socket(AF_INET6, SOCK_DGRAM, 0)); }
static int p_socket_netlink(void) { return err_of(socket(AF_NETLINK, SOCK_RAW, 0)); }
static int p_socket_vsock(void) { return err_of(socket(AF_VSOCK, SOCK_STREAM, 0)); }
static int p_socket_unix(void)
{
    return socket_domain(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
}
/* CVE-2019-10063 style: junk in the high half of the int argument. */
static int p_socket_inet_high(void)
{
    long fd = syscall(SYS_socket, (1ul << 32) | AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        (void)close((int)fd);
        return 0;
    }
    return errno;
}
/* Allowed or denied, but never anything other than AF_UNIX. */
static int p_socket_unix_high(void)
{
    long fd = syscall(SYS_socket, (1ul << 32) | AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return errno == EPERM ? 0 : errno;
    return socket_domain(fd);
}
static int p_socketpair_unix(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return errno;
    (void)close(sv[0]);
    (void)close(sv[1]);
    return 0;
}
static int p_socketpair_inet(void)
{
    int sv[2];
    return err_of(socketpair(AF_INET, SOCK_STREAM, 0, sv));
}

static void test_sockets(void **state)
{
    EXPECT(p_socket_inet, EPERM);
    EXPECT(p_socket_inet6, EPERM);
    EXPECT(p_socket_netlink, EPERM);
    EXPECT(p_socket_vsock, EPERM);
    EXPECT(p_socket_unix, 0);
    EXPECT(p_socket_inet_high, EPERM);
    EXPECT(p_socket_unix_high, 0);
    EXPECT(p_socketpair_unix, 0);
    EXPECT(p_socketpair_inet, EPERM);
}

/* ================= behaviour: ENOSYS and EPERM answers ================= */

static int p_io_uring(void)
{
    char params[120] = {0};
    return err_of(syscall(SYS_io_uring_setup, 8, params));
}
static int p_keyctl(void)
{
    return err_of(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
}
static int p_flock(void)
{
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int e = err_of(flock(fd, LOCK_SH | LOCK_NB));
    (void)close(fd);
    return e;
}
static int p_bpf(void) { return err_of(syscall(SYS_bpf, 0, NULL, 0)); }
/* Every unconditional ERRNO rule answers its errno, or 0 for a call it
 * ignores (checked with zero arguments: the filter answers before the
 * kernel would look at them). Returns 1 + the index of the first rule that
 * does not, 0 when all do. */
static int p_every_errno_rule(void)
{
    for (size_t i = 0; i < sbx_syscall_rules_len; i++) {
        const struct sbx_syscall_rule *r = &sbx_syscall_rules[i];
        int nr = seccomp_syscall_resolve_name(r->name);
        if (r->action != SBX_RULE_ERRNO || r->when != SBX_WHEN_ALWAYS || nr < 0)
            continue;
        errno = 0;
        long ret = syscall(nr, 0, 0, 0, 0, 0, 0);
        if (r->err == 0 ? ret != 0 : (ret != -1 || errno != r->err))
            return (int)i + 1;
    }
    return 0;
}
/* Absent syscalls, with arguments that would be harmless if they ran. */
static int p_default_denials(void)
{
    static const char dummy[] = "/nonexistent-moat-path";
    const struct {
        long nr;
        long a[6];
    } calls[] = {
        {SYS_setns, {-1, 0}},
        {SYS_mount, {0, 0, 0, 0, 0}},
        {SYS_umount2, {(long)dummy, 0}},
        {SYS_pivot_root, {(long)dummy, (long)dummy}},
        {SYS_chroot, {(long)dummy}},
        {SYS_ptrace, {-1, 0, 0, 0}},
        {SYS_process_vm_readv, {0, 0, 0, 0, 0, 0}},
        {SYS_process_vm_writev, {0, 0, 0, 0, 0, 0}},
        {SYS_kcmp, {0, 0, 99, 0, 0}},
        {SYS_pidfd_getfd, {-1, -1, 0}},
        {SYS_process_madvise, {-1, 0, 0, 0, 0}},
        {SYS_open_by_handle_at, {-1, 0, 0}},
        {SYS_name_to_handle_at, {-1, 0, 0, 0, 0}},
        {SYS_fsopen, {0, 0}},
        {SYS_fspick, {-1, 0, 0}},
        {SYS_fsmount, {-1, 0, 0}},
        {SYS_fsconfig, {-1, 0, 0, 0, 0}},
        {SYS_open_tree, {-1, 0, 0}},
        {SYS_move_mount, {-1, 0, -1, 0, 0}},
        {SYS_mount_setattr, {-1, 0, 0, 0, 0}},
        {SYS_init_module, {0, 0, 0}},
        {SYS_finit_module, {-1, 0, 0}},
        {SYS_delete_module, {0, 0}},
        {SYS_reboot, {0, 0, 0, 0}},
        {SYS_swapoff, {0}},
        {SYS_clock_settime, {0, 0}},
        {SYS_settimeofday, {0, 0}},
        {SYS_adjtimex, {0}},
        {SYS_capset, {0, 0}},
        {SYS_set_mempolicy, {0, 0, 0}},
        {SYS_move_pages, {0, 0, 0, 0, 0, 0}},
        {SYS_migrate_pages, {0, 0, 0, 0}},
        {1000, {0}}, /* not a syscall at all: the default, not the kernel's ENOSYS */
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(calls); i++) {
        errno = 0;
        long r = syscall(calls[i].nr, calls[i].a[0], calls[i].a[1], calls[i].a[2], calls[i].a[3],
                         calls[i].a[4], calls[i].a[5]);
        if (r != -1 || errno != EPERM)
            return (int)calls[i].nr + 1;
    }
    return 0;
}

static void test_errno_answers(void **state)
{
    EXPECT(p_io_uring, ENOSYS);
    EXPECT(p_keyctl, ENOSYS);
    EXPECT(p_flock, ENOSYS);
    EXPECT(p_bpf, ENOSYS);
    EXPECT(p_every_errno_rule, 0);
    EXPECT(p_default_denials, 0);
}

/* ================= behaviour: filtered arguments ================= */

static char work_dir[64];

static int in_work_dir(void) { return chdir(work_dir) < 0 ? -1 : 0; }
static int p_mknod_chr(void)
{
    if (in_work_dir() < 0)
        return -1;
    return err_of(mknod("null", S_IFCHR | 0600, makedev(1, 3)));
}
static int p_mknod_blk(void)
{
    if (in_work_dir() < 0)
        return -1;
    return err_of(syscall(SYS_mknod, "blk", S_IFBLK | 0600, makedev(8, 0)));
}
/* S_IFCHR in the bits the kernel reads, S_IFIFO in bits it drops. */
static int p_mknod_chr_disguised(void)
{
    if (in_work_dir() < 0)
        return -1;
    unsigned long mode = (unsigned long)(S_IFCHR | 0600) | ((unsigned long)S_IFIFO << 16);
    return err_of(syscall(SYS_mknodat, AT_FDCWD, "null2", mode, makedev(1, 3)));
}
static int p_mkfifo(void)
{
    if (in_work_dir() < 0)
        return -1;
    int e = err_of(mkfifo("fifo", 0600));
    struct stat st;
    if (e == 0 && (lstat("fifo", &st) < 0 || !S_ISFIFO(st.st_mode)))
        e = -1;
    (void)unlink("fifo");
    return e;
}
static int p_mknod_reg(void)
{
    if (in_work_dir() < 0)
        return -1;
    int e = err_of(syscall(SYS_mknod, "reg", S_IFREG | 0600, 0));
    (void)unlink("reg");
    return e;
}
static int p_personality_rie(void) { return err_of(personality(READ_IMPLIES_EXEC)); }
static int p_personality_norandom(void)
{
    return err_of(syscall(SYS_personality, ADDR_NO_RANDOMIZE | (1ul << 32)));
}
static int p_personality_query(void)
{
    int cur = personality(0xffffffff);
    if (cur < 0)
        return errno;
    return err_of(personality((unsigned long)cur)); /* PER_LINUX: allowed */
}
static int p_fcntl_getlk(void)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return err_of(fcntl(0, F_GETLK, &fl));
}
static int p_fcntl_getlk_high(void)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return err_of(syscall(SYS_fcntl, 0, (1ul << 32) | F_GETLK, &fl));
}
static int p_fcntl_ofd_getlk(void)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return err_of(fcntl(0, F_OFD_GETLK, &fl));
}
static int p_fcntl_setlk(void)
{
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_len = 1};
    return err_of(fcntl(0, F_SETLK, &fl));
}
static int p_fcntl_ofd_setlkw(void)
{
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_len = 1};
    return err_of(fcntl(0, F_OFD_SETLKW, &fl));
}
static int p_setsockopt_filter(void)
{
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, 0xffff)};
    struct sock_fprog prog = {.len = 1, .filter = code};
    int e = err_of(setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));
    (void)close(s);
    return e;
}
static int p_setsockopt_sndbuf(void)
{
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int v = 65536;
    int e = err_of(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
    (void)close(s);
    return e;
}
static int p_seccomp_filter(void)
{
    struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = code};
    return err_of(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
}
static int p_prctl_seccomp(void)
{
    struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = code};
    return err_of(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0));
}
static int p_prctl_name(void) { return err_of(prctl(PR_SET_NAME, "moat-test", 0, 0, 0)); }
static int p_preadv2_nowait(void)
{
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    char b[16];
    struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
    int e = err_of(preadv2(fd, &iov, 1, 0, RWF_NOWAIT));
    (void)close(fd);
    return e;
}
static int p_preadv2_plain(void)
{
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    char b[16];
    struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
    int e = preadv2(fd, &iov, 1, 0, RWF_HIPRI) == (ssize_t)sizeof(b) ? 0 : -1;
    (void)close(fd);
    return e;
}
/* Advice that would evict shared pages succeeds and does nothing. */
static int p_fadvise_dontneed(void)
{
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    int e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    (void)close(fd);
    return e;
}
static int p_madvise_pageout(void)
{
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    (void)close(fd);
    if (m == MAP_FAILED)
        return -1;
    int e = err_of(madvise(m, 4096, 21 /* MADV_PAGEOUT */));
    (void)munmap(m, 4096);
    return e;
}
static int p_madvise_dontneed(void)
{
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    m[0] = 1;
    int e = err_of(madvise(m, 8192, MADV_DONTNEED));
    if (e == 0 && m[0] != 0)
        e = -2; /* must have run: the page comes back zeroed */
    (void)munmap(m, 8192);
    return e;
}
/* fsync of a read-only host file would flush the host's disk: 0, no flush
 * (the hostile suite counts the disk's flushes from the host). */
static int p_durability_ignored(void)
{
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    int e = fsync(fd) | fdatasync(fd) | syncfs(fd) | sync_file_range(fd, 0, 0, 0);
    sync();
    (void)close(fd);
    return e ? errno : 0;
}
static int p_ioctl_pidfd_info(void)
{
    int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    char info[128] = {0};
    int e = err_of(ioctl(pfd, 0xc040ff0bu /* PIDFD_GET_INFO */, info));
    (void)close(pfd);
    return e;
}
static int p_fcntl_notify(void) { return err_of(fcntl(0, F_NOTIFY, DN_ACCESS)); }
static int p_fcntl_setlease(void) { return err_of(fcntl(0, F_SETLEASE, F_RDLCK)); }
static int p_fcntl_ordinary(void)
{
    int p[2];
    if (pipe(p) < 0)
        return errno;
    int e = 0;
    if (fcntl(p[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(p[0], F_GETFD) != FD_CLOEXEC ||
        fcntl(p[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(p[0], F_DUPFD_CLOEXEC, 10) < 10 ||
        fcntl(p[1], F_SETPIPE_SZ, 65536) < 0)
        e = errno ? errno : -1;
    (void)close(p[0]);
    (void)close(p[1]);
    return e;
}
static int p_ioctl_tiocsti(void)
{
    char c = 'x';
    return err_of(ioctl(0, TIOCSTI, &c));
}
static int p_ioctl_tiocsti_high(void)
{
    char c = 'x';
    return err_of(syscall(SYS_ioctl, 0, (1ul << 32) | TIOCSTI, &c));
}
static int p_ioctl_tioclinux(void)
{
    char c = 0;
    return err_of(ioctl(0, TIOCLINUX, &c));
}
static int p_ioctl_ordinary(void)
{
    int p[2];
    if (pipe(p) < 0)
        return errno;
    int n = -1, e = 0;
    struct termios_probe {
        char buf[64];
    } tio;
    if (write(p[1], "abc", 3) != 3 || ioctl(p[0], FIONREAD, &n) < 0 || n != 3)
        e = -1;
    else if (ioctl(p[0], TCGETS, &tio) == 0 || errno != ENOTTY)
        e = -2; /* isatty() must get the kernel's answer, not the filter's */
    else if (ioctl(p[0], FIOCLEX) < 0)
        e = errno;
    (void)close(p[0]);
    (void)close(p[1]);
    return e;
}

static void test_filtered_arguments(void **state)
{
    EXPECT(p_mknod_chr, EPERM);
    EXPECT(p_mknod_blk, EPERM);
    EXPECT(p_mknod_chr_disguised, EPERM);
    EXPECT(p_mkfifo, 0);
    EXPECT(p_mknod_reg, 0);
    EXPECT(p_personality_rie, EPERM);
    EXPECT(p_personality_norandom, EPERM);
    EXPECT(p_personality_query, 0);
    EXPECT(p_fcntl_getlk, ENOLCK);
    EXPECT(p_fcntl_getlk_high, ENOLCK);
    EXPECT(p_fcntl_ofd_getlk, ENOLCK);
    EXPECT(p_fcntl_setlk, ENOLCK);
    EXPECT(p_fcntl_ofd_setlkw, ENOLCK);
    EXPECT(p_setsockopt_filter, EPERM);
    EXPECT(p_setsockopt_sndbuf, 0);
    EXPECT(p_seccomp_filter, EPERM);
    EXPECT(p_prctl_seccomp, EPERM);
    EXPECT(p_prctl_name, 0);
    EXPECT(p_preadv2_nowait, EOPNOTSUPP);
    EXPECT(p_preadv2_plain, 0);
    EXPECT(p_fadvise_dontneed, 0);
    EXPECT(p_madvise_pageout, 0);
    EXPECT(p_madvise_dontneed, 0);
    EXPECT(p_durability_ignored, 0);
    EXPECT(p_ioctl_pidfd_info, ENOTTY);
    EXPECT(p_fcntl_notify, EPERM);
    EXPECT(p_fcntl_setlease, EPERM);
    EXPECT(p_fcntl_ordinary, 0);
    EXPECT(p_ioctl_tiocsti, EPERM);
    EXPECT(p_ioctl_tiocsti_high, EPERM);
    EXPECT(p_ioctl_tioclinux, EPERM);
    EXPECT(p_ioctl_ordinary, 0);
}

/* ================= behaviour: other ABIs are killed ================= */

static int p_int80_getpid(void)
{
    long ret = 20; /* __NR_getpid on i386 */
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
    return (int)ret;
}
static int p_x32_getpid(void) { return (int)syscall(0x40000000L | SYS_getpid); }

static void test_foreign_abis_killed(void **state)
{
    expect_sigsys(state, p_int80_getpid, "i386 int $0x80 getpid");
    expect_sigsys(state, p_x32_getpid, "x32 getpid");
}

/* ================= runtimes under the filter ================= */

static const char *const *runtime_cmd;

static int p_run_cmd(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(120);
        if (chdir(work_dir) < 0)
            _exit(121);
        char *const envp[] = {(char *)"PATH=/usr/bin:/bin", (char *)"HOME=/tmp",
                              (char *)"LANG=C.UTF-8", NULL};
        execve(runtime_cmd[0], (char *const *)runtime_cmd, envp);
        _exit(122);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Real programs are the test of "everything runtimes need": each one
 * installed here must work unchanged under the filter. */
static void test_runtimes(void **state)
{
    static const char *const sh[] = {"/bin/sh", "-c",
                                     "x=$(echo a | cat); [ \"$x\" = a ] && : > f && rm f", NULL};
    static const char *const py[] = {
        "/usr/bin/python3", "-c",
        "import multiprocessing as m, threading, ctypes, subprocess\n"
        "def f(x): return x * x\n"
        "if __name__ == '__main__':\n"
        "    with m.Pool(2) as p: assert sum(p.map(f, range(5))) == 30\n"
        "    t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "    assert ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 3)() == 3\n"
        "    subprocess.run(['/bin/true'], check=True)\n",
        NULL};
    static const char *const node[] = {
        "/usr/bin/node", "-e",
        "const fs=require('fs');fs.writeFileSync('n.txt','x');"
        "fs.readFile('n.txt',(e)=>{if(e)process.exit(3);fs.unlinkSync('n.txt');"
        "require('child_process').execSync('true');})",
        NULL};
    static const char *const java[] = {"/usr/bin/java", "-XX:-UsePerfData", "-version", NULL};
    static const char *const perl[] = {
        "/usr/bin/perl", "-e", "my $p = fork; exit 0 unless $p; waitpid $p, 0; exit $?", NULL};
    const char *const *cmds[] = {sh, py, node, java, perl};
    int ran = 0;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cmds); i++) {
        if (access(cmds[i][0], X_OK) < 0) {
            /* scripts/deps.sh installs each: as root (CI) a missing one is
             * a broken host, elsewhere the case says what it left out */
            if (geteuid() == 0)
                fail_msg("%s is not installed (scripts/deps.sh installs it)", cmds[i][0]);
            moat_test_skip_case("%s is not installed: not checked under the filter", cmds[i][0]);
            continue;
        }
        runtime_cmd = cmds[i];
        expect_result(state, p_run_cmd, 0, cmds[i][0]);
        ran++;
    }
    assert_true(ran >= 1); /* /bin/sh at least */
}

static int make_work_dir(void **state)
{
    (void)state;
    moat_strlcpy(work_dir, "/tmp/moat-seccomp-XXXXXX", sizeof(work_dir));
    return mkdtemp(work_dir) ? 0 : -1;
}

static int remove_work_dir(void **state)
{
    (void)state;
    static const char *const leftovers[] = {"null", "null2", "blk", "fifo", "reg", "f", "n.txt"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(leftovers); i++) {
        char p[128];
        (void)snprintf(p, sizeof(p), "%s/%s", work_dir, leftovers[i]);
        (void)unlink(p);
    }
    return rmdir(work_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_release),
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_sockets),
        cmocka_unit_test(test_errno_answers),
        cmocka_unit_test_setup_teardown(test_filtered_arguments, make_work_dir, remove_work_dir),
        cmocka_unit_test(test_foreign_abis_killed),
        cmocka_unit_test_setup_teardown(test_runtimes, make_work_dir, remove_work_dir),
    };
    return moat_test_result(cmocka_run_group_tests(tests, seccomp_fx_setup, seccomp_fx_teardown));
}
