/* R5: a huge virtual reservation is not memory use: map 64 GiB with
 * MAP_NORESERVE, touch 10 MiB, exit 0. An address-space limit would fail it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    size_t len = (size_t)64 << 30;
    char *p =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap 64 GiB: errno=%s\n", strerrorname_np(errno));
        return 1;
    }
    /* the first 10 MiB, page by page */
    for (size_t off = 0; off < ((size_t)10 << 20); off += 4096)
        p[off] = 1;
    printf("mmap 64 GiB: ok, touched 10 MiB\n");
    return 0;
}
