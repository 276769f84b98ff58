/* E32: no device nodes can be made (a box-made /dev/mem would be the host's
 * memory); FIFOs and sockets, which are not devices, are fine. */
#include "hostile.h"
#include <sys/stat.h>
#include <sys/sysmacros.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    show("mknod c 1:1 (mem)", mknod("mem", S_IFCHR | 0666, makedev(1, 1)));
    show("mknod b 8:0 (sda)", mknod("sda", S_IFBLK | 0666, makedev(8, 0)));
    show("mknod c 1:3 in /tmp", mknod("/tmp/null", S_IFCHR | 0666, makedev(1, 3)));
    show("mkfifo", mkfifo("fifo", 0600));
    show("mknod S_IFIFO", mknod("fifo2", S_IFIFO | 0600, 0));
    return 0;
}
