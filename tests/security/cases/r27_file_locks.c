/* R27: byte-range locks are kernel objects no memory cgroup charges since
 * Linux 6.2, and RLIMIT_LOCKS is not enforced: a file holds any number of
 * them. Four processes each try to place 70 locks (every other byte) on
 * each of 2000 files of their own in /tmp, 560,000 locks in all (about
 * 105 MB of the host's kernel memory where they are allowed), and stop at
 * the first refusal (the case runs with --max-open-files 2048). Then every
 * other way to lock is tried: OFD locks, F_SETLKW, and reading lock state
 * (F_GETLK, F_OFD_GETLK). */
#include "hostile.h"

#include <signal.h>
#include <sys/wait.h>

#define PROCS 4
#define FILES 2000
#define LOCKS_PER_FILE 70

static void report(const char *what, int fd, int cmd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    show(what, fcntl(fd, cmd, &fl));
}

/* Returns the number of locks placed; *err is the errno that stopped it. */
static long locker(int id, int *err)
{
    static int fds[FILES];
    *err = 0;
    for (int f = 0; f < FILES; f++) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/lock-%d-%d", id, f);
        fds[f] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fds[f] < 0) {
            *err = errno;
            return 0;
        }
    }
    long placed = 0;
    for (int k = 0; k < LOCKS_PER_FILE; k++)
        for (int f = 0; f < FILES; f++) {
            struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2 * k,
                               .l_len = 1};
            if (fcntl(fds[f], F_SETLK, &fl) < 0) {
                *err = errno;
                return placed;
            }
            placed++;
        }
    return placed;
}

int main(void)
{
    int p[2];
    pid_t kids[PROCS];
    if (pipe(p) < 0)
        return 1;
    for (int i = 0; i < PROCS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            int err;
            long n = locker(i, &err);
            long msg[2] = {n, err};
            (void)!write(p[1], msg, sizeof(msg));
            pause(); /* hold the locks until the parent has read every count */
            _exit(0);
        }
    }
    long total = 0, refused = 0;
    int err = 0;
    for (int i = 0; i < PROCS; i++) {
        long msg[2];
        if (read(p[0], msg, sizeof(msg)) != (ssize_t)sizeof(msg))
            return 1;
        total += msg[0];
        if (msg[1]) {
            refused++;
            err = (int)msg[1];
        }
    }
    printf("locks placed: %ld, processes refused: %ld (%s)\n", total, refused,
           err ? strerrorname_np(err) : "none");
    for (int i = 0; i < PROCS; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    int fd = open("/tmp/lock-0-0", O_RDWR | O_CLOEXEC);
    report("F_OFD_SETLK", fd, F_OFD_SETLK);
    report("F_SETLKW", fd, F_SETLKW);
    report("F_GETLK", fd, F_GETLK);
    report("F_OFD_GETLK", fd, F_OFD_GETLK);
    return 0;
}
