/* R10: one file in /box grown 1 MiB at a time: the 16 MB file size limit
 * (RLIMIT_FSIZE) sends SIGXFSZ at 16 MiB, well before /box (64 MB) is full. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    static char buf[1 << 20];
    memset(buf, 'g', sizeof(buf));
    int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 2;
    printf("start\n");
    for (int i = 0; i < 1024; i++)
        if (write(fd, buf, sizeof(buf)) < 0) {
            printf("write failed at %d MiB\n", i);
            return 3;
        }
    printf("wrote 1 GiB\n");
    return 0;
}
