/* R15: children that each burn 100 ms of CPU and exit, two at a time, 100
 * in all (10 s of CPU). The CPU of processes that already ended counts. */
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void burn_100ms(void)
{
    struct timespec t;
    do {
        for (volatile int i = 0; i < 10000; i++)
            ;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while (t.tv_sec == 0 && t.tv_nsec < 100000000);
}

int main(void)
{
    for (int i = 0; i < 50; i++) {
        for (int k = 0; k < 2; k++)
            if (fork() == 0) {
                burn_100ms();
                _exit(0);
            }
        while (wait(0) > 0)
            ;
    }
    return 0;
}
