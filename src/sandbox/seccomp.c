/*
 * The seccomp policy of a box's program: an allowlist kept as data, one
 * reason per rule, compiled once per context with libseccomp and loaded by
 * each program process with a single prctl just before execve.
 *
 * Shape of the policy:
 *   - default: ERRNO(EPERM) for every syscall no rule names;
 *   - ENOSYS where a runtime must take its fallback path (clone3, io_uring)
 *     or where the kernel interface is legacy or cross-box surface;
 *   - argument filters where a syscall is needed but some of its uses are
 *     not (clone without namespace flags, AF_UNIX sockets only, ...);
 *   - any other architecture (i386 `int $0x80`, x32 numbers) kills the
 *     process: the policy is written for the x86_64 table alone.
 *
 * Arguments: libseccomp 2.5.4 compares 64-bit values, and SCMP_A0_32 still
 * emits a check that the high half is zero. The kernel ignores the high half
 * of an int argument, so a plain compare can be dodged with garbage in bits
 * 32..63 (CVE-2019-10063). Every filter below therefore compares under a
 * mask that lies entirely within the bits the kernel reads.
 */
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "sandbox-internal.h"

/* Linux fcntl commands newer than the libc headers here. */
#ifndef F_GETOWNER_UIDS
#define F_GETOWNER_UIDS 17
#endif
#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027
#endif
#ifndef F_CREATED_QUERY
#define F_CREATED_QUERY 1028
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define U32_MASK 0xffffffffull

/* Every flag that makes a new namespace. CLONE_NEWTIME shares its bit with
 * the exit signal of clone(), where no valid signal uses it. */
#define CLONE_NS_FLAGS                                                                             \
    ((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |      \
                CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME))

/* TIOCSTI (0x5412) and TIOCLINUX (0x541C) differ only in their low four
 * bits; everything from bit 4 up is this prefix. */
#define TIOC_INJECT_PREFIX 0x5410u
_Static_assert((TIOCSTI & ~0xfu) == TIOC_INJECT_PREFIX, "TIOCSTI moved");
_Static_assert((TIOCLINUX & ~0xfu) == TIOC_INJECT_PREFIX, "TIOCLINUX moved");

#define NVALS(...) ((unsigned)(sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)))

#define ALLOW(n, w)                                                                                \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ALLOW, .why = (w)                                          \
    }
#define FAIL(n, e, w)                                                                              \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ERRNO, .err = (e), .why = (w)                              \
    }
#define ALLOW_IF(n, a, m, w, ...)                                                                  \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ALLOW_IF_MASKED_EQ, .arg = (a), .mask = (m),               \
        .values = {__VA_ARGS__}, .nvalues = NVALS(__VA_ARGS__), .why = (w)                         \
    }

/*
 * ioctl minus TIOCSTI and TIOCLINUX, as an exact union of masked compares on
 * the low 32 bits of the command (the kernel's `unsigned int cmd`): a
 * command is allowed when, at the highest bit from 4 up where it differs
 * from the prefix above, it does differ (one rule per bit); commands equal
 * to the prefix from bit 4 up are listed one by one, the two injectors left
 * out. The box has no terminal at all (stdin a file, stdout and stderr
 * pipes, no /dev/tty, its own session), so this is depth, not the barrier.
 */
#define IOCTL_WHY                                                                                  \
    "every ioctl but TIOCSTI/TIOCLINUX (terminal input injection): runtimes probe "                \
    "isatty (TCGETS), FIONREAD, FIONBIO, FIOCLEX"
#define IOCTL_DIFFERS_AT(bit)                                                                      \
    ALLOW_IF("ioctl", 1, (U32_MASK << (bit)) & U32_MASK, IOCTL_WHY,                                \
             (uint64_t)(TIOC_INJECT_PREFIX ^ (1u << (bit))) & ((U32_MASK << (bit)) & U32_MASK))

#define FCNTL_WHY                                                                                  \
    "fd flags, dup, locks on own files, pipe sizes, seals; not F_GETLK/F_OFD_GETLK "               \
    "(lock state of shared /usr inodes is a cross-box channel), F_SETLEASE, F_NOTIFY, "            \
    "F_CANCELLK (other boxes' opens and writes)"

