/* The program cannot make itself the OOM killer's last choice (that needs
 * CAP_SYS_RESOURCE). Landlock refuses every write under /proc, so even the
 * harmless direction (1000) fails with EACCES: this case also shows that
 * Landlock is in force. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void put(const char *v)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    if (fd < 0) {
        printf("oom_score_adj=%s: errno=%s\n", v, strerrorname_np(errno));
        return;
    }
    if (write(fd, v, strlen(v)) < 0)
        printf("oom_score_adj=%s: errno=%s\n", v, strerrorname_np(errno));
    else
        printf("oom_score_adj=%s: ok\n", v);
    close(fd);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    put("-1000");
    put("-1");
    put("1000");
    char buf[32] = {0};
    int fd = open("/proc/self/oom_score_adj", O_RDONLY);
    (void)!read(fd, buf, sizeof(buf) - 1);
    printf("now: %s", buf);
    return 0;
}
