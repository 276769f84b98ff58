/* R3: threads until pthread_create fails. Threads count against the same
 * limit as processes (64 in all), so fewer than 64 can be made. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int block_fd;

static void *sleeper(void *arg)
{
    char c;
    (void)arg;
    (void)!read(block_fd, &c, 1); /* never returns: nobody writes */
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    if (pipe(p) < 0)
        return 2;
    block_fd = p[0];
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 << 10);
    int n = 0, err = 0;
    for (; n < 10000; n++) {
        pthread_t t;
        err = pthread_create(&t, &a, sleeper, NULL);
        if (err)
            break;
    }
    printf("threads=%d err=%s\n", n, err ? strerrorname_np(err) : "none");
    _exit(0);
}
