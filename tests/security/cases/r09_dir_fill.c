/* R9/R10: fill a directory's tmpfs with 8 MiB files (under the file size
 * limit) until a write fails; argv[1] is the directory. The memory limit is
 * set above the tmpfs size, so ENOSPC comes first. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    static char buf[1 << 20];
    memset(buf, 'f', sizeof(buf));
    int mib = 0, fd = -1;
    for (; mib < 1024; mib++) {
        if (mib % 8 == 0) {
            char path[256];
            snprintf(path, sizeof(path), "%s/fill-%d", argv[1], mib / 8);
            if (fd >= 0)
                close(fd);
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd < 0)
                break;
        }
        ssize_t n = write(fd, buf, sizeof(buf));
        if (n != (ssize_t)sizeof(buf)) {
            if (n >= 0)
                errno = ENOSPC; /* a short write: the tmpfs is full */
            break;
        }
    }
    printf("%s: errno=%s after %d MiB\n", argv[1], mib < 1024 ? strerrorname_np(errno) : "none",
           mib);
    return 0;
}
