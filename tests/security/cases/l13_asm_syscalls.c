/* L13: the filter sees the syscall instruction, not libc: raw `syscall`
 * gets the same answers as the libc wrappers. */
#include <stdio.h>

static long raw(long nr, long a1, long a2, long a3)
{
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("bpf: %ld\n", raw(321, 0, 0, 0));
    printf("ptrace(TRACEME): %ld\n", raw(101, 0, 0, 0));
    printf("unshare(CLONE_NEWUSER): %ld\n", raw(272, 0x10000000, 0, 0));
    printf("keyctl: %ld\n", raw(250, 0, -3, 0));
    printf("io_uring_setup: %ld\n", raw(425, 8, 0, 0));
    printf("getpid > 0: %s\n", raw(39, 0, 0, 0) > 0 ? "yes" : "no");
    return 0;
}
