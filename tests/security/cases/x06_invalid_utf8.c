/* Output that is not UTF-8 (and NUL, control characters, quotes and
 * backslashes) must still come back as one valid JSON object. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    static const char bad[] = "A\xff\xfe\xc3\x28\xed\xa0\x80\xf8\x88\x80\x80\x80"
                              "B\n";
    (void)!write(1, bad, sizeof(bad) - 1);
    char ctl[40];
    int n = 0;
    ctl[n++] = 'C';
    for (int c = 1; c < 32; c++)
        if (c != '\n')
            ctl[n++] = (char)c;
    ctl[n++] = 'D';
    ctl[n++] = '\n';
    (void)!write(1, ctl, (size_t)n);
    (void)!write(1, "E\0F\n", 4);
    static const char quotes[] = "quote\" backslash\\ slash/ }{ ][\n";
    (void)!write(1, quotes, sizeof(quotes) - 1);
    static const char err[] = "\xc0\xaf stderr too\n";
    (void)!write(2, err, sizeof(err) - 1);
    (void)!write(1, "Z\n", 2);
    return 0;
}
