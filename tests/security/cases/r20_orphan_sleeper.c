/* R20: the main process exits 0 and leaves a sleeping child. The step ends
 * when the main process ends (ok, no wait for the child) and the child dies
 * with the step. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (fork() == 0) {
        close(1);
        close(2);
        sleep(1000);
        _exit(0);
    }
    printf("parent exits\n");
    return 0;
}