const struct sbx_syscall_rule sbx_syscall_rules[] = {
    /* ---- processes and threads ---- */
    ALLOW_IF("clone", 0, CLONE_NS_FLAGS,
             "fork, threads, posix_spawn and Go's raw clone; never a new namespace, where a "
             "user namespace would hand back every capability",
             0),
    FAIL("clone3", ENOSYS,
         "its flags sit in memory BPF cannot read; on ENOSYS glibc (pthread_create, "
         "posix_spawn) falls back to clone, on EPERM it fails"),
    ALLOW("fork", "legacy fork; same flags as a plain clone"),
    ALLOW("vfork", "legacy vfork (gcc's collect2, old shells)"),
    ALLOW("execve", "the program itself, compilers running cc1/as/ld, shells"),
    ALLOW("execveat", "fexecve and exec of a memfd (JITs, go run)"),
    ALLOW("exit", "thread exit"),
    ALLOW("exit_group", "process exit"),
    ALLOW("wait4", "waitpid and friends"),
    ALLOW("waitid", "waitid, Go and Java process reaping"),
    ALLOW("getpid", "pid queries; the box has its own pid namespace"),
    ALLOW("getppid", "parent pid"),
    ALLOW("gettid", "thread ids (Go, JVM, glibc)"),
    ALLOW("set_tid_address", "glibc thread start-up"),
    ALLOW("set_robust_list", "glibc robust mutexes at thread start"),
    ALLOW("get_robust_list", "robust mutex queries"),
    ALLOW("rseq", "glibc 2.35+ registers restartable sequences in every thread"),
    ALLOW("arch_prctl", "thread pointer (FS base) set-up by the loader and threads"),
    ALLOW("prctl", "thread names, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, dumpable; the privileged "
                   "options need capabilities the program does not have"),
    ALLOW_IF("personality", 0, U32_MASK,
             "query (0xffffffff), PER_LINUX, PER_LINUX32, UNAME26 only: no READ_IMPLIES_EXEC "
             "or ADDR_NO_RANDOMIZE",
             0, 8, 0x20000, 0x20008, 0xffffffff),
    ALLOW("setsid", "job control in shells and daemonising programs"),
    ALLOW("setpgid", "shell job control"),
    ALLOW("getpgid", "process group queries"),
    ALLOW("getpgrp", "process group queries"),
    ALLOW("getsid", "session queries"),
    ALLOW("seccomp", "a program may add filters; they can only restrict it further"),
    ALLOW("landlock_create_ruleset", "a program may restrict itself further"),
    ALLOW("landlock_add_rule", "a program may restrict itself further"),
    ALLOW("landlock_restrict_self", "a program may restrict itself further"),

    /* ---- memory ---- */
    ALLOW("brk", "malloc"),
    ALLOW("mmap", "loader, malloc, JIT code, file mappings; charged to the step's cgroup"),
    ALLOW("munmap", "unmapping"),
    ALLOW("mremap", "realloc of large blocks"),
    ALLOW("mprotect", "loader relro, JIT code of the JVM, V8 and libffi"),
    ALLOW("pkey_mprotect", "memory protection keys (V8 in Node.js)"),
    ALLOW("pkey_alloc", "memory protection keys (V8 in Node.js)"),
    ALLOW("pkey_free", "memory protection keys (V8 in Node.js)"),
    ALLOW("madvise", "allocators return memory (glibc, Go, JVM)"),
    ALLOW("mincore", "Go runtime probes; since 5.0 it reveals nothing of files the box "
                     "cannot write"),
    ALLOW("msync", "file mappings"),
    ALLOW("mlock", "bounded by RLIMIT_MEMLOCK"),
    ALLOW("mlock2", "bounded by RLIMIT_MEMLOCK"),
    ALLOW("munlock", "counterpart of mlock"),
    ALLOW("mlockall", "bounded by RLIMIT_MEMLOCK"),
    ALLOW("munlockall", "counterpart of mlockall"),
    ALLOW("membarrier", "JVM and .NET thread synchronisation"),
    ALLOW("memfd_create", "anonymous files (libffi closures, JITs); charged to the cgroup"),
    ALLOW("get_mempolicy", "NUMA queries of libnuma and the JVM; read-only"),
    ALLOW("map_shadow_stack", "CET shadow stacks of newer glibc; an mmap of the caller's own"),
    ALLOW("mseal", "newer glibc seals its own mappings; can only restrict the caller"),

    /* ---- signals ---- */
    ALLOW("rt_sigaction", "signal handlers"),
    ALLOW("rt_sigprocmask", "signal masks"),
    ALLOW("rt_sigreturn", "return from a handler"),
    ALLOW("rt_sigpending", "pending signals"),
    ALLOW("rt_sigtimedwait", "sigwait (JVM, Ruby)"),
    ALLOW("rt_sigsuspend", "sigsuspend (shells)"),
    ALLOW("rt_sigqueueinfo", "sigqueue within the box's pid namespace"),
    ALLOW("rt_tgsigqueueinfo", "thread-directed sigqueue"),
    ALLOW("sigaltstack", "Go, Python and the JVM run handlers on an alternate stack"),
    ALLOW("kill", "signals within the box's pid namespace (and Landlock scope)"),
    ALLOW("tkill", "thread signals"),
    ALLOW("tgkill", "thread signals: Go preemption, raise(), abort()"),
    ALLOW("pidfd_open", "process handles (newer Go, Python subprocess)"),
    ALLOW("pidfd_send_signal", "signals through process handles"),
    ALLOW("signalfd", "signals as fds"),
    ALLOW("signalfd4", "signals as fds (libuv, systemd-style loops)"),
    ALLOW("pause", "wait for a signal"),
    ALLOW("restart_syscall", "kernel restart of interrupted sleeps"),

    /* ---- time and timers ---- */
    ALLOW("clock_gettime", "clocks (the vDSO falls back to the syscall)"),
    ALLOW("clock_getres", "clock resolution"),
    ALLOW("clock_nanosleep", "sleeps"),
    ALLOW("nanosleep", "sleeps"),
    ALLOW("gettimeofday", "legacy clock"),
    ALLOW("time", "legacy clock"),
    ALLOW("times", "process times (shells, Perl)"),
    ALLOW("getitimer", "interval timers"),
    ALLOW("setitimer", "interval timers (profilers, alarm)"),
    ALLOW("alarm", "alarm()"),
    ALLOW("timer_create", "POSIX timers (Ruby's thread timer, Go profiling)"),
    ALLOW("timer_settime", "POSIX timers"),
    ALLOW("timer_gettime", "POSIX timers"),
    ALLOW("timer_getoverrun", "POSIX timers"),
    ALLOW("timer_delete", "POSIX timers"),
    ALLOW("timerfd_create", "timers as fds (libuv, JVM)"),
    ALLOW("timerfd_settime", "timers as fds"),
    ALLOW("timerfd_gettime", "timers as fds"),

    /* ---- files: open, read, write, metadata ---- */
    ALLOW("read", "I/O"),
    ALLOW("write", "I/O"),
    ALLOW("readv", "I/O"),
    ALLOW("writev", "I/O"),
    ALLOW("pread64", "I/O; the loader reads ELF headers with it"),
    ALLOW("pwrite64", "I/O"),
    ALLOW("preadv", "I/O"),
    ALLOW("pwritev", "I/O"),
    ALLOW("preadv2", "I/O"),
    ALLOW("pwritev2", "I/O"),
    ALLOW("open", "legacy open (old static binaries)"),
    ALLOW("openat", "open; reach is limited by the mounts and Landlock"),
    ALLOW("openat2", "open with RESOLVE_* flags"),
    ALLOW("creat", "legacy create"),
    ALLOW("close", "fds"),
    ALLOW("close_range", "closing inherited fds before exec (Python subprocess, Go)"),
    ALLOW("lseek", "I/O"),
    ALLOW("stat", "file metadata"),
    ALLOW("fstat", "file metadata"),
    ALLOW("lstat", "file metadata"),
    ALLOW("newfstatat", "file metadata (glibc's stat on x86_64)"),
    ALLOW("statx", "file metadata (libuv, Rust std, coreutils)"),
    ALLOW("statfs", "filesystem queries (JVM, coreutils)"),
    ALLOW("fstatfs", "filesystem queries"),
    ALLOW("access", "permission checks"),
    ALLOW("faccessat", "permission checks"),
    ALLOW("faccessat2", "permission checks (glibc 2.33+)"),
    ALLOW("readlink", "symlinks, /proc/self/exe"),
    ALLOW("readlinkat", "symlinks, /proc/self/exe"),
    ALLOW("getcwd", "working directory"),
    ALLOW("chdir", "working directory"),
    ALLOW("fchdir", "working directory"),
    ALLOW("getdents", "directory listing (legacy)"),
    ALLOW("getdents64", "directory listing"),
    ALLOW("mkdir", "directories in /box and /tmp"),
    ALLOW("mkdirat", "directories in /box and /tmp"),
    ALLOW("rmdir", "directories in /box and /tmp"),
    ALLOW("rename", "renames (compilers write then rename)"),
    ALLOW("renameat", "renames"),
    ALLOW("renameat2", "renames"),
    ALLOW("link", "hard links (protected_hardlinks guards foreign files)"),
    ALLOW("linkat", "hard links"),
    ALLOW("unlink", "deleting temporaries"),
    ALLOW("unlinkat", "deleting temporaries"),
    ALLOW("symlink", "symlinks"),
    ALLOW("symlinkat", "symlinks"),
    ALLOW_IF("mknod", 1, S_IFMT,
             "FIFOs and regular files only (type 0 means regular): no device nodes", S_IFIFO,
             S_IFREG, 0),
    ALLOW_IF("mknodat", 2, S_IFMT,
             "mkfifo (glibc calls mknodat); FIFOs and regular files only, no device nodes", S_IFIFO,
             S_IFREG, 0),
    ALLOW("chmod", "mode bits (ld marks its output executable); nosuid mounts make set-id "
                   "bits inert"),
    ALLOW("fchmod", "mode bits"),
    ALLOW("fchmodat", "mode bits"),
    ALLOW("fchmodat2", "mode bits (newer glibc's fchmodat with flags)"),
    ALLOW("chown", "ownership within the box's user namespace mapping"),
    ALLOW("fchown", "ownership within the box's user namespace mapping"),
    ALLOW("lchown", "ownership within the box's user namespace mapping"),
    ALLOW("fchownat", "ownership within the box's user namespace mapping"),
    ALLOW("umask", "file creation mask"),
    ALLOW("utime", "timestamps (touch, make)"),
    ALLOW("utimes", "timestamps"),
    ALLOW("futimesat", "timestamps"),
    ALLOW("utimensat", "timestamps"),
    ALLOW("truncate", "file size; RLIMIT_FSIZE bounds it"),
    ALLOW("ftruncate", "file size; RLIMIT_FSIZE bounds it"),
    ALLOW("fallocate", "preallocation (ld.gold, databases)"),
    ALLOW("fsync", "durability calls on the box's own files"),
    ALLOW("fdatasync", "durability calls on the box's own files"),
    ALLOW("sync", "coreutils sync; writable storage is tmpfs"),
    ALLOW("syncfs", "durability calls"),
    ALLOW("sync_file_range", "durability calls"),
    ALLOW("fadvise64", "read-ahead hints"),
    ALLOW("readahead", "read-ahead hints"),
    ALLOW("sendfile", "copying (cp, Python shutil)"),
    ALLOW("copy_file_range", "copying (cp, Rust fs::copy)"),
    ALLOW("splice", "pipe plumbing"),
    ALLOW("tee", "pipe plumbing"),
    ALLOW("vmsplice", "pipe plumbing"),
    ALLOW("getxattr", "xattr queries (ls, cp -a)"),
    ALLOW("lgetxattr", "xattr queries"),
    ALLOW("fgetxattr", "xattr queries"),
    ALLOW("listxattr", "xattr queries"),
    ALLOW("llistxattr", "xattr queries"),
    ALLOW("flistxattr", "xattr queries"),
    ALLOW("setxattr", "user xattrs (cp -a, tar); security.* needs capabilities the program "
                      "lacks"),
    ALLOW("lsetxattr", "user xattrs"),
    ALLOW("fsetxattr", "user xattrs"),
    ALLOW("removexattr", "user xattrs"),
    ALLOW("lremovexattr", "user xattrs"),
    ALLOW("fremovexattr", "user xattrs"),

    /* ---- fds, pipes, polling ---- */
    ALLOW("dup", "fds"),
    ALLOW("dup2", "fds (shell redirections)"),
    ALLOW("dup3", "fds"),
    ALLOW_IF("fcntl", 1, U32_MASK, FCNTL_WHY, F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_SETLK,
             F_SETLKW, F_SETOWN),
    ALLOW_IF("fcntl", 1, U32_MASK, FCNTL_WHY, F_GETOWN, F_SETSIG, F_GETSIG, F_SETOWN_EX,
             F_GETOWN_EX, F_GETOWNER_UIDS, F_OFD_SETLK, F_OFD_SETLKW),
    ALLOW_IF("fcntl", 1, U32_MASK, FCNTL_WHY, F_GETLEASE, F_DUPFD_CLOEXEC, F_SETPIPE_SZ,
             F_GETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS, F_GET_RW_HINT, F_SET_RW_HINT),
    ALLOW_IF("fcntl", 1, U32_MASK, FCNTL_WHY, F_GET_FILE_RW_HINT, F_SET_FILE_RW_HINT, F_DUPFD_QUERY,
             F_CREATED_QUERY),
    IOCTL_DIFFERS_AT(4),
    IOCTL_DIFFERS_AT(5),
    IOCTL_DIFFERS_AT(6),
    IOCTL_DIFFERS_AT(7),
    IOCTL_DIFFERS_AT(8),
    IOCTL_DIFFERS_AT(9),
    IOCTL_DIFFERS_AT(10),
    IOCTL_DIFFERS_AT(11),
    IOCTL_DIFFERS_AT(12),
    IOCTL_DIFFERS_AT(13),
    IOCTL_DIFFERS_AT(14),
    IOCTL_DIFFERS_AT(15),
    IOCTL_DIFFERS_AT(16),
    IOCTL_DIFFERS_AT(17),
    IOCTL_DIFFERS_AT(18),
    IOCTL_DIFFERS_AT(19),
    IOCTL_DIFFERS_AT(20),
    IOCTL_DIFFERS_AT(21),
    IOCTL_DIFFERS_AT(22),
    IOCTL_DIFFERS_AT(23),
    IOCTL_DIFFERS_AT(24),
    IOCTL_DIFFERS_AT(25),
    IOCTL_DIFFERS_AT(26),
    IOCTL_DIFFERS_AT(27),
    IOCTL_DIFFERS_AT(28),
    IOCTL_DIFFERS_AT(29),
    IOCTL_DIFFERS_AT(30),
    IOCTL_DIFFERS_AT(31),
    ALLOW_IF("ioctl", 1, U32_MASK, IOCTL_WHY, TIOC_INJECT_PREFIX | 0x0, TIOC_INJECT_PREFIX | 0x1,
             TIOC_INJECT_PREFIX | 0x3, TIOC_INJECT_PREFIX | 0x4, TIOC_INJECT_PREFIX | 0x5,
             TIOC_INJECT_PREFIX | 0x6, TIOC_INJECT_PREFIX | 0x7, TIOC_INJECT_PREFIX | 0x8),
    ALLOW_IF("ioctl", 1, U32_MASK, IOCTL_WHY, TIOC_INJECT_PREFIX | 0x9, TIOC_INJECT_PREFIX | 0xa,
             TIOC_INJECT_PREFIX | 0xb, TIOC_INJECT_PREFIX | 0xd, TIOC_INJECT_PREFIX | 0xe,
             TIOC_INJECT_PREFIX | 0xf),
    ALLOW("pipe", "pipes"),
    ALLOW("pipe2", "pipes"),
    ALLOW("eventfd", "event fds"),
    ALLOW("eventfd2", "event fds (libuv, JVM, Ruby)"),
    ALLOW("poll", "polling (Rust std checks fds 0-2 at start)"),
    ALLOW("ppoll", "polling"),
    ALLOW("select", "polling"),
    ALLOW("pselect6", "polling"),
    ALLOW("epoll_create", "epoll"),
    ALLOW("epoll_create1", "epoll (libuv, Go netpoller, JVM)"),
    ALLOW("epoll_ctl", "epoll"),
    ALLOW("epoll_wait", "epoll"),
    ALLOW("epoll_pwait", "epoll"),
    ALLOW("epoll_pwait2", "epoll"),

    /* ---- sockets: AF_UNIX only; the box's network namespace is empty too ---- */
    ALLOW_IF("socket", 0, U32_MASK,
             "AF_UNIX only: no netlink, packet, raw, VSOCK (crosses boxes), ALG (kernel "
             "crypto), and no IP even towards the empty network namespace",
             AF_UNIX),
    ALLOW_IF("socketpair", 0, U32_MASK,
             "AF_UNIX pairs (Python multiprocessing, subprocess plumbing)", AF_UNIX),
    ALLOW("bind", "unix sockets in /box and /tmp"),
    ALLOW("listen", "unix sockets"),
    ALLOW("accept", "unix sockets"),
    ALLOW("accept4", "unix sockets"),
    ALLOW("connect", "unix sockets; glibc tries nscd and fails over"),
    ALLOW("shutdown", "unix sockets"),
    ALLOW("getsockname", "unix sockets"),
    ALLOW("getpeername", "unix sockets"),
    ALLOW("getsockopt", "socket options"),
    ALLOW("setsockopt", "socket options"),
    ALLOW("sendto", "unix sockets"),
    ALLOW("recvfrom", "unix sockets"),
    ALLOW("sendmsg", "unix sockets, fd passing"),
    ALLOW("recvmsg", "unix sockets, fd passing"),
    ALLOW("sendmmsg", "unix sockets"),
    ALLOW("recvmmsg", "unix sockets"),

    /* ---- SysV and POSIX IPC: the box has its own IPC namespace ---- */
    ALLOW("shmget", "SysV shared memory; charged to the cgroup"),
    ALLOW("shmat", "SysV shared memory"),
    ALLOW("shmdt", "SysV shared memory"),
    ALLOW("shmctl", "SysV shared memory"),
    ALLOW("semget", "SysV semaphores"),
    ALLOW("semop", "SysV semaphores"),
    ALLOW("semtimedop", "SysV semaphores"),
    ALLOW("semctl", "SysV semaphores"),
    ALLOW("msgget", "SysV message queues"),
    ALLOW("msgsnd", "SysV message queues"),
    ALLOW("msgrcv", "SysV message queues"),
    ALLOW("msgctl", "SysV message queues"),
    ALLOW("mq_open", "POSIX message queues (RLIMIT_MSGQUEUE bounds them)"),
    ALLOW("mq_unlink", "POSIX message queues"),
    ALLOW("mq_timedsend", "POSIX message queues"),
    ALLOW("mq_timedreceive", "POSIX message queues"),
    ALLOW("mq_notify", "POSIX message queues"),
    ALLOW("mq_getsetattr", "POSIX message queues"),
    ALLOW("futex", "every lock and condition variable"),
    ALLOW("futex_waitv", "futex2 (Wine-style waits, newer runtimes)"),
    ALLOW("futex_wake", "futex2"),
    ALLOW("futex_wait", "futex2"),
    ALLOW("futex_requeue", "futex2"),

    /* ---- identity, limits, scheduling ---- */
    ALLOW("getuid", "identity"),
    ALLOW("geteuid", "identity"),
    ALLOW("getgid", "identity"),
    ALLOW("getegid", "identity"),
    ALLOW("getresuid", "identity"),
    ALLOW("getresgid", "identity"),
    ALLOW("getgroups", "identity"),
    ALLOW("setuid", "without capabilities only the current ids can be set"),
    ALLOW("setgid", "without capabilities only the current ids can be set"),
    ALLOW("setreuid", "without capabilities only the current ids can be set"),
    ALLOW("setregid", "without capabilities only the current ids can be set"),
    ALLOW("setresuid", "without capabilities only the current ids can be set"),
    ALLOW("setresgid", "without capabilities only the current ids can be set"),
    ALLOW("setfsuid", "without capabilities only the current ids can be set"),
    ALLOW("setfsgid", "without capabilities only the current ids can be set"),
    ALLOW("setgroups", "needs CAP_SETGID, which the program lacks; shells try it"),
    ALLOW("capget", "capability queries (libcap, Python os)"),
    ALLOW("uname", "kernel version checks (Go, glibc); the box has its own UTS namespace"),
    ALLOW("sysinfo", "memory size for allocators and the JVM"),
    ALLOW("getrlimit", "limits"),
    ALLOW("setrlimit", "limits; hard limits cannot be raised without capabilities"),
    ALLOW("prlimit64", "limits (Go raises NOFILE soft to hard)"),
    ALLOW("getrusage", "resource usage (gcc -time, shells)"),
    ALLOW("getpriority", "nice values"),
    ALLOW("setpriority", "lowering priority; raising needs CAP_SYS_NICE"),
    ALLOW("sched_yield", "spin loops, Go, JVM"),
    ALLOW("sched_getaffinity", "CPU count (Go, JVM, nproc, Node.js); the cpuset bounds it"),
    ALLOW("sched_setaffinity", "pinning within the cpuset"),
    ALLOW("sched_getparam", "scheduler queries"),
    ALLOW("sched_setparam", "real-time classes need capabilities and RLIMIT_RTPRIO"),
    ALLOW("sched_getscheduler", "scheduler queries"),
    ALLOW("sched_setscheduler", "real-time classes need capabilities and RLIMIT_RTPRIO"),
    ALLOW("sched_getattr", "scheduler queries"),
    ALLOW("sched_setattr", "real-time classes need capabilities and RLIMIT_RTPRIO"),
    ALLOW("sched_get_priority_max", "scheduler queries"),
    ALLOW("sched_get_priority_min", "scheduler queries"),
    ALLOW("sched_rr_get_interval", "scheduler queries"),
    ALLOW("getcpu", "sched_getcpu (JVM, allocators)"),
    ALLOW("ioprio_get", "I/O priority"),
    ALLOW("ioprio_set", "lowering I/O priority; raising needs capabilities"),
    ALLOW("getrandom", "randomness (Python, Go, Rust, glibc malloc)"),

    /* ---- answered ENOSYS: runtimes fall back, or nothing here needs them ---- */
    FAIL("io_uring_setup", ENOSYS,
         "io_uring runs operations (openat, socket) seccomp never sees; libuv falls back "
         "to epoll and its thread pool on failure"),
    FAIL("io_uring_enter", ENOSYS, "no io_uring"),
    FAIL("io_uring_register", ENOSYS, "no io_uring"),
    FAIL("io_setup", ENOSYS,
         "kernel AIO contexts count against the host-wide fs.aio-max-nr (cross-box "
         "exhaustion); glibc's POSIX AIO uses threads instead"),
    FAIL("io_destroy", ENOSYS, "no kernel AIO"),
    FAIL("io_submit", ENOSYS, "no kernel AIO"),
    FAIL("io_getevents", ENOSYS, "no kernel AIO"),
    FAIL("io_pgetevents", ENOSYS, "no kernel AIO"),
    FAIL("io_cancel", ENOSYS, "no kernel AIO"),
    FAIL("bpf", ENOSYS, "kernel attack surface"),
    FAIL("perf_event_open", ENOSYS, "kernel attack surface and side channels"),
    FAIL("userfaultfd", ENOSYS, "widens kernel race windows for exploits"),
    FAIL("keyctl", ENOSYS, "keyrings are not namespaced: data would persist across jobs"),
    FAIL("add_key", ENOSYS, "keyrings are not namespaced: data would persist across jobs"),
    FAIL("request_key", ENOSYS, "keyrings are not namespaced: data would persist across jobs"),
    FAIL("flock", ENOSYS,
         "locks on shared read-only /usr inodes are a cross-box channel; Go's cmd/go treats "
         "ENOSYS as locking unsupported and carries on"),
    FAIL("inotify_init", ENOSYS,
         "access/open events on shared /usr inodes reveal other boxes' activity; tail -f "
         "falls back to polling"),
    FAIL("inotify_init1", ENOSYS, "no inotify (cross-box channel)"),
    FAIL("inotify_add_watch", ENOSYS, "no inotify (cross-box channel)"),
    FAIL("inotify_rm_watch", ENOSYS, "no inotify (cross-box channel)"),
    FAIL("fanotify_init", ENOSYS, "filesystem-wide event monitoring: cross-box channel"),
    FAIL("fanotify_mark", ENOSYS, "filesystem-wide event monitoring: cross-box channel"),
    FAIL("memfd_secret", ENOSYS, "not needed; unmaps pages from the kernel's direct map"),
    FAIL("iopl", ENOSYS, "hardware port access"),
    FAIL("ioperm", ENOSYS, "hardware port access"),
    FAIL("modify_ldt", ENOSYS, "16-bit segments; historic kernel bugs"),
    FAIL("uselib", ENOSYS, "legacy a.out loader"),
    FAIL("lookup_dcookie", ENOSYS, "oprofile interface"),
    FAIL("nfsservctl", ENOSYS, "removed kernel NFS daemon interface"),
    FAIL("sysfs", ENOSYS, "legacy filesystem type query"),
    FAIL("ustat", ENOSYS, "legacy filesystem statistics"),
    FAIL("_sysctl", ENOSYS, "removed binary sysctl"),
};
const size_t sbx_syscall_rules_len = MOAT_ARRAY_SIZE(sbx_syscall_rules);

