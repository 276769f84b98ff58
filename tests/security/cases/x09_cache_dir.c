/* The host's cache directory (precompiled headers, compiled programs) is
 * bound read-only at /moat/cache: a box cannot poison what later jobs use. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    char p[512];
    snprintf(p, sizeof(p), "/moat/cache/%s", argv[1]);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    printf("create in /moat/cache: %s\n", fd < 0 ? strerrorname_np(errno) : "CREATED");
    printf("mkdir in /moat/cache: %s\n", mkdir(p, 0755) < 0 ? strerrorname_np(errno) : "CREATED");
    printf("chmod /moat/cache: %s\n",
           chmod("/moat/cache", 0777) < 0 ? strerrorname_np(errno) : "CHANGED");
    return 0;
}
