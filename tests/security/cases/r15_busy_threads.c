/* R15: four threads spin while main only waits. CPU is summed over every
 * thread, so the CPU limit ends the step after about limit/2 of wall time on
 * two cores; counting the main thread alone would wait for the wall limit. */
#include <pthread.h>

static void *spin(void *arg)
{
    (void)arg;
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}

int main(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], 0, spin, 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], 0);
    return 0;
}
