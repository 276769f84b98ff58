/* E37: file locks and inotify watches on the read-only /usr inodes that
 * every box shares would be channels between boxes: flock and inotify answer
 * ENOSYS, and querying another process's lock (F_GETLK, F_OFD_GETLK) is
 * refused. Setting a POSIX lock on a read-only descriptor fails by itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open("/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY);
    if (fd < 0) {
        printf("open libc: errno=%s\n", strerrorname_np(errno));
        return 0;
    }
    printf("flock(libc, LOCK_SH): %s\n",
           flock(fd, LOCK_SH | LOCK_NB) < 0 ? strerrorname_np(errno) : "LOCKED");
    printf("flock(libc, LOCK_EX): %s\n",
           flock(fd, LOCK_EX | LOCK_NB) < 0 ? strerrorname_np(errno) : "LOCKED");
    int own = open("own", O_RDWR | O_CREAT, 0600);
    printf("flock(own file): %s\n",
           flock(own, LOCK_EX | LOCK_NB) < 0 ? strerrorname_np(errno) : "LOCKED");
    printf("inotify_init1: %s\n", inotify_init1(0) < 0 ? strerrorname_np(errno) : "ok");
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    printf("fcntl(libc, F_GETLK): %s\n",
           fcntl(fd, F_GETLK, &fl) < 0 ? strerrorname_np(errno) : "ok");
    struct flock ofd = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    printf("fcntl(libc, F_OFD_GETLK): %s\n",
           fcntl(fd, F_OFD_GETLK, &ofd) < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
