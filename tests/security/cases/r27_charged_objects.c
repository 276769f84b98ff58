/* R27: kernel objects a box can make in numbers, which the memory cgroup
 * must charge: ARGV[1] picks one, and the program makes them until the
 * kernel stops it. Each kind must end the step at the memory limit (or
 * at a count limit below it), and the host's unreclaimable slab must not
 * grow past what the box was allowed (run.py samples it).
 *   unix       AF_UNIX socket pairs, each send queue filled with 1-byte
 *              messages (skb overhead: ~800 bytes of kernel memory per byte)
 *   pipes      pipes, each filled to its 64 KiB capacity
 *   msg        SysV message queues, filled with 1-byte messages
 *   epoll      epoll watches: 1000 descriptors of one pipe, watched by as
 *              many epoll instances as it takes
 *   pagetables one byte touched every 2 MiB of a 1 TiB reservation: a
 *              page-table page per byte
 *   memfd      memfds of one page each, mapped and closed (the mapping
 *              keeps each file alive beyond RLIMIT_NOFILE) */
#include "hostile.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>

static long unix_buffers(void)
{
    long n = 0;
    char c = 'x';
    for (;;) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
            return n;
        while (send(sv[0], &c, 1, MSG_DONTWAIT) == 1)
            n++;
    }
}

static long pipes(void)
{
    static char block[65536];
    long n = 0;
    for (;;) {
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
            return n;
        ssize_t w;
        while ((w = write(p[1], block, sizeof(block))) > 0)
            n += w;
    }
}

static long messages(void)
{
    long n = 0;
    struct {
        long type;
        char text[1];
    } m = {1, {'x'}};
    for (;;) {
        int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (q < 0)
            return n;
        while (msgsnd(q, &m, 1, IPC_NOWAIT) == 0)
            n++;
    }
}

static long epoll_watches(void)
{
    enum { FDS = 1000 };
    static int fds[FDS];
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return 0;
    for (int i = 0; i < FDS; i++)
        if ((fds[i] = dup(p[0])) < 0)
            return 0;
    long n = 0;
    for (;;) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
            return n;
        for (int i = 0; i < FDS; i++) {
            struct epoll_event ev = {.events = EPOLLIN};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
                return n;
            n++;
        }
    }
}

static long page_tables(void)
{
    size_t span = (size_t)1 << 40;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m == MAP_FAILED)
        return -1;
    long n = 0;
    for (size_t off = 0; off < span; off += (size_t)2 << 20, n++)
        ((volatile char *)m)[off] = 1;
    return n;
}

static long memfds(void)
{
    long n = 0;
    for (;;) {
        int fd = memfd_create("x", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 4096) < 0)
            return n;
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
            return n;
        m[0] = 1;
        n++;
    }
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        long (*fn)(void);
    } kinds[] = {{"unix", unix_buffers}, {"pipes", pipes}, {"msg", messages},
                 {"epoll", epoll_watches}, {"pagetables", page_tables}, {"memfd", memfds}};
    for (size_t i = 0; argc > 1 && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(argv[1], kinds[i].name) != 0)
            continue;
        printf("%s: making them\n", kinds[i].name);
        fflush(stdout);
        long n = kinds[i].fn();
        printf("%s: stopped after %ld by %s\n", kinds[i].name, n, strerrorname_np(errno));
        return 0;
    }
    printf("usage: %s unix|pipes|msg|epoll|pagetables|memfd\n", argv[0]);
    return 2;
}
