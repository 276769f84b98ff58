/* Probe: the program is in a pid namespace of its own: a low pid, box init
 * as pid 1 and invisible, and nothing of the host under /proc. argv[1] is the
 * pid of the test runner on the host. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t me = getpid();
    printf("pid small: %s\n", me < 1000 ? "yes" : "no");
    printf("ppid: %d\n", (int)getppid());
    DIR *d = opendir("/proc");
    int others = 0, self = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name)
            continue;
        if (pid == me)
            self++;
        else
            others++;
    }
    printf("proc: self=%d others=%d\n", self, others);
    struct stat st;
    if (stat("/proc/1", &st) < 0)
        printf("/proc/1: errno=%s\n", strerrorname_np(errno));
    else
        printf("/proc/1: visible\n");
    if (argc > 1) {
        long host = strtol(argv[1], NULL, 10);
        if (host == me)
            printf("runner pid: same as mine\n");
        else if (kill((pid_t)host, 0) < 0)
            printf("kill(runner pid, 0): errno=%s\n", strerrorname_np(errno));
        else
            printf("kill(runner pid, 0): ok\n");
    }
    return 0;
}
