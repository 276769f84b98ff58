/* Ordinary work that must keep working: 30 children each exec /bin/true
 * and /usr/bin/env, a pipeline through sh, all reaped. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int ok = 0;
    for (int i = 0; i < 30; i++) {
        pid_t p = fork();
        if (p == 0) {
            execl(i % 2 ? "/bin/true" : "/usr/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    printf("children ok=%d\n", ok);
    fflush(stdout);
    FILE *f = popen("seq 1 1000 | sort -n | tail -n 1", "r");
    char line[64] = {0};
    if (f && fgets(line, sizeof(line), f))
        printf("pipeline: %s", line);
    if (f)
        pclose(f);
    return 0;
}
