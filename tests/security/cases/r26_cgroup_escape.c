/* R26: try to leave the step's cgroup or raise its limits through the
 * cgroup filesystem, then allocate 96 MiB under a 64 MB limit: the limit
 * must still hold (memory_limit). */
#include "hostile.h"

static void try_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) {
        printf("%s: errno=%s\n", path, strerrorname_np(errno));
        return;
    }
    if (write(fd, text, strlen(text)) < 0)
        printf("%s: write errno=%s\n", path, strerrorname_np(errno));
    else
        printf("%s: WRITTEN\n", path);
    close(fd);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    try_write("/sys/fs/cgroup/cgroup.procs", pid);
    try_write("/sys/fs/cgroup/memory/cgroup.procs", pid);
    try_write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "-1\n");
    try_write("/sys/fs/cgroup/pids/pids.max", "max\n");
    try_write("/sys/fs/cgroup/memory.max", "max\n");
    /* what the program sees of its own cgroup: nothing of the host's tree */
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[512];
    int lines = 0, rooted = 0;
    while (f && fgets(line, sizeof(line), f)) {
        lines++;
        char *path = strrchr(line, ':');
        if (path && strcmp(path, ":/\n") == 0)
            rooted++;
    }
    printf("/proc/self/cgroup: %s\n",
           lines > 0 && lines == rooted ? "every path is /" : "shows host paths");
    printf("allocating 96 MiB\n");
    for (int i = 0; i < 96; i++) {
        char *p = malloc(1 << 20);
        if (!p)
            return 3;
        touch(p, 1 << 20, 7);
    }
    printf("allocated 96 MiB\n");
    return 0;
}
