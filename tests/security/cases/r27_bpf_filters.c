/* R27, R6 of the review: classic BPF socket filters and seccomp filters are
 * compiled to native code in kernel memory shared by the whole host, up to
 * a host-wide limit (net.core.bpf_jit_limit, ~500 MB); past it every
 * unprivileged filter load on the host fails, moat's own seccomp filter
 * included. Every way to attach one is refused; the loop would attach one
 * 512-instruction filter per socket to 2000 sockets. */
#include "hostile.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define INSNS 512

int main(void)
{
    static struct sock_filter code[INSNS];
    for (int i = 0; i < INSNS - 1; i++)
        code[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
    code[INSNS - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffff);
    struct sock_fprog prog = {.len = INSNS, .filter = code};

    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    show("setsockopt(SO_ATTACH_FILTER)", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                                                   sizeof(prog)));
    show("setsockopt(SO_ATTACH_REUSEPORT_CBPF)",
         setsockopt(s, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)));
    int nofd = -1;
    show("setsockopt(SO_ATTACH_BPF)", setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &nofd, sizeof(nofd)));
    show("setsockopt(SO_ATTACH_REUSEPORT_EBPF)",
         setsockopt(s, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &nofd, sizeof(nofd)));
    int attached = 0;
    for (int i = 0; i < 2000; i++) {
        int t = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (t < 0 || setsockopt(t, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
            break;
        attached++;
    }
    printf("socket filters attached: %d\n", attached);

    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog allow_prog = {.len = 1, .filter = allow};
    show("seccomp(SET_MODE_FILTER)",
         syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &allow_prog));
    show("prctl(PR_SET_SECCOMP, FILTER)",
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &allow_prog, 0, 0));
    unsigned action = SECCOMP_RET_KILL_PROCESS;
    show("seccomp(GET_ACTION_AVAIL)", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
    return 0;
}
