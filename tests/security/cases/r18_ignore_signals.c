/* R18: ignore every signal that can be ignored, then spin: the step must
 * still end at the CPU limit (SIGKILL cannot be ignored). */
#include <signal.h>
#include <stdio.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int ignored = 0;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP && signal(s, SIG_IGN) != SIG_ERR)
            ignored++;
    printf("ignoring signals\n");
    for (volatile unsigned long i = 0;; i++)
        ;
}
