/* E37/E7 receiver: run in another box while the sender waits (and again
 * after it has finished): none of the sender's traces is visible, its
 * processes are not in /proc, and its abstract socket (argv[1]) is not
 * reachable. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    const char *files[] = {"/tmp/moat-channel", "/dev/shm/moat-channel", "/box/moat-channel"};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        printf("%s: %s\n", files[i], stat(files[i], &st) < 0 ? strerrorname_np(errno) : "VISIBLE");
    }
    printf("shmget key: %s\n", shmget(0x6d6f6174, 0, 0) < 0 ? strerrorname_np(errno) : "VISIBLE");
    printf("msgget key: %s\n", msgget(0x6d6f6174, 0) < 0 ? strerrorname_np(errno) : "VISIBLE");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(argv[1]);
    memcpy(a.sun_path + 1, argv[1], len);
    int r = connect(s, (struct sockaddr *)&a,
                    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
    printf("abstract socket: %s\n", r < 0 ? strerrorname_np(errno) : "CONNECTED");
    DIR *d = opendir("/proc");
    struct dirent *de;
    int others = 0;
    while (d && (de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (!*end && end != de->d_name && pid != getpid())
            others++;
    }
    printf("other processes in /proc: %d\n", others);
    return 0;
}
