/* E30: the host's runtime directories are read-only in the box: creating,
 * truncating, renaming, unlinking, chmod, chown, utimes and xattrs fail with
 * EROFS (the read-only mount is checked first); opening an existing root
 * file for writing fails with EACCES first. argv[1] is a marker name. */
#include "hostile.h"
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    const char *dirs[] = {"/usr/bin", "/bin", "/lib", "/etc", "/usr/lib", "/"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char p[300], label[300];
        snprintf(p, sizeof(p), "%s/%s", strcmp(dirs[i], "/") ? dirs[i] : "", argv[1]);
        snprintf(label, sizeof(label), "create in %s", dirs[i]);
        show(label, open(p, O_WRONLY | O_CREAT, 0644));
        snprintf(label, sizeof(label), "mkdir in %s", dirs[i]);
        show(label, mkdir(p, 0755));
        snprintf(label, sizeof(label), "symlink in %s", dirs[i]);
        show(label, symlink("/box", p));
    }
    show("open /usr/bin/rm for write", open("/usr/bin/rm", O_WRONLY));
    show("open /usr/bin/rm O_TRUNC", open("/usr/bin/rm", O_WRONLY | O_TRUNC));
    show("open /etc/passwd for write", open("/etc/passwd", O_WRONLY | O_APPEND));
    show("truncate /usr/bin/rm", truncate("/usr/bin/rm", 0));
    show("rename /usr/bin/su", rename("/usr/bin/su", "/usr/bin/su2"));
    show("unlink /usr/bin/rm", unlink("/usr/bin/rm"));
    show("unlink /etc/passwd", unlink("/etc/passwd"));
    show("chmod /usr/bin/passwd", chmod("/usr/bin/passwd", 0777));
    show("chown /usr/bin/passwd", chown("/usr/bin/passwd", 1000, 1000));
    show("utimes /usr/bin/rm", utimes("/usr/bin/rm", NULL));
    show("setxattr /usr/bin/rm", setxattr("/usr/bin/rm", "user.x", "1", 1, 0));
    show("rmdir /usr/share", rmdir("/usr/share"));
    return 0;
}
