/*
 * The pool's network namespaces: made ahead, and reused once the box that
 * had one is gone and the namespace reads exactly as a new one.
 *
 * Why reuse is safe at all: the spawner makes each namespace, so it is
 * owned by the host's user namespace, and nothing of a box ever holds
 * CAP_NET_ADMIN or CAP_NET_RAW there (box init is moat; the program runs in
 * a user namespace of its own with no capability over the netns). A box
 * cannot add an interface, address, route, nftables or xfrm rule, or write
 * a net sysctl (/proc/sys is read-only in it as well). seccomp allows
 * AF_UNIX sockets only, so the one thing a box can leave in the namespace
 * is a unix socket: an abstract name lives in the netns, and a socket held
 * by a garbage cycle of in-flight descriptors outlives every process.
 *
 * The check does not trust that argument: it enters the namespace and reads
 * what a program could observe or what could be left (every socket table,
 * the interfaces and their counters, routes, addresses, the protocol
 * counters, a few sysctls a runtime reads) and compares it byte for byte
 * with the same view of a new namespace taken when the spawner started.
 * Any difference, or an error, and the namespace is dropped. The caller
 * gives a namespace to the check only after every process of its box is
 * dead (box init reaped: the kernel reaps a pid namespace's processes
 * before its init's exit completes).
 */
#include "box-host.h"

#include <fcntl.h>
#include <sched.h>

/* Files of /proc/self/net: the socket tables kept per namespace,
 * interfaces and their counters, routes, addresses, multicast
 * memberships, IPv4 and xfrm counters. A file the kernel lacks reads as
 * absent in the baseline too. Left out: the tcp, udp and raw tables, whose
 * listing walks the host-wide hash tables (~1.5 ms per namespace here;
 * sockstat counts the namespace's sockets of every family, TIME_WAIT
 * included, for 13 us), and the larger counter files that only IP traffic
 * moves (netstat, snmp6: 115 us), which a box cannot make without an
 * internet socket and a loopback it cannot bring up; the IPv4 counters
 * (snmp) stay as the witness of any such traffic. */
static const char *const net_files[] = {
    "sockstat6", "unix",  "packet",   "dev",  "route",     "ipv6_route",
    "if_inet6",  "igmp",  "mcfilter", "snmp", "xfrm_stat", "ip_tables_names",
};

/* Sysctls of the netns that change what a program sees. A box cannot
 * write any (above); a cheap check of the ones runtimes read. */
static const char *const net_sysctls[] = {
    "/proc/sys/net/core/somaxconn",
    "/proc/sys/net/ipv4/ping_group_range",
    "/proc/sys/net/ipv4/ip_local_port_range",
    "/proc/sys/net/ipv4/ip_unprivileged_port_start",
    "/proc/sys/net/unix/max_dgram_qlen",
};

#define NET_FILE_MAX 16384

static int append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

/* The kernel's own netlink sockets differ between namespaces only in their
 * addresses and inode numbers: keep the other columns. A socket of a
 * process (a port id other than 0) is never part of a new namespace. */
static int append_netlink(struct buf *b, char *text)
{
    char *save = NULL;
    bool header = true;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (header) {
            header = false;
            continue;
        }
        char eth[16], pid[16], groups[32], rmem[32], wmem[32];
        if (sscanf(line, "%*s %15s %15s %31s %31s %31s", eth, pid, groups, rmem, wmem) != 5)
            return -EPROTO;
        if (strcmp(pid, "0") != 0)
            return -EBUSY;
        char row[160];
        (void)snprintf(row, sizeof(row), "%s %s %s %s %s\n", eth, pid, groups, rmem, wmem);
        int r = append_str(b, row);
        if (r < 0)
            return r;
    }
    return 0;
}

static int append_file(struct buf *b, const char *path, bool netlink)
{
    _cleanup_free_ char *text = malloc(NET_FILE_MAX);
    if (!text)
        return -ENOMEM;
    ssize_t n = read_small_file_at(AT_FDCWD, path, text, NET_FILE_MAX);
    int r = append_str(b, path);
    if (r < 0)
        return r;
    if (n == -ENOENT)
        return append_str(b, " absent\n");
    if (n < 0)
        return (int)n;
    if ((size_t)n >= NET_FILE_MAX - 1)
        return -EFBIG; /* more than a new namespace shows: not clean anyway */
    text[n] = '\0';
    r = append_str(b, "\n");
    if (r < 0)
        return r;
    return netlink ? append_netlink(b, text) : buf_append(b, text, (size_t)n);
}

/* sockstat mixes the namespace's counts ("sockets: used", "inuse", "tw")
 * with host-wide ones (orphans, allocated sockets, memory): drop the
 * latter, keep the rest word for word. */
static int append_sockstat(struct buf *b)
{
    char text[1024];
    ssize_t n = read_small_file_at(AT_FDCWD, "/proc/self/net/sockstat", text, sizeof(text));
    if (n < 0)
        return (int)n;
    if ((size_t)n >= sizeof(text) - 1)
        return -EFBIG;
    text[n] = '\0';
    int r = append_str(b, "sockstat\n");
    char *save = NULL;
    bool skip = false;
    for (char *w = strtok_r(text, " \n", &save); r >= 0 && w; w = strtok_r(NULL, " \n", &save)) {
        if (skip) {
            skip = false;
            continue;
        }
        if (strcmp(w, "orphan") == 0 || strcmp(w, "alloc") == 0 || strcmp(w, "mem") == 0) {
            skip = true;
            continue;
        }
        r = append_str(b, w);
        if (r >= 0)
            r = append_str(b, " ");
    }
    return r;
}

/* What the current network namespace shows, into b. */
static int read_view(struct buf *b)
{
    int r0 = append_sockstat(b);
    if (r0 < 0)
        return r0;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(net_files); i++) {
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/self/net/%s", net_files[i]);
        int r = append_file(b, path, false);
        if (r < 0)
            return r;
    }
    int r = append_file(b, "/proc/self/net/netlink", true);
    for (size_t i = 0; r >= 0 && i < MOAT_ARRAY_SIZE(net_sysctls); i++)
        r = append_file(b, net_sysctls[i], false);
    return r;
}

int netns_view(int home, int ns, struct buf *out)
{
    if (setns(ns, CLONE_NEWNET) < 0)
        return -errno;
    int r = read_view(out);
    if (setns(home, CLONE_NEWNET) < 0)
        _exit(1); /* stranded in a box's namespace: never make boxes from here */
    return r;
}

int netns_check(int home, int ns, const struct buf *baseline)
{
    struct buf now;
    buf_init(&now, baseline->max);
    int r = netns_view(home, ns, &now);
    if (r >= 0 && (now.len != baseline->len || memcmp(now.data, baseline->data, now.len) != 0))
        r = -EBUSY;
    buf_release(&now);
    return r;
}

int netns_make(int home)
{
    if (unshare(CLONE_NEWNET) < 0)
        return -errno;
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int e = fd < 0 ? -errno : 0;
    if (setns(home, CLONE_NEWNET) < 0)
        _exit(1); /* as above */
    return fd < 0 ? e : fd;
}
