/* E40: inodes a box shares with the host or other boxes must not take a
 * mark: times, mode, owner, attributes. The device nodes are the host's
 * (bound into every box), the masks over /proc are binds of /dev/null, and
 * /usr is the host's. A job that could touch /dev/null's times would leave
 * a value a later job reads back (run.py also checks the host's device
 * nodes kept their times). Writing to the devices themselves still works. */
#include "hostile.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/xattr.h>

int main(void)
{
    static const char *const paths[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                        "/dev/urandom", "/proc/kallsyms", "/proc/cmdline",
                                        "/usr/bin/env"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const char *p = paths[i];
        char what[96];
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        snprintf(what, sizeof(what), "%s: futimens(now)", p);
        show(what, futimens(fd, NULL));
        snprintf(what, sizeof(what), "%s: utimensat(now)", p);
        show(what, utimensat(AT_FDCWD, p, NULL, 0));
        snprintf(what, sizeof(what), "%s: fchmod", p);
        show(what, fchmod(fd, 0666));
        snprintf(what, sizeof(what), "%s: fchown", p);
        show(what, fchown(fd, 1000, 1000));
        snprintf(what, sizeof(what), "%s: fsetxattr(user.x)", p);
        show(what, fsetxattr(fd, "user.x", "1", 1, 0));
        close(fd);
    }
    /* eventfd, epoll, timerfd... share one anonymous inode host-wide: the
     * kernel keeps it root's, mode 0600, and refuses a mode */
    int efd = eventfd(0, EFD_CLOEXEC);
    show("eventfd (the one anonymous inode): futimens(now)", futimens(efd, NULL));
    show("eventfd (the one anonymous inode): fchmod", fchmod(efd, 0666));
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    show("write /dev/null", write(null, "x", 1));
    char z[4] = {1, 1, 1, 1};
    int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    show("read /dev/zero", read(zero, z, sizeof(z)));
    printf("zeros: %d\n", z[0] == 0 && z[3] == 0);
    return 0;
}
