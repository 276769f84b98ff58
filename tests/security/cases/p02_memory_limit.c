/* Probe: the memory limit is a cgroup limit: touching 256 MiB under a 32 MB
 * limit ends in the OOM killer, not in a failed malloc. */
#include "hostile.h"

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("start\n");
    for (int i = 0; i < 256; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed at %d MiB\n", i);
            return 3;
        }
        touch(p, 1 << 20, 0x5a);
    }
    printf("touched 256 MiB\n");
    return 0;
}
