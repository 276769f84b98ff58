/* R28: the durability calls reach the host. Everything a box can write is
 * tmpfs, where they do nothing; on a read-only bound host file fsync issues
 * a cache flush to the host's disk (one per call, measured), and sync and
 * syncfs write back and flush the host's file systems. A box calling them
 * in a loop would stall every commit on the host, moat's own store's
 * included. Each is called 4000 times on /usr/bin/env (sync 200 times);
 * run.py counts the flushes the host's disks got meanwhile. */
#include "hostile.h"

#include <sys/mman.h>

#define ROUNDS 4000

int main(void)
{
    int fd = open("/usr/bin/env", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        show("open /usr/bin/env", -1);
        return 1;
    }
    static const char *const names[] = {"fsync", "fdatasync", "syncfs", "sync_file_range"};
    for (int k = 0; k < 4; k++) {
        long bad = 0;
        int err = 0;
        for (int i = 0; i < ROUNDS; i++) {
            int r = k == 0 ? fsync(fd)
                    : k == 1 ? fdatasync(fd)
                    : k == 2 ? syncfs(fd)
                             : sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_AFTER);
            if (r < 0) {
                bad++;
                err = errno;
            }
        }
        printf("%s x%d: %ld failed%s%s\n", names[k], ROUNDS, bad, err ? " " : "",
               err ? strerrorname_np(err) : "");
    }
    void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    long bad = 0;
    for (int i = 0; i < ROUNDS; i++)
        bad += msync(m, 4096, MS_SYNC) < 0;
    printf("msync(MS_SYNC) x%d: %ld failed\n", ROUNDS, bad);
    show("msync(MS_ASYNC) of an unmapped range", msync((char *)m + (1 << 30), 4096, MS_ASYNC));
    for (int i = 0; i < 200; i++)
        sync();
    printf("sync x200: done\n");
    return 0;
}
