/* R22: an orphan keeps appending to stdout (the step's output pipe) and to a
 * file after the main process has exited. The step ends with the main
 * process; nothing may be appended after the step's end. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t parent = getpid();
    if (fork() == 0) {
        while (getppid() == parent)
            usleep(1000);
        int fd = open("log", O_WRONLY | O_CREAT | O_APPEND, 0600);
        for (;;) {
            (void)!write(1, "tick\n", 5);
            (void)!write(fd, "tick\n", 5);
            usleep(1000);
        }
    }
    printf("parent done\n");
    return 0;
}
