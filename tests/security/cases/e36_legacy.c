/* E36: legacy and hardware syscalls: LDT changes, I/O port access,
 * READ_IMPLIES_EXEC, file handles (Shocker), the kernel log. personality
 * queries stay allowed. */
#include "hostile.h"
#include <sys/personality.h>
#include <sys/syscall.h>

/* "errno=E..." when refused, "SET" when the flag took, "not set" otherwise */
static void set_persona(const char *what, unsigned long flag)
{
    if (personality(flag) == -1) {
        show(what, -1);
        return;
    }
    printf("%s: %s\n", what, personality(0xffffffff) & flag ? "SET" : "not set");
    personality(0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    char ldt[64];
    show("modify_ldt read", syscall(SYS_modify_ldt, 0, ldt, sizeof(ldt)));
    show("iopl(3)", syscall(SYS_iopl, 3));
    show("ioperm", syscall(SYS_ioperm, 0x80, 1, 1));
    long cur = personality(0xffffffff);
    show("personality query", cur);
    set_persona("personality(READ_IMPLIES_EXEC)", READ_IMPLIES_EXEC);
    set_persona("personality(ADDR_NO_RANDOMIZE)", ADDR_NO_RANDOMIZE);
    struct file_handle *h = malloc(sizeof(*h) + 128);
    h->handle_bytes = 128;
    int mnt;
    show("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/usr/bin/rm", h, &mnt, 0));
    h->handle_bytes = 8;
    h->handle_type = 1;
    memset(h->f_handle, 0, 8);
    show("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY));
    char buf[128];
    show("syslog(READ_ALL)", syscall(SYS_syslog, 3, buf, sizeof(buf)));
    show("syslog(SIZE_BUFFER)", syscall(SYS_syslog, 10, NULL, 0));
    return 0;
}
