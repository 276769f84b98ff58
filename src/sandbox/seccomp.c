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
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <pthread.h>
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
/* madvise advice and rw flags newer than the libc headers here. */
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif

#define U32_MASK 0xffffffffull

/* Every flag that makes a new namespace. CLONE_NEWTIME shares its bit with
 * the exit signal of clone(), where no valid signal uses it. */
#define CLONE_NS_FLAGS                                                                             \
    ((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |      \
                CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME))

#define NVALS(...) ((unsigned)(sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)))

#define ALLOW(n, w)                                                                                \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ALLOW, .when = SBX_WHEN_ALWAYS, .why = (w)                 \
    }
#define FAIL(n, e, w)                                                                              \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ERRNO, .err = (e), .when = SBX_WHEN_ALWAYS, .why = (w)     \
    }
/* Answers 0 and does nothing: for hints and for calls whose only effect in
 * a box would be on the host (flushing its disks, its page cache). */
#define IGNORE(n, w) FAIL(n, 0, w)
#define ALLOW_IF(n, a, m, w, ...)                                                                  \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ALLOW, .when = SBX_WHEN_ANY, .arg = (a), .mask = (m),      \
        .values = {__VA_ARGS__}, .nvalues = NVALS(__VA_ARGS__), .why = (w)                         \
    }
#define FAIL_IF(n, a, m, e, w, ...)                                                                \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ERRNO, .err = (e), .when = SBX_WHEN_ANY, .arg = (a),       \
        .mask = (m), .values = {__VA_ARGS__}, .nvalues = NVALS(__VA_ARGS__), .why = (w)            \
    }
#define IGNORE_IF(n, a, m, w, ...) FAIL_IF(n, a, m, 0, w, __VA_ARGS__)
/* (arg & m) == v */
#define PAT(m, v)                                                                                  \
    {                                                                                              \
        .mask = (m), .value = (v)                                                                  \
    }
#define NPATS(...)                                                                                 \
    ((unsigned)(sizeof((struct sbx_arg_pattern[]){__VA_ARGS__}) / sizeof(struct sbx_arg_pattern)))
#define ALLOW_UNLESS(n, a, w, ...)                                                                 \
    {                                                                                              \
        .name = (n), .action = SBX_RULE_ALLOW, .when = SBX_WHEN_NONE, .arg = (a),                  \
        .pats = {__VA_ARGS__}, .npats = NPATS(__VA_ARGS__), .why = (w)                             \
    }

/*
 * ioctl: everything but terminal input injection, pidfs queries and the
 * physical block map of files. The box has no terminal at all (stdin a
 * file, stdout and stderr pipes, no /dev/tty, its own session), so refusing
 * TIOCSTI and TIOCLINUX is depth, not the barrier.
 */
#define IOCTL_WHY                                                                                  \
    "every ioctl but TIOCSTI/TIOCLINUX (terminal input injection), pidfs and FIEMAP: "             \
    "runtimes probe isatty (TCGETS), FIONREAD, FIONBIO, FIOCLEX"
/* pidfs ioctls (PIDFD_GET_INFO and the namespace getters, kernel 6.11+)
 * share their type byte; their size field varies with the struct. */
#define PIDFS_IOCTL_TYPE 0xff00u
#define IOC_TYPE_MASK 0xff00u

#define FCNTL_WHY                                                                                  \
    "fd flags, dup, owners, pipe sizes, seals, write hints; not F_SETLEASE, F_NOTIFY, "            \
    "F_CANCELLK (other boxes' opens and writes of shared inodes)"
/* A byte-range lock is a kernel object no memory cgroup charges since Linux
 * 6.2 (and no rlimit bounds: RLIMIT_LOCKS is not enforced), and a file can
 * hold any number of them: 4 processes held 158 MB of them. Reading lock
 * state (F_GETLK) of shared /usr inodes was a cross-box channel too. */
