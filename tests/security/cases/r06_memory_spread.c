/* R6: memory spread over 8 children, each touching 32 MiB (half the 64 MB
 * limit) and holding it. Only a limit on the aggregate stops this; a
 * per-process limit lets all 8 succeed. The parent exits 0 as soon as a child
 * is killed, so the verdict must come from the cgroup's OOM kill. */
#include "hostile.h"
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    if (pipe(p) < 0)
        return 2;
    pid_t kids[8];
    for (int i = 0; i < 8; i++) {
        kids[i] = fork();
        if (kids[i] < 0)
            return 2;
        if (kids[i] == 0) {
            char *m = malloc(32 << 20);
            if (!m)
                _exit(3);
            touch(m, 32 << 20, (char)(i + 1));
            (void)!write(p[1], "r", 1);
            for (;;)
                pause();
        }
    }
    close(p[1]);
    int ready = 0;
    for (;;) {
        char c;
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w > 0) {
            if (WIFSIGNALED(st))
                printf("child killed by %s\n",
                       sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
            else
                printf("child exited %d\n", WEXITSTATUS(st));
            return 0;
        }
        struct timeval tv = {0, 10000};
        fd_set rs;
        FD_ZERO(&rs);
        FD_SET(p[0], &rs);
        if (select(p[0] + 1, &rs, NULL, NULL, &tv) > 0 && read(p[0], &c, 1) == 1 && ++ready == 8) {
            printf("all 8 children hold 32 MiB: 256 MiB in all\n");
            for (int i = 0; i < 8; i++)
                kill(kids[i], SIGKILL);
            return 0;
        }
    }
}
