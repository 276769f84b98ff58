/* R25: a 1 GiB SysV shared memory segment, attached and touched: its pages
 * are charged to the step's memory cgroup (memory_limit), and the segment
 * lives in the box's IPC namespace, so nothing is left on the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    size_t len = (size_t)1 << 30;
    int id = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
    if (id < 0) {
        printf("shmget 1 GiB: errno=%s\n", strerrorname_np(errno));
        return 0;
    }
    char *p = shmat(id, NULL, 0);
    if (p == (void *)-1) {
        printf("shmat: errno=%s\n", strerrorname_np(errno));
        return 0;
    }
    printf("touching\n");
    for (size_t off = 0; off < len; off += 4096)
        p[off] = 1;
    printf("touched 1 GiB\n");
    return 0;
}
