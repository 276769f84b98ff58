/* E1: host data must not be reachable: /etc/shadow, /root, /home, the other
 * host directories, the runner's canary file and directory (argv[1], argv[2])
 * and a user of the host's /etc/passwd (argv[3]). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_open(const char *label, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        printf("%s: errno=%s\n", label, strerrorname_np(errno));
    else
        printf("%s: OPENED\n", label);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 4)
        return 2;
    const char *paths[] = {"/etc/shadow", "/etc/gshadow", "/root", "/home", "/var",   "/run",
                           "/srv",        "/opt",         "/boot", "/mnt",  "/media", "/sys"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        try_open(paths[i], paths[i]);
    try_open("canary file", argv[1]);
    try_open("canary dir", argv[2]);
    FILE *f = fopen("/etc/passwd", "r");
    char line[512];
    int host_user = 0;
    size_t len = strlen(argv[3]);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, argv[3], len) == 0 && line[len] == ':')
            host_user = 1;
    printf("/etc/passwd lists the host user: %s\n", host_user ? "yes" : "no");
    return 0;
}
