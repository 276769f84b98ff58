/* R27: queued signals and POSIX timers (each holds a queued signal) are
 * kernel objects that kernels before 5.14 do not charge to the memory
 * cgroup; RLIMIT_SIGPENDING bounds both. One child makes timers until the
 * kernel refuses, another queues real-time signals to itself until the
 * kernel refuses; each says how many it got. The box's limit is 4096, the
 * host default is its thread limit (~100,000 on this kind of machine). */
#include "hostile.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

static void timers(void)
{
    long n = 0;
    for (;;) {
        timer_t t;
        struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
        if (timer_create(CLOCK_MONOTONIC, &ev, &t) < 0)
            break;
        n++;
    }
    printf("timers made: %ld, then %s\n", n, strerrorname_np(errno));
}

static void queued(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    long n = 0;
    union sigval v = {0};
    while (sigqueue(getpid(), SIGRTMIN, v) == 0)
        n++;
    printf("signals queued: %ld, then %s\n", n, strerrorname_np(errno));
}

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_SIGPENDING, &rl);
    printf("RLIMIT_SIGPENDING %llu/%llu\n", (unsigned long long)rl.rlim_cur,
           (unsigned long long)rl.rlim_max);
    fflush(stdout);
    void (*fns[])(void) = {timers, queued};
    for (int i = 0; i < 2; i++) {
        pid_t kid = fork();
        if (kid == 0) {
            fns[i]();
            fflush(stdout);
            _exit(0);
        }
        waitpid(kid, NULL, 0);
    }
    return 0;
}
