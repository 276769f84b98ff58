/* R4: allocate and touch 1 MiB chunks forever: the OOM killer of the step's
 * cgroup ends it (memory_limit), with the peak close to the limit. */
#include "hostile.h"

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("start\n");
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed\n");
            return 3;
        }
        touch(p, 1 << 20, 1);
    }
}
