/* E25: bpf, perf_event_open and userfaultfd answer ENOSYS: kernel attack
 * surface and side channels the box never needs. */
#include "hostile.h"
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    show("bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
    struct bpf_insn prog[2] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
                               {.code = BPF_JMP | BPF_EXIT}};
    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    a.insn_cnt = 2;
    a.insns = (unsigned long)prog;
    a.license = (unsigned long)"GPL";
    show("bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)));
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof(pe));
    pe.type = PERF_TYPE_SOFTWARE;
    pe.size = sizeof(pe);
    pe.config = PERF_COUNT_SW_CPU_CLOCK;
    pe.exclude_kernel = 1;
    show("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
    show("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */));
    show("open /dev/userfaultfd", open("/dev/userfaultfd", O_RDWR));
    return 0;
}
