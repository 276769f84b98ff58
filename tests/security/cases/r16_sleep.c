/* R16: sleep (or with argv[1] == "pause", pause) forever: only the wall
 * limit ends it, with almost no CPU used. */
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "pause") == 0)
        for (;;)
            pause();
    sleep(1000000);
    return 0;
}