/*
 * Deliberately absent, so EPERM (the default): unshare, setns, mount,
 * umount2, pivot_root, chroot, the new mount API (fsopen, fsconfig, fsmount,
 * fspick, move_mount, open_tree, mount_setattr), open_by_handle_at,
 * name_to_handle_at, ptrace, process_vm_readv/writev, kcmp, pidfd_getfd,
 * process_madvise, process_mrelease, kernel modules, kexec_*, reboot,
 * swapon/off, acct, quotactl(_fd), syslog, clock and host-name setters,
 * vhangup, mbind, set_mempolicy(_home_node), move_pages, migrate_pages,
 * capset, set/get_thread_area, remap_file_pages, cachestat (page-cache state
 * of shared files), statmount/listmount and whatever the kernel adds next.
 */

static int add_rule(scmp_filter_ctx ctx, const struct sbx_syscall_rule *r, int nr,
                    struct moat_err *err)
{
    int rc = 0;
    switch (r->action) {
    case SBX_RULE_ALLOW:
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        break;
    case SBX_RULE_ERRNO:
        if (r->err <= 0 || r->err > 4095 || r->err == SBX_SECCOMP_DEFAULT_ERRNO)
            return moat_err_set(err, -EINVAL, "seccomp rule %s: bad errno %d", r->name, r->err);
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)r->err), nr, 0);
        break;
    case SBX_RULE_ALLOW_IF_MASKED_EQ:
        if (r->nvalues == 0 || r->nvalues > SBX_RULE_MAX_VALUES || r->arg > 5)
            return moat_err_set(err, -EINVAL, "seccomp rule %s: bad argument filter", r->name);
        /* One rule per value: libseccomp ORs rules of the same action. */
        for (unsigned i = 0; i < r->nvalues && rc == 0; i++) {
            if ((r->values[i] & ~r->mask) != 0)
                return moat_err_set(err, -EINVAL, "seccomp rule %s: value %#llx outside mask",
                                    r->name, (unsigned long long)r->values[i]);
            struct scmp_arg_cmp cmp = {.arg = r->arg,
                                       .op = SCMP_CMP_MASKED_EQ,
                                       .datum_a = r->mask,
                                       .datum_b = r->values[i]};
            rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
        }
        break;
    default:
        return moat_err_set(err, -EINVAL, "seccomp rule %s: unknown action", r->name);
    }
    if (rc < 0)
        return moat_err_set(err, rc, "seccomp rule %s: %s", r->name, strerror(-rc));
    return 0;
}

