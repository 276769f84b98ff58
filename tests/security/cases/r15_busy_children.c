/* R15: fifty children spin while the parent only waits. CPU is summed over
 * every process of the step (RLIMIT_CPU alone is per process and fails). */
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    for (int i = 0; i < 50; i++)
        if (fork() == 0)
            for (volatile unsigned long j = 0;; j++)
                ;
    while (wait(0) > 0)
        ;
    return 0;
}
