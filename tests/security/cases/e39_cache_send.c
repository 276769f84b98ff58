/* E39: a sender writes the byte 0x5a into the host's page cache of a
 * shared file, one bit per page (bit set: page cached, clear: evicted), for
 * a later job to read (e39_cache_recv.c). Every way of evicting is tried. */
#include "hostile.h"

#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

int main(int argc, char **argv)
{
    int fd = open_arg(argc, argv);
    const unsigned char byte = 0x5a;
    char *m = mmap(NULL, 8 * 4096, PROT_READ, MAP_SHARED, fd, 0);
    int evicted = 0;
    for (int bit = 0; bit < 8; bit++) {
        off_t off = (off_t)bit * 4096;
        char c;
        if (byte & (1 << bit)) {
            (void)!pread(fd, &c, 1, off); /* cached */
            continue;
        }
        int a = posix_fadvise(fd, off, 4096, POSIX_FADV_DONTNEED);
        int b = m == MAP_FAILED ? -1 : madvise(m + off, 4096, MADV_PAGEOUT);
        evicted += a == 0 && b == 0;
    }
    printf("eviction calls answered 0: %d of 4\n", evicted);
    return 0;
}
