/* E24: every socket family but AF_UNIX is refused: raw IP, packet,
 * netlink (route, audit, uevent), VSOCK (crosses VMs and boxes), the kernel
 * crypto API (AF_ALG), and the rest. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

static void try(const char *label, int fam, int type, int proto)
{
    int s = socket(fam, type, proto);
    if (s < 0)
        printf("%s: errno=%s\n", label, strerrorname_np(errno));
    else {
        printf("%s: ok\n", label);
        close(s);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    try("AF_INET SOCK_RAW", AF_INET, SOCK_RAW, 1);
    try("AF_INET SOCK_DGRAM ICMP", AF_INET, SOCK_DGRAM, 1);
    try("AF_INET6 SOCK_RAW", AF_INET6, SOCK_RAW, 58);
    try("AF_PACKET", AF_PACKET, SOCK_RAW, 0);
    try("AF_NETLINK route", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    try("AF_NETLINK audit", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    try("AF_NETLINK uevent", AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
    try("AF_VSOCK", AF_VSOCK, SOCK_STREAM, 0);
    try("AF_ALG", AF_ALG, SOCK_SEQPACKET, 0);
    try("AF_KEY", AF_KEY, SOCK_RAW, 2);
    try("AF_XDP", AF_XDP, SOCK_RAW, 0);
    try("AF_BLUETOOTH", AF_BLUETOOTH, SOCK_RAW, 0);
    try("AF_TIPC", AF_TIPC, SOCK_RDM, 0);
    try("AF_UNIX SOCK_STREAM", AF_UNIX, SOCK_STREAM, 0);
    try("AF_UNIX SOCK_DGRAM", AF_UNIX, SOCK_DGRAM, 0);
    return 0;
}
