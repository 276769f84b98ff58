/* E35: arguments the kernel reads as 32-bit ints, with garbage in the upper
 * half: a filter comparing all 64 bits could be fooled into allowing them
 * (the kernel truncates). Each must still be refused. */
#include "hostile.h"
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const unsigned long hi = 1UL << 32;
    show("socket(AF_VSOCK|1<<32)", syscall(SYS_socket, 40 | hi, SOCK_STREAM, 0));
    show("socket(AF_INET|1<<32)", syscall(SYS_socket, AF_INET | hi, SOCK_STREAM, 0));
    show("socket(AF_NETLINK|1<<32)", syscall(SYS_socket, AF_NETLINK | hi, SOCK_RAW, 0));
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD | hi, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    show("clone(CLONE_NEWUSER|1<<32)", r < 0 ? -1 : 0);
    show("unshare(CLONE_NEWUSER|1<<32)", syscall(SYS_unshare, CLONE_NEWUSER | hi));
    r = syscall(SYS_personality, READ_IMPLIES_EXEC | hi);
    if (r == -1)
        show("personality(READ_IMPLIES_EXEC|1<<32)", -1);
    else
        printf("personality(READ_IMPLIES_EXEC|1<<32): %s\n",
               personality(0xffffffff) & READ_IMPLIES_EXEC ? "SET" : "not set");
    return 0;
}
