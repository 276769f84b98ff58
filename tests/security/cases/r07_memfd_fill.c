/* R7: fill memfds (8 MiB each, under the file size limit) up to 256 MiB.
 * memfd pages are charged to the step's memory cgroup: memory_limit. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    static char buf[1 << 20];
    memset(buf, 'm', sizeof(buf));
    printf("start\n");
    int fd = -1;
    for (int mib = 0; mib < 256; mib++) {
        if (mib % 8 == 0) {
            fd = memfd_create("fill", 0); /* the earlier ones stay open */
            if (fd < 0) {
                printf("memfd_create: errno=%s after %d MiB\n", strerrorname_np(errno), mib);
                return 0;
            }
        }
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
            printf("write: errno=%s after %d MiB\n", strerrorname_np(errno), mib);
            return 0;
        }
    }
    printf("memfd: wrote 256 MiB\n");
    return 0;
}
