/* R23: open descriptors until EMFILE, then try to raise RLIMIT_NOFILE. The
 * limit is set with hard == soft, so raising fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("nofile: soft=%llu hard=%llu\n", (unsigned long long)rl.rlim_cur,
           (unsigned long long)rl.rlim_max);
    int n = 0, err = 0;
    for (; n < 1000000; n++)
        if (open("/dev/null", O_RDONLY) < 0) {
            err = errno;
            break;
        }
    printf("opened=%d err=%s\n", n, err ? strerrorname_np(err) : "none");
    printf("opened + 3 == soft: %s\n",
           (unsigned long long)n + 3 == (unsigned long long)rl.rlim_cur ? "yes" : "no");
    struct rlimit up = {rl.rlim_max + 1, rl.rlim_max + 1};
    if (setrlimit(RLIMIT_NOFILE, &up) < 0)
        printf("raise hard: errno=%s\n", strerrorname_np(errno));
    else
        printf("raise hard: ok\n");
    struct rlimit above = {rl.rlim_max + 1, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &above) < 0)
        printf("soft above hard: errno=%s\n", strerrorname_np(errno));
    else
        printf("soft above hard: ok\n");
    return 0;
}
