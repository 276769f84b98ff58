/* R21: double fork, setsid, every descriptor closed, then spin: a daemon
 * outside the program's process group and session. It must not survive the
 * step (a kill of the process group would miss it). */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t p = fork();
    if (p == 0) {
        setsid();
        if (fork() == 0) {
            for (int fd = 0; fd < 1024; fd++)
                close(fd);
            for (volatile unsigned long i = 0;; i++)
                ;
        }
        _exit(0);
    }
    waitpid(p, NULL, 0);
    printf("parent exits\n");
    return 0;
}
