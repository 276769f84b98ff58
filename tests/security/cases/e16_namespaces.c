/* E16: no new namespaces: unshare and clone with namespace flags are
 * refused (a new user namespace would give capabilities inside it); clone3
 * answers ENOSYS, its flags being out of the filter's reach; setns too. */
#include "hostile.h"
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long raw_clone(unsigned long flags)
{
    long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    return r < 0 ? -1 : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    show("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
    show("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
    show("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET));
    show("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID));
    show("unshare(CLONE_NEWCGROUP)", unshare(CLONE_NEWCGROUP));
    show("clone(CLONE_NEWUSER)", raw_clone(CLONE_NEWUSER));
    show("clone(CLONE_NEWPID)", raw_clone(CLONE_NEWPID));
    show("clone(CLONE_NEWNET)", raw_clone(CLONE_NEWNET));
    struct clone_args ca = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
    long r = syscall(SYS_clone3, &ca, sizeof(ca));
    if (r == 0)
        _exit(0);
    show("clone3(CLONE_NEWUSER)", r < 0 ? -1 : 0);
    struct clone_args plain = {.exit_signal = SIGCHLD};
    r = syscall(SYS_clone3, &plain, sizeof(plain));
    if (r == 0)
        _exit(0);
    show("clone3 plain", r < 0 ? -1 : 0);
    int fd = open("/proc/self/ns/user", O_RDONLY);
    show("setns(own user ns)", fd < 0 ? -1 : setns(fd, 0));
    show("plain fork still works", raw_clone(0));
    return 0;
}