#define LOCK_WHY                                                                                   \
    "POSIX and OFD record locks: uncharged kernel memory without bound (Linux 6.2+), and "         \
    "lock state of shared inodes; ENOLCK is the kernel's own 'no locks available'"

/* Everything a box can write lives in tmpfs, where the durability calls do
 * nothing; the files they would reach are the host's (read-only binds of
 * /usr: fsync of one issues a disk cache flush, measured 1 per call) and
 * its whole file systems (sync, syncfs). */
#define DURABILITY_WHY                                                                             \
    "a no-op on the box's tmpfs; on a read-only bound host file it flushes the host's disk "       \
    "(one flush per call): accepted and ignored"
/* Whether a page of a shared host file is cached is a channel between
 * jobs when a box can evict it (one job writes bits, a later one reads
 * them) and a way to slow the host's runtimes: advice that evicts or
 * populates is accepted and ignored; cachestat is refused, and mincore
 * (since 5.0) reports every page of a file the caller cannot write as
 * resident. */
#define PAGE_CACHE_WHY                                                                             \
    "page-cache advice on files shared with the host and other boxes (evicting them is a "         \
    "channel between jobs): accepted and ignored"
/* madvise: the advice that acts on the caller's own memory (allocators,
 * fork behaviour, core dumps, huge pages, populating, guards). Not HWPOISON
 * and SOFT_OFFLINE (capabilities), nor the advice ignored below. */
#define MADVISE_WHY                                                                                \
    "allocators return memory (glibc, Go, JVM); advice on the caller's own pages only"
/* RWF_NOWAIT reads fail with EAGAIN exactly when a page is not cached. The
 * other flags known today (HIPRI, DSYNC, SYNC, APPEND, NOAPPEND) are plain
 * I/O; flags added later (RWF_DONTCACHE drops the pages it read) are
 * refused until someone looks at them. */
