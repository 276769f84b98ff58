/* E17: the classic chroot breakout (chroot into a subdirectory, then climb
 * out with ..) fails at chroot. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    mkdir("d", 0755);
    if (chroot("d") < 0) {
        printf("chroot: errno=%s\n", strerrorname_np(errno));
        return 0;
    }
    for (int i = 0; i < 50; i++)
        (void)!chdir("..");
    (void)!chroot(".");
    printf("chroot: ok\n");
    return 0;
}
