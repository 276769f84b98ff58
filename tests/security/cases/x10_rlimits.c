/* The step's rlimits are fixed (hard == soft): none can be raised, and box
 * init's cannot be touched. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void raise_hard(const char *name, int res)
{
    struct rlimit rl;
    getrlimit(res, &rl);
    if (rl.rlim_max == RLIM_INFINITY) {
        printf("%s: unlimited\n", name);
        return;
    }
    printf("%s soft == hard: %s\n", name, rl.rlim_cur == rl.rlim_max ? "yes" : "no");
    struct rlimit up = {rl.rlim_max + 1, rl.rlim_max + 1};
    printf("raise %s: %s\n", name, setrlimit(res, &up) < 0 ? strerrorname_np(errno) : "RAISED");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    raise_hard("RLIMIT_CPU", RLIMIT_CPU);
    raise_hard("RLIMIT_FSIZE", RLIMIT_FSIZE);
    raise_hard("RLIMIT_NPROC", RLIMIT_NPROC);
    raise_hard("RLIMIT_STACK", RLIMIT_STACK);
    raise_hard("RLIMIT_CORE", RLIMIT_CORE);
    struct rlimit none = {0, 0};
    printf("prlimit(1, NOFILE): %s\n",
           prlimit(1, RLIMIT_NOFILE, &none, NULL) < 0 ? strerrorname_np(errno) : "CHANGED");
    return 0;
}
