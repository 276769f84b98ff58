/* E29: no terminal to inject into: stdin is a file and stdout/stderr are
 * pipes, so TIOCSTI has no target (also with the command's high bits set,
 * the CVE-2019-10063 filter bypass), and there is no /dev/tty. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    char c = 'x';
    for (int fd = 0; fd < 3; fd++) {
        long r = syscall(SYS_ioctl, fd, TIOCSTI, &c);
        printf("TIOCSTI fd %d: %s\n", fd, r < 0 ? strerrorname_np(errno) : "INJECTED");
        r = syscall(SYS_ioctl, fd, TIOCSTI | (1UL << 32), &c);
        printf("TIOCSTI|1<<32 fd %d: %s\n", fd, r < 0 ? strerrorname_np(errno) : "INJECTED");
    }
    int t = open("/dev/tty", O_RDWR);
    printf("/dev/tty: %s\n", t < 0 ? strerrorname_np(errno) : "OPENED");
    printf("isatty(0,1,2): %d %d %d\n", isatty(0), isatty(1), isatty(2));
    return 0;
}
