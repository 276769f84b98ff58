/* R19: stdin is a regular file holding exactly the given bytes, then EOF:
 * prints what kind of file it is, its size, the bytes in hex, and that a
 * second read is EOF at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct stat st;
    if (fstat(0, &st) < 0) {
        printf("fstat(0): errno=%s\n", strerrorname_np(errno));
        return 0;
    }
    printf("stdin: %s\n", S_ISREG(st.st_mode)    ? "regular file"
                          : S_ISFIFO(st.st_mode) ? "pipe"
                          : S_ISCHR(st.st_mode)  ? "char device"
                                                 : "other");
    static unsigned char buf[4 << 20];
    size_t total = 0;
    unsigned long hash = 5381;
    for (;;) {
        ssize_t n = read(0, buf + total, sizeof(buf) - total);
        if (n < 0) {
            printf("read: errno=%s\n", strerrorname_np(errno));
            return 0;
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (total == sizeof(buf))
            break;
    }
    for (size_t i = 0; i < total; i++)
        hash = hash * 33 + buf[i];
    printf("bytes=%zu djb2=%lu\n", total, hash);
    if (total <= 64) {
        printf("hex=");
        for (size_t i = 0; i < total; i++)
            printf("%02x", buf[i]);
        printf("\n");
    }
    char c;
    printf("read after EOF: %zd\n", read(0, &c, 1));
    return 0;
}
