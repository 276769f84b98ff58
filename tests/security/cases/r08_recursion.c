/* R8: unbounded recursion, each frame touching 1 KiB of stack. The stack
 * limit is 64 MB: under a larger memory limit the stack guard is hit first
 * (SIGSEGV); under a smaller one the touched stack is charged to the cgroup
 * first (OOM kill). */
#include <stdio.h>

static long down(long n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    frame[sizeof(frame) - 1] = (char)n;
    return down(n + 1) + frame[0] + frame[sizeof(frame) - 1];
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("start\n");
    printf("%ld\n", down(0));
    return 0;
}
