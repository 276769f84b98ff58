/* E31: a setuid/setgid copy of the program made by the program itself gives
 * no privilege when run (its owner is the box's own uid, /box and /tmp are
 * nosuid, no_new_privs holds); file capabilities cannot be set; files cannot
 * be given to root. */
#include "hostile.h"
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static int copy_self(const char *to)
{
    int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || out < 0)
        return -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return -1;
    close(in);
    close(out);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("%s: ruid=%d euid=%d egid=%d\n", argv[2], (int)getuid(), (int)geteuid(),
               (int)getegid());
        return 0;
    }
    const char *copies[] = {"/box/suid", "/tmp/suid"};
    for (int i = 0; i < 2; i++) {
        if (copy_self(copies[i]) < 0)
            return 2;
        char label[64];
        snprintf(label, sizeof(label), "chmod 06755 %s", copies[i]);
        show(label, chmod(copies[i], 06755));
        snprintf(label, sizeof(label), "chown root %s", copies[i]);
        show(label, chown(copies[i], 0, 0));
        /* a v2 file capability granting everything */
        unsigned char cap[20] = {0, 0, 0,    2,    0xff, 0xff, 0xff, 0xff, 0, 0,
                                 0, 0, 0xff, 0xff, 0xff, 0xff, 0,    0,    0, 0};
        snprintf(label, sizeof(label), "set security.capability %s", copies[i]);
        show(label, setxattr(copies[i], "security.capability", cap, sizeof(cap), 0));
        pid_t p = fork();
        if (p == 0) {
            execl(copies[i], copies[i], "child", copies[i], (char *)NULL);
            printf("exec %s: errno=%s\n", copies[i], strerrorname_np(errno));
            _exit(1);
        }
        waitpid(p, NULL, 0);
    }
    return 0;
}