/* libseccomp 2.5.4 exports only to an fd; a memfd keeps it off the disk. */
static int export_program(scmp_filter_ctx ctx, struct sbx_filter *out, struct moat_err *err)
{
    _cleanup_close_ int fd = memfd_create("moat-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return moat_err_set(err, -errno, "seccomp: memfd_create: %s", strerror(errno));
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0)
        return moat_err_set(err, rc, "seccomp: export: %s", strerror(-rc));
    struct stat st;
    if (fstat(fd, &st) < 0)
        return moat_err_set(err, -errno, "seccomp: fstat: %s", strerror(errno));
    size_t size = (size_t)st.st_size;
    size_t n = size / sizeof(struct sock_filter);
    if (size == 0 || size % sizeof(struct sock_filter) != 0 || n > BPF_MAXINSNS)
        return moat_err_set(err, -E2BIG, "seccomp: program of %zu bytes is not loadable", size);
    _cleanup_free_ struct sock_filter *insns = malloc(size);
    if (!insns)
        return -ENOMEM;
    ssize_t got = pread(fd, insns, size, 0);
    if (got < 0 || (size_t)got != size)
        return moat_err_set(err, got < 0 ? -errno : -EIO, "seccomp: read back the program");
    out->insns = TAKE_PTR(insns);
    out->len = (unsigned short)n;
    return 0;
}

