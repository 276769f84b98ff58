/* E28: /dev holds null, zero, full, random and urandom as devices and
 * nothing else that is one: no memory, disk, kvm, terminal or console. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    DIR *d = opendir("/dev");
    struct dirent *de;
    char *nodes[64];
    int n = 0;
    while (d && (de = readdir(d)) && n < 64) {
        char p[300];
        struct stat st;
        snprintf(p, sizeof(p), "/dev/%s", de->d_name);
        if (lstat(p, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
            nodes[n++] = strdup(de->d_name);
    }
    qsort(nodes, (size_t)n, sizeof(nodes[0]), cmp);
    printf("device nodes:");
    for (int i = 0; i < n; i++)
        printf(" %s", nodes[i]);
    printf("\n");
    const char *bad[] = {"/dev/mem",       "/dev/kmem",    "/dev/port",      "/dev/kmsg",
                         "/dev/sda",       "/dev/vda",     "/dev/nvme0n1",   "/dev/kvm",
                         "/dev/fuse",      "/dev/net/tun", "/dev/tty",       "/dev/console",
                         "/dev/ptmx",      "/dev/loop0",   "/dev/vhost-net", "/dev/vsock",
                         "/dev/dri/card0", "/dev/hwrng",   "/dev/cpu/0/msr"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = open(bad[i], O_RDONLY);
        printf("%s: %s\n", bad[i], fd < 0 ? strerrorname_np(errno) : "OPENED");
    }
    int full = open("/dev/full", O_WRONLY);
    printf("write /dev/full: %s\n", write(full, "x", 1) < 0 ? strerrorname_np(errno) : "ok");
    int z = open("/dev/zero", O_RDONLY);
    char b[8];
    printf("read /dev/zero: %zd\n", read(z, b, sizeof(b)));
    printf("mknod in /dev: %s\n",
           mknod("/dev/x", S_IFCHR | 0666, 0x0103) < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
