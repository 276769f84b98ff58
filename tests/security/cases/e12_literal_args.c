/* E12: arguments reach the program literally: no shell ever sees them. */
#include <stdio.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=<%s>\n", i, argv[i]);
    printf("argc=%d\n", argc);
    return 0;
}
