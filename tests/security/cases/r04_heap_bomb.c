/* R4: allocate and touch 1 MiB chunks forever: the OOM killer of the step's
 * cgroup ends it (memory_limit), with the peak close to the limit. */
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
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed\n");
            return 3;
        }
        touch(p, 1 << 20, 1);
    }
}
