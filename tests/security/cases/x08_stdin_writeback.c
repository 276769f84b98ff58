/* stdin is given as a world-writable host file: the program reads it, then
 * tries to write through every route to it. The runner checks that its
 * file is unchanged. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    char buf[256] = {0};
    ssize_t n = read(0, buf, sizeof(buf) - 1);
    printf("stdin: %.*s", (int)(n > 0 ? n : 0), buf);
    printf("write(0): %s\n", write(0, "PWNED", 5) < 0 ? strerrorname_np(errno) : "WROTE");
    printf("ftruncate(0): %s\n", ftruncate(0, 0) < 0 ? strerrorname_np(errno) : "TRUNCATED");
    int fd = open("/proc/self/fd/0", O_RDWR);
    if (fd >= 0) {
        (void)!pwrite(fd, "PWNED", 5, 0);
        (void)!ftruncate(fd, 2);
    }
    fd = open("/dev/stdin", O_WRONLY | O_APPEND);
    if (fd >= 0)
        (void)!write(fd, "PWNED", 5);
    printf("done\n");
    return 0;
}
