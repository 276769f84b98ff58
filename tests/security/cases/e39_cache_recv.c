/* E39: the receiver of e39_cache_send.c reads one bit per page of the
 * shared file: cached or not, by a read that must not wait (RWF_NOWAIT
 * fails with EAGAIN on a page that is not cached). */
#include "hostile.h"

#include <sys/uio.h>

int main(int argc, char **argv)
{
    int fd = open_arg(argc, argv);
    unsigned byte = 0;
    int refused = 0, err = 0;
    for (int bit = 0; bit < 8; bit++) {
        char c;
        struct iovec iov = {.iov_base = &c, .iov_len = 1};
        if (preadv2(fd, &iov, 1, (off_t)bit * 4096, RWF_NOWAIT) == 1)
            byte |= 1u << bit;
        else if (errno != EAGAIN)
            refused++, err = errno;
    }
    if (refused)
        printf("RWF_NOWAIT refused %d times: %s\n", refused, strerrorname_np(err));
    else
        printf("read 0x%02x\n", byte);
    return 0;
}