#define RWF_PLAIN ((uint64_t)(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_APPEND | RWF_NOAPPEND))
#define RWF_WHY "I/O with the flags that are plain I/O (HIPRI, DSYNC, SYNC, APPEND, NOAPPEND)"
#define RWF_NOWAIT_WHY                                                                             \
    "RWF_NOWAIT tells whether a page of a shared host file is cached; EOPNOTSUPP as from a "       \
    "kernel without it"

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
    ALLOW_UNLESS("prctl", 0,
                 "thread names, PR_SET_NO_NEW_PRIVS, dumpable; the privileged options need "
                 "capabilities the program does not have. Not PR_SET_SECCOMP: see seccomp",
                 PAT(U32_MASK, PR_SET_SECCOMP)),
    ALLOW_IF("personality", 0, U32_MASK,
             "query (0xffffffff), PER_LINUX, PER_LINUX32, UNAME26 only: no READ_IMPLIES_EXEC "
             "or ADDR_NO_RANDOMIZE",
             0, 8, 0x20000, 0x20008, 0xffffffff),
    ALLOW("setsid", "job control in shells and daemonising programs"),
    ALLOW("setpgid", "shell job control"),
    ALLOW("getpgid", "process group queries"),
    ALLOW("getpgrp", "process group queries"),
    ALLOW("getsid", "session queries"),
    ALLOW_IF("seccomp", 0, U32_MASK,
             "queries and strict mode only: a filter is compiled to native code in memory shared "
             "by the whole host (bpf_jit_limit); boxes filling it would make every seccomp "
             "filter load fail, moat's own included",
             SECCOMP_SET_MODE_STRICT, SECCOMP_GET_ACTION_AVAIL, SECCOMP_GET_NOTIF_SIZES),
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
    ALLOW_IF("madvise", 2, U32_MASK, MADVISE_WHY, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL,
             MADV_WILLNEED, MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK),
    ALLOW_IF("madvise", 2, U32_MASK, MADVISE_WHY, MADV_DOFORK, MADV_UNMERGEABLE, MADV_HUGEPAGE,
             MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK),
    ALLOW_IF("madvise", 2, U32_MASK, MADVISE_WHY, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
             MADV_DONTNEED_LOCKED, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE),
    IGNORE_IF("madvise", 2, U32_MASK,
              "hints on pages that may be shared: COLD/PAGEOUT push host page cache out, "
              "MERGEABLE offers pages to KSM (a cross-box timing channel), COLLAPSE rebuilds "
              "shared file pages; accepted and ignored",
              MADV_COLD, MADV_PAGEOUT, MADV_MERGEABLE, MADV_COLLAPSE),
    ALLOW("mincore", "Go runtime probes; since 5.0 it reports every page of a file the box "
                     "cannot write as resident: nothing of the host's page cache"),
    ALLOW_IF("msync", 2, MS_SYNC,
             "MS_ASYNC and MS_INVALIDATE: validate a range (libunwind probes addresses so)", 0),
    IGNORE_IF("msync", 2, MS_SYNC, DURABILITY_WHY, MS_SYNC),
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
    ALLOW_IF("preadv2", 5, U32_MASK & ~RWF_PLAIN, RWF_WHY, 0),
    FAIL_IF("preadv2", 5, RWF_NOWAIT, EOPNOTSUPP, RWF_NOWAIT_WHY, RWF_NOWAIT),
    ALLOW_IF("pwritev2", 5, U32_MASK & ~RWF_PLAIN, RWF_WHY, 0),
    FAIL_IF("pwritev2", 5, RWF_NOWAIT, EOPNOTSUPP, RWF_NOWAIT_WHY, RWF_NOWAIT),
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
    IGNORE("fsync", DURABILITY_WHY),
    IGNORE("fdatasync", DURABILITY_WHY),
    IGNORE("sync", DURABILITY_WHY),
    IGNORE("syncfs", DURABILITY_WHY),
    IGNORE("sync_file_range", DURABILITY_WHY),
    ALLOW_IF("fadvise64", 3, U32_MASK, "access pattern hints on the caller's own open file",
             POSIX_FADV_NORMAL, POSIX_FADV_RANDOM, POSIX_FADV_SEQUENTIAL, POSIX_FADV_NOREUSE),
    IGNORE_IF("fadvise64", 3, U32_MASK, PAGE_CACHE_WHY, POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED),
    IGNORE("readahead", PAGE_CACHE_WHY),
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
    ALLOW_IF("fcntl", 1, U32_MASK, FCNTL_WHY, F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_SETOWN,
             F_GETOWN, F_SETSIG),
    ALLOW_IF("fcntl", 1, U32_MASK, FCNTL_WHY, F_GETSIG, F_SETOWN_EX, F_GETOWN_EX, F_GETOWNER_UIDS,
             F_GETLEASE, F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_GETPIPE_SZ),
    ALLOW_IF("fcntl", 1, U32_MASK, FCNTL_WHY, F_ADD_SEALS, F_GET_SEALS, F_GET_RW_HINT, F_SET_RW_HINT,
             F_GET_FILE_RW_HINT, F_SET_FILE_RW_HINT, F_DUPFD_QUERY, F_CREATED_QUERY),
    FAIL_IF("fcntl", 1, U32_MASK, ENOLCK, LOCK_WHY, F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK,
            F_OFD_SETLK, F_OFD_SETLKW),
    ALLOW_UNLESS("ioctl", 1, IOCTL_WHY, PAT(U32_MASK, TIOCSTI), PAT(U32_MASK, TIOCLINUX),
                 PAT(IOC_TYPE_MASK, PIDFS_IOCTL_TYPE), PAT(U32_MASK, FS_IOC_FIEMAP)),
    FAIL_IF("ioctl", 1, IOC_TYPE_MASK, ENOTTY,
            "pidfs ioctls: PIDFD_GET_INFO on box init's pidfd tells its cgroup id and uid; "
            "ENOTTY is what kernels before them answer",
            PIDFS_IOCTL_TYPE),
    FAIL_IF("ioctl", 1, U32_MASK, EOPNOTSUPP,
            "FIEMAP: where a host file lies on the host's disk; EOPNOTSUPP as on file systems "
            "without it (cp falls back)",
            FS_IOC_FIEMAP),
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
    ALLOW_UNLESS("setsockopt", 2,
                 "socket options; not socket filters: classic and extended BPF programs are "
                 "compiled to native code in memory shared by the whole host (bpf_jit_limit)",
                 PAT(U32_MASK, SO_ATTACH_FILTER), PAT(U32_MASK, SO_ATTACH_BPF),
                 PAT(U32_MASK, SO_ATTACH_REUSEPORT_CBPF), PAT(U32_MASK, SO_ATTACH_REUSEPORT_EBPF)),
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

