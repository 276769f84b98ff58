/* Host files read at compile time: the compiler runs in the box, so the
 * host's /etc/shadow and the runner's canary are not there to include.
 * The compile fails on the first missing file. */
#include "/etc/shadow"
#include "@CANARY@"

int main(void)
{
    return 0;
}
