/* E10: hard links to a setuid host binary: /box and /tmp are other mounts
 * than /usr, so link() fails with EXDEV, also through /proc/self/fd. */
#include "hostile.h"

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    show("link /usr/bin/passwd /box/x", link("/usr/bin/passwd", "/box/x"));
    show("link /usr/bin/passwd /tmp/x", link("/usr/bin/passwd", "/tmp/x"));
    show("link /usr/bin/su /usr/bin/su2", link("/usr/bin/su", "/usr/bin/su2"));
    int fd = open("/usr/bin/passwd", O_RDONLY);
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    show("linkat via /proc/self/fd", linkat(AT_FDCWD, p, AT_FDCWD, "/box/y", AT_SYMLINK_FOLLOW));
    show("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, "/box/z", AT_EMPTY_PATH));
    return 0;
}
