/*
 * Landlock for a box's program: once the root is the box's (after
 * pivot_root), reading and executing stay allowed everywhere, writing only
 * beneath the box's own tmpfs mounts (/box, /tmp, /dev/shm) and to the
 * harmless devices. The mounts are the real barrier (read-only binds);
 * Landlock is a second one that does not depend on getting every mount flag
 * right. From ABI 4 TCP bind/connect are handled with no rule (seccomp
 * already refuses non-unix sockets), and from ABI 6 the program may neither
 * signal nor reach abstract unix sockets outside its own domain (box init,
 * other boxes in a shared network namespace).
 *
 * Everything here is plain syscalls on stack memory: no allocation, so the
 * functions are safe in a forked child of a threaded process too.
 * Landlock does not cover chmod, chown, xattrs or timestamps.
 */
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/syscall.h>

#include "sandbox-internal.h"

/* Rights by ABI; Debian's 6.1 headers stop at ABI 2, so the whole set is
 * spelled out here under our own names. */
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)                  /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)               /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)              /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)               /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)            /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */

/* The newest ABI whose rights this file knows; ABI 7 only added audit
 * logging flags, so newer kernels get the ABI 6 set. */
#define LL_ABI_KNOWN 6

/* struct landlock_ruleset_attr as of ABI 6. The kernel reads as many
 * fields as the size passed says, and rejects non-zero bytes it does not
 * know, so each ABI gets exactly its own size. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

#define LL_FS_READ (LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_EXECUTE)

static uint64_t fs_rights(int abi)
{
    uint64_t r = LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_READ_DIR |
                 LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR |
                 LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK |
                 LL_FS_MAKE_SYM;
    if (abi >= 2)
        r |= LL_FS_REFER;
    if (abi >= 3)
        r |= LL_FS_TRUNCATE;
    if (abi >= 5)
        r |= LL_FS_IOCTL_DEV;
    return r;
}

int sbx_landlock_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? (int)abi : 0;
}

/* dst = root + rel without snprintf (async-signal-safe); rel starts with
 * "/". Returns false when it does not fit. */
static bool join_path(char *dst, size_t size, const char *root, const char *rel)
{
    size_t n = 0;
    for (const char *p = root; *p; p++) {
        if (n + 1 >= size)
            return false;
        dst[n++] = *p;
    }
    if (n > 0 && dst[n - 1] == '/')
        n--; /* "/" + "/box" must not give "//box" */
    for (const char *p = rel; *p; p++) {
        if (n + 1 >= size)
            return false;
        dst[n++] = *p;
    }
    if (n == 0) {
        if (size < 2)
            return false;
        dst[n++] = '/';
    }
    dst[n] = '\0';
    return true;
}

/* Allows `rights` (limited to what the ruleset handles) beneath root/rel.
 * An optional path that does not exist in this box is skipped. */
static int allow_beneath(int ruleset, const char *root, const char *rel, uint64_t rights,
                         uint64_t handled, bool optional)
{
    char path[4096];
    if (!join_path(path, sizeof(path), root, rel))
        return -ENAMETOOLONG;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT && optional ? 0 : -errno;
    struct landlock_path_beneath_attr pb = {.allowed_access = rights & handled, .parent_fd = fd};
    int r = 0;
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
        r = -errno;
    (void)close(fd);
    return r;
}

int sbx_landlock_prepare_at(int abi, const char *root)
{
    if (abi <= 0)
        return -EOPNOTSUPP;
    if (abi > LL_ABI_KNOWN)
        abi = LL_ABI_KNOWN;
    uint64_t handled = fs_rights(abi);
    struct ll_ruleset_attr attr = {.handled_access_fs = handled};
    size_t attr_size = sizeof(attr.handled_access_fs);
    if (abi >= 4) {
        /* No net rule is ever added: all TCP bind/connect is denied. */
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        attr_size = offsetof(struct ll_ruleset_attr, scoped);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
        attr_size = sizeof(attr);
    }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (rs < 0)
        return errno == ENOSYS ? -EOPNOTSUPP : -errno;

    /* Directory-only rights on a device file give EINVAL: files get only
     * what applies to files. No rule grants MAKE_CHAR or MAKE_BLOCK. */
    const uint64_t writable = LL_FS_READ | LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE |
                              LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO |
                              LL_FS_MAKE_SYM | LL_FS_REFER | LL_FS_TRUNCATE;
    /* `> /dev/null` opens with O_TRUNC, hence TRUNCATE. */
    const uint64_t sink = LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV;
    const uint64_t source = LL_FS_READ_FILE | LL_FS_IOCTL_DEV;
    static const struct {
        const char *rel;
        int kind; /* 0 read (the root: required), 1 writable tree, 2 sink, 3 source */
    } rules[] = {
        {"/", 0},         {"/box", 1},        {"/tmp", 1},
        {"/dev/shm", 1},  {"/dev/null", 2},   {"/dev/zero", 2},
        {"/dev/full", 2}, {"/dev/random", 3}, {"/dev/urandom", 3},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(rules); i++) {
        uint64_t rights = rules[i].kind == 0   ? LL_FS_READ
                          : rules[i].kind == 1 ? writable
                          : rules[i].kind == 2 ? sink
                                               : source;
        int r = allow_beneath(rs, root, rules[i].rel, rights, handled, rules[i].kind != 0);
        if (r < 0) {
            (void)close(rs);
            return r;
        }
    }
    return rs;
}

int sbx_landlock_prepare(int abi) { return sbx_landlock_prepare_at(abi, "/"); }

int sbx_landlock_enforce(int ruleset_fd)
{
    if (ruleset_fd < 0)
        return -EBADF;
    if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0)
        return -errno;
    return 0;
}
