/* R12: empty files until creation fails, in /box and then in /tmp (bounded
 * at a million each). The tmpfs mounts have an inode limit, so ENOSPC comes
 * long before the inodes' kernel memory reaches the memory limit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fill(const char *dir)
{
    char path[256];
    long n = 0;
    int err = 0;
    for (; n < 1000000; n++) {
        snprintf(path, sizeof(path), "%s/f%ld", dir, n);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            err = errno;
            break;
        }
        close(fd);
    }
    printf("%s: created=%ld err=%s\n", dir, n, err ? strerrorname_np(err) : "none");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (mkdir("many", 0700) < 0)
        return 2;
    fill("/box/many");
    fill("/tmp");
    return 0;
}
