/* E2: /proc shows the box's own processes only. argv[1] is the runner's pid
 * on the host. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void try_open(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: errno=%s\n", path, strerrorname_np(errno));
        return;
    }
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    printf("%s: READ %zd bytes\n", path, n);
    close(fd);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    /* a child, so that there is a second process of the box to see */
    pid_t kid = fork();
    if (kid == 0) {
        pause();
        _exit(0);
    }
    DIR *d = opendir("/proc");
    struct dirent *de;
    int mine = 0, others = 0;
    while (d && (de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name)
            continue;
        if (pid == getpid() || pid == kid)
            mine++;
        else
            others++;
    }
    printf("/proc: mine=%d others=%d\n", mine, others);
    try_open("/proc/1/environ");
    try_open("/proc/1/cmdline");
    try_open("/proc/1/status");
    char path[64];
    snprintf(path, sizeof(path), "/proc/%s/status", argv[1]);
    int fd = open(path, O_RDONLY);
    printf("/proc/<runner>/status: %s\n", fd < 0 ? strerrorname_np(errno) : "OPENED");
    if (kill((pid_t)atol(argv[1]), 0) < 0)
        printf("kill(runner, 0): errno=%s\n", strerrorname_np(errno));
    else
        printf("kill(runner, 0): ok\n");
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Uid:", 4) == 0 || strncmp(line, "Gid:", 4) == 0)
            fputs(line, stdout);
    kill(kid, SIGKILL);
    return 0;
}
