/* Host state a box must not change: clocks, the kernel's modules, reboot,
 * swap, process accounting, quotas. Nothing here does harm when refused;
 * the calls are chosen to do nothing even if they got through. */
#include "hostile.h"
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    show("clock_settime(now)", clock_settime(CLOCK_REALTIME, &now));
    struct timeval tv;
    gettimeofday(&tv, NULL);
    show("settimeofday(now)", settimeofday(&tv, NULL));
    struct timex tx = {.modes = ADJ_OFFSET_SINGLESHOT, .offset = 0};
    show("adjtimex(ADJ_OFFSET_SINGLESHOT 0)", adjtimex(&tx));
    show("init_module(NULL)", syscall(SYS_init_module, NULL, 0, ""));
    show("finit_module(-1)", syscall(SYS_finit_module, -1, "", 0));
    show("delete_module(nonexistent)", syscall(SYS_delete_module, "moat_nonexistent", 0));
    /* LINUX_REBOOT_CMD_CAD_OFF only changes what Ctrl-Alt-Del does */
    show("reboot(CAD_OFF)", syscall(SYS_reboot, 0xfee1dead, 672274793, 0, NULL));
    show("kexec_load(0 segments)", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    show("swapoff(/nonexistent)", syscall(SYS_swapoff, "/nonexistent"));
    show("acct(NULL)", syscall(SYS_acct, NULL));
    show("quotactl(Q_SYNC)", syscall(SYS_quotactl, 0x800001, NULL, 0, NULL));
    return 0;
}
