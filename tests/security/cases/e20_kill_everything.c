/* E20: signal everything: kill(-1) reaches only the box's own processes
 * (here a child), box init (pid 1) refuses, and no other pid exists. The
 * step's verdict comes from the program's own exit. */
#include "hostile.h"
#include <signal.h>
#include <sys/wait.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t kid = spawn_pauser();
    usleep(10000);
    if (kill(-1, SIGKILL) < 0)
        printf("kill(-1, SIGKILL): errno=%s\n", strerrorname_np(errno));
    else
        printf("kill(-1, SIGKILL): ok\n");
    int st;
    waitpid(kid, &st, 0);
    printf("child: %s\n",
           WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed by SIGKILL" : "other");
    if (kill(1, SIGKILL) < 0)
        printf("kill(1, SIGKILL): errno=%s\n", strerrorname_np(errno));
    else
        printf("kill(1, SIGKILL): ok\n");
    int ok = 0, eperm = 0, other = 0;
    for (pid_t p = 1; p <= 65535; p++) {
        if (p == getpid())
            continue;
        if (kill(p, SIGKILL) == 0)
            ok++;
        else if (errno == EPERM)
            eperm++;
        else if (errno != ESRCH)
            other++;
    }
    printf("pids 1..65535: signalled=%d eperm=%d other=%d\n", ok, eperm, other);
    return 0;
}
