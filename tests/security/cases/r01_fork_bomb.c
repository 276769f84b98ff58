/* R1: the classic fork bomb. Every process forks forever; fork must fail
 * with EAGAIN at the process limit and the CPU limit ends the step. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t me = getpid();
    int reported = 0;
    printf("start\n");
    for (;;) {
        pid_t p = fork();
        if (p < 0 && !reported && getpid() == me) {
            printf("fork: errno=%s\n", strerrorname_np(errno));
            reported = 1;
        }
    }
}
