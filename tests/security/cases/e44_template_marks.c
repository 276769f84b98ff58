/* E44: the read-only part of a box's root (its root tmpfs, /etc's made
 * files, /dev and its links, the mount points) is one tree that every box
 * of a server shares a copy of: the same inodes. A job that could create a
 * name there, change a file, or move an inode's times (atime on a read, a
 * symlink's on a readlink) would leave a mark the next job reads back. Every
 * mount but the box's own (/box, /tmp, /dev/shm, /proc) must be read-only,
 * and reading must not move a time. */
#include "hostile.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

static void try_create(const char *path)
{
    char what[128];
    snprintf(what, sizeof(what), "create %s", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    show(what, fd);
    if (fd >= 0)
        close(fd);
}

/* Whether reading path (following it, or a link itself) moved its atime. */
static void atime_after_read(const char *path, int is_link)
{
    struct stat a, b;
    char buf[256];
    if (lstat(path, &a) < 0) {
        printf("%s: lstat errno=%d\n", path, errno);
        return;
    }
    struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
    nanosleep(&pause, NULL); /* past the timestamp granularity */
    if (is_link) {
        (void)!readlink(path, buf, sizeof(buf));
    } else {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        (void)!read(fd, buf, sizeof(buf));
        close(fd);
    }
    (void)lstat(path, &b);
    int moved = a.st_atim.tv_sec != b.st_atim.tv_sec || a.st_atim.tv_nsec != b.st_atim.tv_nsec;
    printf("%s: atime moved by a read: %s\n", path, moved ? "yes" : "no");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    static const char *const creates[] = {"/mark", "/etc/mark", "/dev/mark", "/dev/.empty/mark",
                                          "/moat/mark"};
    for (size_t i = 0; i < sizeof(creates) / sizeof(creates[0]); i++)
        try_create(creates[i]);
    show("mkdir /dev/markdir", mkdir("/dev/markdir", 0755));
    show("symlink /dev/marklink", symlink("x", "/dev/marklink"));
    show("utimensat /etc/passwd", utimensat(AT_FDCWD, "/etc/passwd", NULL, 0));
    show("chmod /etc/hosts", chmod("/etc/hosts", 0666));
    show("lsetxattr /dev/stdin", lsetxattr("/dev/stdin", "user.x", "1", 1, 0));
    show("setxattr /", setxattr("/", "user.x", "1", 1, 0));
    atime_after_read("/etc/passwd", 0);
    atime_after_read("/etc/hosts", 0);
    atime_after_read("/dev/stdin", 1);

    /* Writable mounts, in mountinfo order; /proc and what is under it are
     * this box's own procfs (and read-only binds over it). And propagation:
     * a mount of a box's copy that were a peer of the template (shared:N)
     * or received from it (master:N) would carry what one box mounts into
     * the template and every other box. */
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096], mnt[1024], opts[1024];
    int lines = 0, propagating = 0;
    printf("writable mounts:");
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*s %*s %*s %*s %1023s %1023s", mnt, opts) != 2)
            continue;
        lines++;
        const char *sep = strstr(line, " - ");
        if (sep && (memmem(line, (size_t)(sep - line), " shared:", 8) ||
                    memmem(line, (size_t)(sep - line), " master:", 8)))
            propagating++;
        int rw = strncmp(opts, "rw", 2) == 0 && (opts[2] == ',' || opts[2] == 0);
        if (rw && strncmp(mnt, "/proc", 5) != 0)
            printf(" %s", mnt);
    }
    printf("\n");
    printf("mounts: %s; with propagation: %d\n", lines > 10 ? "several" : "few", propagating);
    return 0;
}