/* Builds the libseccomp context from the table. */
static int build_ctx(scmp_filter_ctx ctx, struct moat_err *err)
{
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    /* The caller sets no_new_privs itself; the export ignores this anyway. */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    /* A binary search over syscall numbers instead of a linear chain of
     * ~280 compares (rules still run in libseccomp's order per syscall). */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc < 0)
        return moat_err_set(err, rc, "seccomp: filter attributes: %s", strerror(-rc));
    for (size_t i = 0; i < sbx_syscall_rules_len; i++) {
        const struct sbx_syscall_rule *r = &sbx_syscall_rules[i];
        int nr = seccomp_syscall_resolve_name(r->name);
        /* Unknown to this libseccomp (__NR_SCMP_ERROR) or absent on x86_64
         * (negative pseudo numbers): the default action covers it. */
        if (nr < 0)
            continue;
        rc = add_rule(ctx, r, nr, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sbx_seccomp_build(struct sbx_filter *out, struct moat_err *err)
{
    out->insns = NULL;
    out->len = 0;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(SBX_SECCOMP_DEFAULT_ERRNO));
    if (!ctx)
        return moat_err_set(err, -ENOMEM, "seccomp: seccomp_init failed");
    int rc = build_ctx(ctx, err);
    if (rc == 0)
        rc = export_program(ctx, out, err);
    seccomp_release(ctx);
    return rc;
}

void sbx_seccomp_release(struct sbx_filter *f)
{
    if (!f)
        return;
    free(f->insns);
    f->insns = NULL;
    f->len = 0;
}

int sbx_seccomp_apply(const struct sbx_filter *f)
{
    if (!f || !f->insns || f->len == 0)
        return -EINVAL;
    /* The kernel copies the program; the cast drops const for the ABI. */
    struct sock_fprog prog = {.len = f->len, .filter = (struct sock_filter *)f->insns};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return -errno;
    return 0;
}
