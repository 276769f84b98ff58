/* E41: the verdict comes from moat's accounting, never from what the
 * program controls. ARGV[1] picks the spoof:
 *   xcpu      burn 20 ms of CPU, then raise SIGXCPU (moat's own CPU
 *             backstop sends it too): runtime_error with SIGXCPU
 *   rlimitcpu set its own RLIMIT_CPU to 1 s and spin: the kernel's SIGXCPU
 *             at 1 s, under moat's 3 s limit: runtime_error
 *   kill      raise SIGKILL (what the OOM killer and moat's limits send):
 *             runtime_error with SIGKILL, not memory_limit
 *   exit124   exit with timeout(1)'s code: runtime_error with 124
 *   exit137   exit with 128 + SIGKILL: runtime_error with 137, no signal */
#include "hostile.h"

#include <signal.h>
#include <sys/resource.h>
#include <time.h>

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "xcpu") == 0) {
        while (clock() < CLOCKS_PER_SEC / 50)
            ;
        raise(SIGXCPU);
    } else if (strcmp(what, "rlimitcpu") == 0) {
        struct rlimit rl = {1, 2};
        if (setrlimit(RLIMIT_CPU, &rl) < 0)
            show("setrlimit", -1);
        for (volatile unsigned long i = 0;; i++)
            ;
    } else if (strcmp(what, "kill") == 0) {
        raise(SIGKILL);
    } else if (strcmp(what, "exit124") == 0) {
        return 124;
    } else if (strcmp(what, "exit137") == 0) {
        return 137;
    }
    return 2;
}
