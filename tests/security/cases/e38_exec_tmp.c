/* E38: policy: /tmp and /box allow exec (compiled programs and JIT runtimes
 * need it); an ELF written there runs, as the box's uid. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        printf("exec from %s: ok, uid=%d\n", argv[1], (int)getuid());
        return 0;
    }
    const char *dsts[] = {"/tmp/elf", "/dev/shm/elf"};
    for (int i = 0; i < 2; i++) {
        int in = open("/proc/self/exe", O_RDONLY),
            out = open(dsts[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
            (void)!write(out, buf, (size_t)n);
        close(in);
        close(out);
        chmod(dsts[i], 0755);
        pid_t p = fork();
        if (p == 0) {
            execl(dsts[i], dsts[i], dsts[i], (char *)NULL);
            printf("exec from %s: errno=%s\n", dsts[i], strerrorname_np(errno));
            _exit(1);
        }
        waitpid(p, NULL, 0);
    }
    return 0;
}
