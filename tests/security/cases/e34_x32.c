/* E34: x32 system call numbers (bit 30 set) are another ABI: the filter
 * kills the process with SIGSYS (a filter that ignored the bit would let
 * x32 keyctl through; this kernel has no x32 and would say ENOSYS). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("before x32\n");
    long r = syscall(0x40000000L | SYS_getpid);
    printf("x32 getpid: %ld errno=%s\n", r, r < 0 ? strerrorname_np(errno) : "none");
    r = syscall(0x40000000L | SYS_keyctl, 0, -3, 0);
    printf("x32 keyctl: %ld errno=%s\n", r, r < 0 ? strerrorname_np(errno) : "none");
    return 0;
}
