/* E4: kernel knobs and kernel memory under /proc. Writes to sysctls fail;
 * sysrq-trigger, kcore, keys and kallsyms are masked (bound to /dev/null,
 * so they read empty) or unreadable. Nothing is written to sysrq-trigger:
 * if it were real, a write could act on the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void try_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) {
        printf("write %s: errno=%s\n", path, strerrorname_np(errno));
        return;
    }
    ssize_t n = write(fd, text, strlen(text));
    printf("write %s: %s\n", path, n < 0 ? strerrorname_np(errno) : "WRITTEN");
    close(fd);
}

/* "masked" when the path is /dev/null or cannot be opened, "REAL" otherwise */
static void masked(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        printf("%s: masked (errno=%s)\n", path, strerrorname_np(errno));
        return;
    }
    if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) {
        printf("%s: masked\n", path);
        return;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: masked (errno=%s)\n", path, strerrorname_np(errno));
        return;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    printf("%s: %s\n", path, n <= 0 ? "masked (empty)" : "REAL");
    close(fd);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    try_write("/proc/sys/kernel/core_pattern", "|/tmp/pwn\n");
    try_write("/proc/sys/kernel/hostname", "pwned\n");
    try_write("/proc/sys/kernel/modprobe", "/tmp/pwn\n");
    try_write("/proc/sys/vm/drop_caches", "3\n");
    masked("/proc/sysrq-trigger");
    masked("/proc/kcore");
    masked("/proc/keys");
    masked("/proc/kmsg");
    masked("/proc/timer_list");
    /* kallsyms: masked, or at least no address is shown */
    FILE *f = fopen("/proc/kallsyms", "r");
    long nonzero = 0, lines = 0;
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        lines++;
        if (strncmp(line, "0000000000000000", 16) != 0)
            nonzero++;
    }
    printf("/proc/kallsyms: nonzero addresses=%ld\n", nonzero);
    return 0;
}
