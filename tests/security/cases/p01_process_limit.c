/* Probe: the step's process limit (64 processes and threads) is enforced by
 * the kernel. Forks up to 200 sleeping children and reports when fork fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t kids[200];
    int n = 0, err = 0;
    for (; n < 200; n++) {
        pid_t p = fork();
        if (p < 0) {
            err = errno;
            break;
        }
        if (p == 0) {
            pause();
            _exit(0);
        }
        kids[n] = p;
    }
    if (err)
        printf("forked=%d errno=%s\n", n, strerrorname_np(err));
    else
        printf("forked=%d no error\n", n);
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < n; i++)
        waitpid(kids[i], NULL, 0);
    return 0;
}
