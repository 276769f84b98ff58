/* E43: a pidfd of box init (pid 1 of the box's namespace, hidden from /proc
 * but not from pidfd_open) must not describe it: PIDFD_GET_INFO tells its
 * cgroup id and credentials, the pidfs namespace getters hand out its
 * namespaces. Signals to it fail (another user) and change nothing. */
#include "hostile.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

int main(void)
{
    int init = (int)syscall(SYS_pidfd_open, 1, 0);
    show("pidfd_open(1)", init);
    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    char info[128] = {0};
    unsigned long get_info = 0xc040ff0bul; /* _IOWR(0xFF, 11, struct pidfd_info) */
    show("ioctl(init, PIDFD_GET_INFO)", ioctl(init, get_info, info));
    show("ioctl(self, PIDFD_GET_INFO)", ioctl(self, get_info, info));
    for (unsigned nr = 1; nr <= 10; nr++) { /* PIDFD_GET_*_NAMESPACE: _IO(0xFF, nr) */
        long r = ioctl(init, (0xFFu << 8) | nr, 0);
        if (r >= 0) {
            printf("namespace getter %u: got fd %ld\n", nr, r);
            close((int)r);
        }
    }
    show("pidfd_send_signal(init, SIGUSR1)", syscall(SYS_pidfd_send_signal, init, SIGUSR1, NULL, 0));
    show("kill(1, SIGUSR1)", kill(1, SIGUSR1));
    show("kill(1, SIGTERM)", kill(1, SIGTERM));
    printf("still running\n");
    return 0;
}
