/* E37/E7 sender: leaves traces in every place another box might look (its
 * /tmp, /dev/shm, a SysV shared memory segment and message queue, an
 * abstract unix socket named after argv[1]) and waits 5 s for a receiver
 * (run concurrently in another box) to connect. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    int ok = 0;
    ok += close(open("/tmp/moat-channel", O_WRONLY | O_CREAT, 0666)) == 0;
    ok += close(open("/dev/shm/moat-channel", O_WRONLY | O_CREAT, 0666)) == 0;
    ok += close(open("/box/moat-channel", O_WRONLY | O_CREAT, 0666)) == 0;
    ok += shmget(0x6d6f6174, 4096, IPC_CREAT | 0666) >= 0;
    ok += msgget(0x6d6f6174, IPC_CREAT | 0666) >= 0;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(argv[1]);
    memcpy(a.sun_path + 1, argv[1], len);
    ok += bind(s, (struct sockaddr *)&a,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) == 0 &&
          listen(s, 4) == 0;
    printf("traces left: %d of 6\n", ok);
    int conns = 0;
    for (int i = 0; i < 500; i++) {
        int c = accept(s, NULL, NULL);
        if (c >= 0) {
            conns++;
            close(c);
        }
        usleep(10000);
    }
    printf("connections from elsewhere: %d\n", conns);
    return 0;
}
