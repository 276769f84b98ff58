/* E27: io_uring runs operations (openat, socket, ...) the seccomp filter
 * never sees: refused with ENOSYS at setup. */
#include "hostile.h"
#include <linux/io_uring.h>
#include <sys/syscall.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    show("io_uring_setup", syscall(SYS_io_uring_setup, 8, &p));
    show("io_uring_enter", syscall(SYS_io_uring_enter, 0, 1, 0, 0, NULL, 0));
    show("io_uring_register", syscall(SYS_io_uring_register, 0, 0, NULL, 0));
    return 0;
}
