/* R24: scheduling privileges: a negative nice value and a real-time policy
 * need CAP_SYS_NICE, which the box never has; CPU affinity is allowed. The
 * program starts at nice 0 although its box was prepared at a lower
 * priority (the spawner's), and RLIMIT_NICE 0 keeps it from ever getting
 * back above a priority it gave up. */
#include "hostile.h"
#include <sched.h>
#include <sys/resource.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    errno = 0;
    int nice0 = getpriority(PRIO_PROCESS, 0);
    struct rlimit rl;
    (void)getrlimit(RLIMIT_NICE, &rl);
    printf("nice at start: %d (errno %d), RLIMIT_NICE %llu/%llu\n", nice0, errno,
           (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    show("setpriority(-1)", setpriority(PRIO_PROCESS, 0, -1));
    show("setpriority(-20)", setpriority(PRIO_PROCESS, 0, -20));
    struct sched_param sp = {.sched_priority = 1};
    show("sched_setscheduler(SCHED_FIFO)", sched_setscheduler(0, SCHED_FIFO, &sp));
    show("sched_setscheduler(SCHED_RR)", sched_setscheduler(0, SCHED_RR, &sp));
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < CPU_SETSIZE; i++)
        CPU_SET(i, &all);
    show("sched_setaffinity(all)", sched_setaffinity(0, sizeof(all), &all));
    show("setpriority(19)", setpriority(PRIO_PROCESS, 0, 19));
    show("setpriority(0) after 19", setpriority(PRIO_PROCESS, 0, 0));
    return 0;
}
