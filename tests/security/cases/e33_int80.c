/* E33: the i386 system call entry (int 0x80) from a 64-bit process: the
 * filter's architecture check kills the process with SIGSYS at the first
 * one, before a 32-bit socketcall or keyctl could get through. */
#include <stdio.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("before int 0x80\n");
    long ret;
    /* i386 getpid is 20 */
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    printf("int 0x80 getpid returned %ld\n", ret);
    /* i386 socketcall(SYS_SOCKET, {AF_VSOCK, SOCK_STREAM, 0}) */
    unsigned int args[3] = {40, 1, 0};
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(102L), "b"(1L), "c"(args) : "memory");
    printf("int 0x80 socketcall returned %ld\n", ret);
    return 0;
}
