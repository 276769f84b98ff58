/* R7: fill a tmpfs that is not the working directory. argv[1] is the
 * directory (/dev/shm or /tmp), argv[2] the MiB to try. Files of 8 MiB stay
 * under the 16 MB file size limit; tmpfs pages are charged to the step's
 * memory cgroup, so whichever comes first ends the program: the memory limit
 * (memory_limit) or the size of the tmpfs (ENOSPC, printed). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3)
        return 2;
    int want = atoi(argv[2]);
    static char buf[1 << 20];
    memset(buf, 'x', sizeof(buf));
    int mib = 0, fd = -1;
    printf("start\n");
    while (mib < want) {
        if (mib % 8 == 0) {
            char path[256];
            snprintf(path, sizeof(path), "%s/fill-%d", argv[1], mib / 8);
            if (fd >= 0)
                close(fd);
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd < 0) {
                printf("%s: open errno=%s after %d MiB\n", argv[1], strerrorname_np(errno), mib);
                return 0;
            }
        }
        ssize_t n = write(fd, buf, sizeof(buf));
        if (n != (ssize_t)sizeof(buf)) {
            if (n >= 0)
                errno = ENOSPC; /* a short write: the tmpfs is full */
            printf("%s: write errno=%s after %d MiB\n", argv[1], strerrorname_np(errno), mib);
            return 0;
        }
        mib++;
    }
    printf("%s: wrote %d MiB\n", argv[1], mib);
    return 0;
}
