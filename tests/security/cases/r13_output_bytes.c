/* R13: writes exactly argv[1] bytes to stdout, then exits 0. At the cap the
 * output is whole; one byte more is output_limit with the cap kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    long n = atol(argv[1]);
    static char buf[4096];
    memset(buf, 'o', sizeof(buf));
    while (n > 0) {
        size_t k = n < (long)sizeof(buf) ? (size_t)n : sizeof(buf);
        ssize_t w = write(1, buf, k);
        if (w <= 0)
            return 3;
        n -= w;
    }
    return 0;
}
