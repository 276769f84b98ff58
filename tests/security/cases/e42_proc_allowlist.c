/* E42: /proc fails closed. Every top-level entry that is not a pid of the
 * box and not one of the entries a box keeps (the runtimes' cpuinfo,
 * meminfo, stat, uptime, loadavg, version, filesystems; self, thread-self,
 * mounts, net, sys, sysvipc) must be hidden: whatever this kernel or its
 * platform adds shows up here as VISIBLE and fails the case. */
#include "hostile.h"

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>

static const char *const kept[] = {"self", "thread-self", "cpuinfo", "meminfo", "stat",
                                   "uptime", "loadavg", "version", "mounts", "net", "sys",
                                   "sysvipc", "filesystems"};

int main(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int checked = 0, visible = 0;
    while (d && (e = readdir(d))) {
        const char *n = e->d_name;
        bool skip = strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || (n[0] >= '0' && n[0] <= '9');
        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
            skip |= strcmp(n, kept[i]) == 0;
        if (skip)
            continue;
        checked++;
        char p[300];
        snprintf(p, sizeof(p), "/proc/%s", n);
        struct stat st;
        if (lstat(p, &st) < 0)
            continue;
        bool shown = false;
        if (S_ISDIR(st.st_mode)) {
            DIR *sub = opendir(p);
            struct dirent *s;
            while (sub && (s = readdir(sub)))
                shown |= strcmp(s->d_name, ".") != 0 && strcmp(s->d_name, "..") != 0;
            if (sub)
                closedir(sub);
        } else {
            int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            char c;
            shown = fd >= 0 && read(fd, &c, 1) > 0;
            if (fd >= 0)
                close(fd);
        }
        if (shown) {
            printf("VISIBLE: %s\n", p);
            visible++;
        }
    }
    printf("entries outside the allowlist: %s, visible: %d\n", checked > 20 ? "many" : "few",
           visible);
    return 0;
}
