/* R17: stop itself. A stopped program still ends at the wall limit. */
#include <signal.h>
#include <stdio.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("stopping\n");
    raise(SIGSTOP);
    printf("continued\n");
    return 0;
}
