/* E15: no change of the filesystem view: mount, remount, umount,
 * pivot_root and the new mount API are refused. open_tree without
 * OPEN_TREE_CLONE needs no privilege from the kernel, so only the filter
 * stops it. */
#include "hostile.h"
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    mkdir("m", 0755);
    show("mount tmpfs", mount("tmpfs", "/box/m", "tmpfs", 0, "size=1m"));
    show("remount /usr rw", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL));
    show("bind / on /box/m", mount("/", "/box/m", NULL, MS_BIND | MS_REC, NULL));
    show("umount /proc", umount2("/proc", MNT_DETACH));
    show("umount /usr", umount2("/usr", 0));
    show("pivot_root", syscall(SYS_pivot_root, "/box", "/box/m"));
    show("fsopen tmpfs", syscall(SYS_fsopen, "tmpfs", 0));
    show("fspick /usr", syscall(SYS_fspick, AT_FDCWD, "/usr", 0));
    show("open_tree /usr", syscall(SYS_open_tree, AT_FDCWD, "/usr", 0));
    show("open_tree /usr clone", syscall(SYS_open_tree, AT_FDCWD, "/usr", OPEN_TREE_CLONE));
    struct mount_attr ma = {.attr_clr = MOUNT_ATTR_RDONLY};
    show("mount_setattr /usr rw", syscall(SYS_mount_setattr, AT_FDCWD, "/usr", 0, &ma, sizeof(ma)));
    show("move_mount", syscall(SYS_move_mount, AT_FDCWD, "/usr", AT_FDCWD, "/box/m", 0));
    return 0;
}
