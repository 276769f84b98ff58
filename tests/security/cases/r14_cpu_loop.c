/* R14: spin forever; the CPU limit ends it. */
int main(void)
{
    for (volatile unsigned long i = 0;; i++)
        ;
}
