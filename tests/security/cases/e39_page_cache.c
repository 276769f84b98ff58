/* E39: the host's page cache of files boxes share (read-only binds of
 * /usr) is a channel between jobs when a box can evict pages and tell
 * whether they are cached, and evicting shared runtimes slows the host.
 * Every call that evicts or reports cache state is tried on ARGV[1]; run.py
 * cached the file before and checks from the host that it still is. */
#include "hostile.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#define MADV_PAGEOUT 21
#endif
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

int main(int argc, char **argv)
{
    int fd = open_arg(argc, argv);
    off_t size = lseek(fd, 0, SEEK_END);
    char b[64];
    struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
    show("preadv2(RWF_NOWAIT)", preadv2(fd, &iov, 1, 0, RWF_NOWAIT));
    show("pwritev2(RWF_NOWAIT) to /dev/null",
         pwritev2(open("/dev/null", O_WRONLY | O_CLOEXEC), &iov, 1, -1, RWF_NOWAIT));
    struct {
        unsigned long long off, len;
    } range = {0, (unsigned long long)size};
    unsigned long long stat[5] = {0};
    show("cachestat", syscall(SYS_cachestat, fd, &range, stat, 0));
    char *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        show("mmap", -1);
        return 1;
    }
    for (off_t off = 0; off < size; off += 4096)
        (void)*(volatile char *)(m + off);
    show("madvise(MADV_PAGEOUT)", madvise(m, (size_t)size, MADV_PAGEOUT));
    show("madvise(MADV_COLD)", madvise(m, (size_t)size, MADV_COLD));
    show("madvise(MADV_DONTNEED)", madvise(m, (size_t)size, MADV_DONTNEED));
    /* mincore reports every page of a file the caller may not write as
     * resident (Linux 5.0+): it tells nothing */
    unsigned char vec[64] = {0};
    int resident = 0;
    if (mincore(m, (size_t)size, vec) == 0)
        for (off_t i = 0; i < (size + 4095) / 4096 && i < 64; i++)
            resident += vec[i] & 1;
    printf("mincore: %d of %lld pages reported\n", resident, (long long)((size + 4095) / 4096));
    munmap(m, (size_t)size);
    show("readahead", readahead(fd, 0, (size_t)size));
    /* posix_fadvise returns the error instead of setting errno; eviction
     * comes last, once no mapping pins the pages */
    printf("fadvise(NOREUSE): %d\n", posix_fadvise(fd, 0, 0, POSIX_FADV_NOREUSE));
    printf("fadvise(DONTNEED): %d\n", posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
    return 0;
}