static uint32_t rule_action(const struct sbx_syscall_rule *r)
{
    return r->action == SBX_RULE_ALLOW ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO((uint32_t)r->err);
}

static int add_masked_eq(scmp_filter_ctx ctx, const struct sbx_syscall_rule *r, int nr,
                         uint64_t mask, uint64_t value)
{
    struct scmp_arg_cmp cmp = {
        .arg = r->arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = value};
    return seccomp_rule_add_array(ctx, rule_action(r), nr, 1, &cmp);
}

/*
 * "None of the patterns" as masked compares libseccomp can emit: a walk
 * down the bits the patterns read. Bits decided so far are (dmask,
 * dvalue); a branch no pattern can still match is emitted whole as one
 * compare, a branch some pattern matches entirely is dropped. The next bit
 * is one every live pattern reads when there is one (so that patterns of
 * different widths, a type byte beside whole commands, are not walked once
 * per branch of each other), else the highest any reads.
 */
static int add_complement(scmp_filter_ctx ctx, const struct sbx_syscall_rule *r, int nr,
                          uint64_t dmask, uint64_t dvalue)
{
    uint64_t any = 0, all = ~(uint64_t)0;
    bool live = false;
    for (unsigned i = 0; i < r->npats; i++) {
        const struct sbx_arg_pattern *p = &r->pats[i];
        if (((p->value ^ dvalue) & p->mask & dmask) != 0)
            continue; /* differs on a decided bit: cannot match here */
        if ((p->mask & ~dmask) == 0)
            return 0; /* matches every value of this branch */
        live = true;
        any |= p->mask & ~dmask;
        all &= p->mask & ~dmask;
    }
    if (!live)
        return add_masked_eq(ctx, r, nr, dmask, dvalue);
    uint64_t pick = all ? all : any;
    uint64_t bit = (uint64_t)1 << (63 - __builtin_clzll(pick));
    int rc = add_complement(ctx, r, nr, dmask | bit, dvalue);
    if (rc == 0)
        rc = add_complement(ctx, r, nr, dmask | bit, dvalue | bit);
    return rc;
}

static int check_rule(const struct sbx_syscall_rule *r, struct moat_err *err)
{
    if (r->action == SBX_RULE_ERRNO &&
        (r->err < 0 || r->err > 4095 || r->err == SBX_SECCOMP_DEFAULT_ERRNO))
        return moat_err_set(err, -EINVAL, "seccomp rule %s: bad errno %d", r->name, r->err);
    if (r->action != SBX_RULE_ALLOW && r->action != SBX_RULE_ERRNO)
        return moat_err_set(err, -EINVAL, "seccomp rule %s: unknown action", r->name);
    switch (r->when) {
    case SBX_WHEN_ALWAYS:
        return 0;
    case SBX_WHEN_ANY:
        if (r->nvalues == 0 || r->nvalues > SBX_RULE_MAX_VALUES || r->arg > 5 || r->mask == 0 ||
            r->mask > U32_MASK)
            return moat_err_set(err, -EINVAL, "seccomp rule %s: bad argument filter", r->name);
        for (unsigned i = 0; i < r->nvalues; i++)
            if ((r->values[i] & ~r->mask) != 0)
                return moat_err_set(err, -EINVAL, "seccomp rule %s: value %#llx outside mask",
                                    r->name, (unsigned long long)r->values[i]);
        return 0;
    case SBX_WHEN_NONE:
        if (r->npats == 0 || r->npats > SBX_RULE_MAX_VALUES || r->arg > 5)
            return moat_err_set(err, -EINVAL, "seccomp rule %s: bad argument filter", r->name);
        for (unsigned i = 0; i < r->npats; i++)
            if (r->pats[i].mask == 0 || r->pats[i].mask > U32_MASK ||
                (r->pats[i].value & ~r->pats[i].mask) != 0)
                return moat_err_set(err, -EINVAL, "seccomp rule %s: bad pattern %u", r->name, i);
        return 0;
    }
    return moat_err_set(err, -EINVAL, "seccomp rule %s: unknown condition", r->name);
}

