/* Blocking I/O loops. The *_at helpers never follow a final symlink. */
#include "moat/util.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/socket.h>

/* One loop for both: send(MSG_NOSIGNAL) on sockets, write elsewhere. */
static int transfer_full(int fd, const void *data, size_t len, bool sock)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int write_full(int fd, const void *data, size_t len)
{
    return transfer_full(fd, data, len, false);
}

int send_full(int fd, const void *data, size_t len)
{
    return transfer_full(fd, data, len, true);
}

int read_full(int fd, void *data, size_t len)
{
    char *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t read_small_file_at(int dirfd, const char *path, char *buf, size_t max)
{
    if (max == 0)
        return -EINVAL;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len < max - 1) {
        ssize_t n = read(fd, buf + len, max - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            (void)close(fd);
            return e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    (void)close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

int write_file_at(int dirfd, const char *path, const char *s)
{
    int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    size_t len = strlen(s);
    ssize_t n;
    do
        n = write(fd, s, len);
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? -errno : ((size_t)n == len ? 0 : -EIO);
    (void)close(fd);
    return e;
}

int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {.flags = (uint64_t)(unsigned)(flags | O_NOFOLLOW | O_CLOEXEC),
                           .mode = (flags & O_CREAT) ? mode : 0,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                      RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
    int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS)
        fd = openat(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
}
