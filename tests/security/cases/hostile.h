/* Helpers shared by the C cases. run.py passes this header to `moat run`
 * beside a case whose source includes it, so it lands in /box next to the
 * entry; gcc leaves a header named on its command line out of the link.
 * Include it first: it defines _GNU_SOURCE (strerrorname_np) before any
 * system header. Everything is static inline, so a case that uses only part
 * of it compiles without warnings. */
#ifndef HOSTILE_H
#define HOSTILE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Prints "what: ok", or "what: errno=ENAME" when rc is -1 (a libc call or a
 * raw syscall that failed). errno is read first: the caller evaluates the
 * call as the argument, and nothing may run between it and this read. */
static inline void show(const char *what, long rc)
{
    int e = errno;
    if (rc == -1)
        printf("%s: errno=%s\n", what, strerrorname_np(e));
    else
        printf("%s: ok\n", what);
}

/* Touches every page through a volatile pointer: a memset of memory that is
 * never read again may be optimised away together with the malloc. */
static inline void touch(char *p, size_t len, char v)
{
    volatile char *q = p;
    for (size_t i = 0; i < len; i += 4096)
        q[i] = v;
}

/* Forks a child that only waits for signals: a target in the box that the
 * case may trace, read, or kill. Returns its pid (or -1) in the parent. */
static inline pid_t spawn_pauser(void)
{
    pid_t kid = fork();
    if (kid == 0) {
        for (;;)
            pause();
    }
    return kid;
}

/* The file the case names as its first argument, opened read-only; exits
 * with 2 without one and 1 (after saying why) when it cannot be opened. */
static inline int open_arg(int argc, char **argv)
{
    if (argc < 2)
        exit(2);
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        show("open", -1);
        exit(1);
    }
    return fd;
}

#endif