static int add_rule(scmp_filter_ctx ctx, const struct sbx_syscall_rule *r, int nr,
                    struct moat_err *err)
{
    int rc = check_rule(r, err);
    if (rc < 0)
        return rc;
    switch (r->when) {
    case SBX_WHEN_ALWAYS:
        rc = seccomp_rule_add(ctx, rule_action(r), nr, 0);
        break;
    case SBX_WHEN_ANY:
        /* One rule per value: libseccomp ORs rules of the same action. */
        for (unsigned i = 0; i < r->nvalues && rc == 0; i++)
            rc = add_masked_eq(ctx, r, nr, r->mask, r->values[i]);
        break;
    case SBX_WHEN_NONE:
        rc = add_complement(ctx, r, nr, 0, 0);
        break;
    }
    if (rc < 0)
        return moat_err_set(err, rc, "seccomp rule %s: %s", r->name, strerror(-rc));
    return 0;
}

static bool rule_matches(const struct sbx_syscall_rule *r, const uint64_t args[6])
{
    switch (r->when) {
    case SBX_WHEN_ALWAYS:
        return true;
    case SBX_WHEN_ANY:
        for (unsigned i = 0; i < r->nvalues; i++)
            if ((args[r->arg] & r->mask) == r->values[i])
                return true;
        return false;
    case SBX_WHEN_NONE:
        for (unsigned i = 0; i < r->npats; i++)
            if ((args[r->arg] & r->pats[i].mask) == r->pats[i].value)
                return false;
        return true;
    }
    return false;
}

/* The syscall number of every rule, resolved once (decide runs millions
 * of times in the tests). */
static int rule_nrs[512];
static pthread_once_t rule_nrs_once = PTHREAD_ONCE_INIT;

static void resolve_rule_nrs(void)
{
    for (size_t i = 0; i < sbx_syscall_rules_len && i < MOAT_ARRAY_SIZE(rule_nrs); i++)
        rule_nrs[i] = seccomp_syscall_resolve_name(sbx_syscall_rules[i].name);
}

int64_t sbx_seccomp_table_decide(int nr, const uint64_t args[6])
{
    MOAT_ASSERT(sbx_syscall_rules_len <= MOAT_ARRAY_SIZE(rule_nrs));
    (void)pthread_once(&rule_nrs_once, resolve_rule_nrs);
    int64_t ret = SECCOMP_RET_ERRNO | SBX_SECCOMP_DEFAULT_ERRNO;
    bool matched = false;
    for (size_t i = 0; i < sbx_syscall_rules_len; i++) {
        const struct sbx_syscall_rule *r = &sbx_syscall_rules[i];
        if (rule_nrs[i] != nr || nr < 0 || !rule_matches(r, args))
            continue;
        if (matched)
            return -EEXIST;
        matched = true;
        ret = r->action == SBX_RULE_ALLOW ? SECCOMP_RET_ALLOW
                                          : SECCOMP_RET_ERRNO | (uint32_t)r->err;
    }
    return ret;
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
