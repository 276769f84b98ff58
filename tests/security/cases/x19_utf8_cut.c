/* Output cut at the cap in the middle of a two-byte UTF-8 character: "a",
 * then 40000 x U+00E9 (81 KB in all). The result must still be valid JSON
 * holding at most the cap. */
#include <string.h>
#include <unistd.h>

int main(void)
{
    static char buf[1 + 2 * 40000];
    buf[0] = 'a';
    for (int i = 0; i < 40000; i++)
        memcpy(buf + 1 + 2 * i, "\xc3\xa9", 2);
    (void)!write(1, buf, sizeof(buf));
    return 0;
}
