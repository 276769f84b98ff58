/* E42: /proc must show nothing of the host: its boot arguments, boot id,
 * kernel symbols and modules, hardware, interrupts and timers, devices,
 * disks, other boxes (cgroups: how many are live) and host-wide counters
 * that move with what every box does. Each path is read: "hidden" when it
 * is absent, unreadable or empty (masked), else its size. Uptime and boot
 * time are the box's own (a time namespace), not the host's. */
#include "hostile.h"

#include <dirent.h>
#include <sys/sysinfo.h>
#include <time.h>

static void file(const char *p)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    char buf[4096];
    ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf));
    printf("%s: %s\n", p, n > 0 ? "VISIBLE" : "hidden");
    if (fd >= 0)
        close(fd);
}

static void dir(const char *p)
{
    DIR *d = opendir(p);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    printf("%s/: %s\n", p, n ? "VISIBLE" : "hidden");
    if (d)
        closedir(d);
}

int main(void)
{
    static const char *const files[] = {
        "/proc/cmdline", "/proc/sys/kernel/random/boot_id", "/proc/cgroups", "/proc/kallsyms",
        "/proc/modules", "/proc/interrupts", "/proc/softirqs", "/proc/sched_debug",
        "/proc/schedstat", "/proc/timer_list", "/proc/keys", "/proc/key-users", "/proc/kcore",
        "/proc/kmsg", "/proc/iomem", "/proc/ioports", "/proc/devices", "/proc/misc",
        "/proc/consoles", "/proc/diskstats", "/proc/partitions", "/proc/swaps",
        "/proc/vmstat", "/proc/zoneinfo", "/proc/buddyinfo", "/proc/pagetypeinfo",
        "/proc/slabinfo", "/proc/vmallocinfo", "/proc/locks", "/proc/dma", "/proc/crypto",
        "/proc/execdomains", "/proc/config.gz", "/proc/sysrq-trigger",
        "/proc/sys/fs/file-nr", "/proc/sys/fs/inode-nr", "/proc/sys/fs/dentry-state",
        "/proc/sys/fs/aio-nr", "/proc/sys/kernel/tainted", "/proc/sys/kernel/random/entropy_avail",
    };
    static const char *const dirs[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/tty",
                                       "/proc/pressure", "/proc/driver", "/proc/acpi",
                                       "/proc/scsi", "/proc/sys/dev", "/proc/sys/fs/quota"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        file(files[i]);
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        dir(dirs[i]);
    /* the box was prepared moments ago: its clocks say so */
    double up = -1;
    FILE *f = fopen("/proc/uptime", "r");
    if (f && fscanf(f, "%lf", &up) != 1)
        up = -1;
    printf("/proc/uptime: %s\n", up >= 0 && up < 30 ? "the box's" : "the host's");
    struct sysinfo si;
    sysinfo(&si);
    printf("sysinfo uptime: %s\n", si.uptime < 30 ? "the box's" : "the host's");
    struct timespec boot;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    printf("CLOCK_BOOTTIME: %s\n", boot.tv_sec < 30 ? "the box's" : "the host's");
    return 0;
}
