/* R11: one byte written at offset 1 TiB. With argv[1] == "ignore" SIGXFSZ is
 * ignored and pwrite must fail with EFBIG; otherwise SIGXFSZ kills. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "ignore") == 0)
        signal(SIGXFSZ, SIG_IGN);
    int fd = open("sparse", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 2;
    printf("start\n");
    if (pwrite(fd, "x", 1, (off_t)1 << 40) < 0)
        printf("pwrite at 1 TiB: errno=%s\n", strerrorname_np(errno));
    else
        printf("pwrite at 1 TiB: ok\n");
    return 0;
}
