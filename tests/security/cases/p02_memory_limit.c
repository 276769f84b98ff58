/* Probe: the memory limit is a cgroup limit: touching 256 MiB under a 32 MB
 * limit ends in the OOM killer, not in a failed malloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Touches every page through a volatile pointer: a memset of memory that is
 * never read again may be optimised away together with the malloc. */
static void touch(char *p, size_t len, char v)
{
    volatile char *q = p;
    for (size_t i = 0; i < len; i += 4096)
        q[i] = v;
}

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
