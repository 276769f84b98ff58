/* E5: no descriptor of moat, box init or the host is inherited: only 0, 1
 * and 2 are open; 0 is a regular file, 1 and 2 are pipes. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return "closed";
    if (S_ISREG(st.st_mode))
        return "file";
    if (S_ISFIFO(st.st_mode))
        return "pipe";
    if (S_ISCHR(st.st_mode))
        return "chardev";
    if (S_ISSOCK(st.st_mode))
        return "socket";
    if (S_ISDIR(st.st_mode))
        return "directory";
    return "other";
}

int main(void)
{
    char out[4096];
    int len = snprintf(out, sizeof(out), "open fds:");
    for (int fd = 0; fd < 65536; fd++)
        if (fcntl(fd, F_GETFD) >= 0 && len < (int)sizeof(out) - 32)
            len += snprintf(out + len, sizeof(out) - (size_t)len, " %d(%s)", fd, kind(fd));
    printf("%s\n", out);
    return 0;
}
