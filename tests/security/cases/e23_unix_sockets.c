/* E23: AF_UNIX is allowed, but there is nothing of the host to connect to:
 * the runner's socket file (argv[1]) is not in the box, the usual daemon
 * sockets are not either, and abstract names (argv[2] is one the runner
 * listens on) belong to the network namespace, which is the box's own. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void try_unix(const char *label, const char *path, int abstract)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) {
        printf("%s: socket errno=%s\n", label, strerrorname_np(errno));
        return;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len > sizeof(a.sun_path) - 2)
        len = sizeof(a.sun_path) - 2;
    memcpy(a.sun_path + (abstract ? 1 : 0), path, len);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0));
    if (connect(s, (struct sockaddr *)&a, alen) < 0)
        printf("%s: errno=%s\n", label, strerrorname_np(errno));
    else
        printf("%s: CONNECTED\n", label);
    close(s);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3)
        return 2;
    try_unix("runner's socket file", argv[1], 0);
    try_unix("runner's abstract socket", argv[2], 1);
    try_unix("/run/dbus/system_bus_socket", "/run/dbus/system_bus_socket", 0);
    try_unix("/var/run/docker.sock", "/var/run/docker.sock", 0);
    try_unix("/run/systemd/private", "/run/systemd/private", 0);
    try_unix("/tmp/.X11-unix/X0", "/tmp/.X11-unix/X0", 0);
    try_unix("@/tmp/.X11-unix/X0", "/tmp/.X11-unix/X0", 1);
    int sv[2];
    printf("socketpair(AF_UNIX): %s\n",
           socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 ? "ok" : strerrorname_np(errno));
    return 0;
}
