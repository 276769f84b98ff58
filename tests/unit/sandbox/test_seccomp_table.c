/*
 * The seccomp policy as data: the table's form (names, reasons, what is
 * never allowed) and the compiled program held against the table. A small
 * classic-BPF interpreter runs the program libseccomp produced on millions
 * of (syscall, arguments) inputs and compares its answer with the table's
 * own reading (sbx_seccomp_table_decide): the argument decompositions the
 * build generates (everything but a few values of ioctl, prctl,
 * setsockopt) must be exact, including with junk in the high halves. No
 * filter is loaded here; test_seccomp.c checks the loaded behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "sandbox-internal.h"
#include "seccomp_fx.h"

/* Names this libseccomp may not know: the build skips them and the default
 * action (EPERM) applies, which is never less safe than the rule. */
static const char *const documented_skips[] = {"mseal"};

/* Never allowed in any form. */
/* clang-format off */
static const char *const never_allowed[] = {
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "settimeofday",
    "clock_settime", "adjtimex", "clock_adjtime", "sethostname", "setdomainname", "vhangup",
    "mbind", "set_mempolicy", "move_pages", "migrate_pages", "bpf", "keyctl", "add_key",
    "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "clone3",
    "perf_event_open", "userfaultfd", "flock", "memfd_secret", "iopl", "ioperm", "modify_ldt",
    "capset", "cachestat", "sync", "syncfs", "fsync", "fdatasync", "sync_file_range", "readahead",
};
/* clang-format on */

/* Must answer ENOSYS so that runtimes take their fallback. */
/* clang-format off */
static const char *const must_enosys[] = {
    "clone3", "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "flock", "memfd_secret", "iopl", "ioperm",
    "modify_ldt", "uselib", "lookup_dcookie", "nfsservctl", "sysfs", "ustat", "_sysctl",
    "fanotify_init",
};
/* clang-format on */

#define U32 0xffffffffull
#define RET_ERRNO(e) ((int64_t)(SECCOMP_RET_ERRNO | (uint32_t)(e)))
#define RET_ALLOW ((int64_t)SECCOMP_RET_ALLOW)

static const struct sbx_syscall_rule *const *rules_named(const char *name, size_t *n)
{
    static const struct sbx_syscall_rule *found[64];
    *n = 0;
    for (size_t i = 0; i < sbx_syscall_rules_len && *n < MOAT_ARRAY_SIZE(found); i++)
        if (strcmp(sbx_syscall_rules[i].name, name) == 0)
            found[(*n)++] = &sbx_syscall_rules[i];
    return found;
}

/* ================= a classic BPF interpreter for seccomp programs ======= */

/* Runs prog on data as the kernel would; -1 on an instruction seccomp
 * programs never use (the test then fails: the interpreter must cover what
 * libseccomp emits). */
static int64_t bpf_run(const struct sbx_filter *f, const struct seccomp_data *data)
{
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
    const unsigned char *bytes = (const unsigned char *)data;
    for (unsigned pc = 0; pc < f->len; pc++) {
        const struct sock_filter *in = &f->insns[pc];
        uint32_t src = BPF_SRC(in->code) == BPF_X ? x : in->k;
        switch (BPF_CLASS(in->code)) {
        case BPF_LD:
        case BPF_LDX: {
            uint32_t v;
            if (BPF_MODE(in->code) == BPF_ABS && BPF_SIZE(in->code) == BPF_W &&
                in->k + 4 <= sizeof(*data) && in->k % 4 == 0)
                memcpy(&v, bytes + in->k, 4);
            else if (BPF_MODE(in->code) == BPF_IMM)
                v = in->k;
            else if (BPF_MODE(in->code) == BPF_MEM && in->k < BPF_MEMWORDS)
                v = mem[in->k];
            else if (BPF_MODE(in->code) == BPF_LEN)
                v = (uint32_t)sizeof(*data);
            else
                return -1;
            if (BPF_CLASS(in->code) == BPF_LD)
                a = v;
            else
                x = v;
            break;
        }
        case BPF_ST:
        case BPF_STX:
            if (in->k >= BPF_MEMWORDS)
                return -1;
            mem[in->k] = BPF_CLASS(in->code) == BPF_ST ? a : x;
            break;
        case BPF_ALU:
            switch (BPF_OP(in->code)) {
            case BPF_ADD:
                a += src;
                break;
            case BPF_SUB:
                a -= src;
                break;
            case BPF_MUL:
                a *= src;
                break;
            case BPF_DIV:
                if (!src)
                    return -1;
                a /= src;
                break;
            case BPF_MOD:
                if (!src)
                    return -1;
                a %= src;
                break;
            case BPF_OR:
                a |= src;
                break;
            case BPF_AND:
                a &= src;
                break;
            case BPF_XOR:
                a ^= src;
                break;
            case BPF_LSH:
                a = src < 32 ? a << src : 0;
                break;
            case BPF_RSH:
                a = src < 32 ? a >> src : 0;
                break;
            case BPF_NEG:
                a = (uint32_t)-a;
                break;
            default:
                return -1;
            }
            break;
        case BPF_JMP: {
            bool t;
            switch (BPF_OP(in->code)) {
            case BPF_JA:
                pc += in->k;
                continue;
            case BPF_JEQ:
                t = a == src;
                break;
            case BPF_JGT:
                t = a > src;
                break;
            case BPF_JGE:
                t = a >= src;
                break;
            case BPF_JSET:
                t = (a & src) != 0;
                break;
            default:
                return -1;
            }
            pc += t ? in->jt : in->jf;
            break;
        }
        case BPF_RET:
            return BPF_RVAL(in->code) == BPF_A ? a : in->k;
        case BPF_MISC:
            if (BPF_MISCOP(in->code) == BPF_TAX)
                x = a;
            else
                a = x;
            break;
        default:
            return -1;
        }
    }
    return -1; /* fell off the end: the kernel's verifier refuses such programs */
}

static int64_t program_says(const struct sbx_filter *f, int nr, const uint64_t args[6])
{
    struct seccomp_data d = {.nr = nr, .arch = AUDIT_ARCH_X86_64};
    memcpy(d.args, args, sizeof(d.args));
    return bpf_run(f, &d);
}

static void check_call(const struct sbx_filter *f, int nr, const uint64_t args[6])
{
    int64_t want = sbx_seccomp_table_decide(nr, args);
    if (want == -EEXIST)
        fail_msg("syscall %d args %#llx %#llx %#llx: two rules match", nr,
                 (unsigned long long)args[0], (unsigned long long)args[1],
                 (unsigned long long)args[2]);
    int64_t got = program_says(f, nr, args);
    if (got != want)
        fail_msg("syscall %d args %#llx %#llx %#llx %#llx %#llx %#llx: program %#llx, table %#llx",
                 nr, (unsigned long long)args[0], (unsigned long long)args[1],
                 (unsigned long long)args[2], (unsigned long long)args[3],
                 (unsigned long long)args[4], (unsigned long long)args[5], (long long)got,
                 (long long)want);
}

/* ================= the table ================= */

static void test_rules_resolve(void **state)
{
    (void)state;
    for (size_t i = 0; i < sbx_syscall_rules_len; i++) {
        const char *name = sbx_syscall_rules[i].name;
        if (seccomp_syscall_resolve_name(name) >= 0)
            continue;
        bool documented = false;
        for (size_t j = 0; j < MOAT_ARRAY_SIZE(documented_skips); j++)
            documented |= strcmp(name, documented_skips[j]) == 0;
        if (!documented)
            fail_msg("rule %s does not resolve on x86_64 and is not a documented skip", name);
    }
}

static void check_form(const struct sbx_syscall_rule *r)
{
    assert_non_null(r->name);
    if (!r->why || strlen(r->why) < 3)
        fail_msg("rule %s: no reason given", r->name);
    if (r->action == SBX_RULE_ERRNO) {
        /* ERRNO(EPERM) would equal the default: libseccomp refuses it. */
        if (r->err < 0 || r->err >= 4096 || r->err == SBX_SECCOMP_DEFAULT_ERRNO)
            fail_msg("rule %s: errno %d", r->name, r->err);
    } else if (r->action != SBX_RULE_ALLOW) {
        fail_msg("rule %s: unknown action %d", r->name, (int)r->action);
    }
    /* Every filtered argument is an int the kernel reads 32 bits of: a
     * mask reaching into the high half could be dodged. */
    if (r->when == SBX_WHEN_ANY) {
        assert_true(r->nvalues >= 1 && r->nvalues <= SBX_RULE_MAX_VALUES && r->arg <= 5);
        assert_true(r->mask != 0 && r->mask <= U32);
        for (unsigned v = 0; v < r->nvalues; v++)
            assert_true((r->values[v] & ~r->mask) == 0);
    } else if (r->when == SBX_WHEN_NONE) {
        assert_true(r->npats >= 1 && r->npats <= SBX_RULE_MAX_VALUES && r->arg <= 5);
        for (unsigned p = 0; p < r->npats; p++)
            assert_true(r->pats[p].mask != 0 && r->pats[p].mask <= U32 &&
                        (r->pats[p].value & ~r->pats[p].mask) == 0);
    } else if (r->when != SBX_WHEN_ALWAYS) {
        fail_msg("rule %s: unknown condition %d", r->name, (int)r->when);
    }
}

static void test_rules_well_formed(void **state)
{
    (void)state;
    assert_int_equal(SBX_SECCOMP_DEFAULT_ERRNO, EPERM);
    assert_true(sbx_syscall_rules_len > 200);
    for (size_t i = 0; i < sbx_syscall_rules_len; i++) {
        const struct sbx_syscall_rule *r = &sbx_syscall_rules[i];
        check_form(r);
        /* Rules of one name read one argument, and an unconditional rule is
         * the only one of its name: beside filtered ones it would make
         * their filter void (overlaps are caught by the program test). */
        size_t n = 0;
        const struct sbx_syscall_rule *const *same = rules_named(r->name, &n);
        if (r->when == SBX_WHEN_ALWAYS && n != 1)
            fail_msg("rule %s: unconditional beside %zu others", r->name, n - 1);
        for (size_t j = 0; j < n; j++)
            if (same[j]->arg != r->arg)
                fail_msg("rule %s filters two different arguments", r->name);
    }
}

static void test_rules_never_allow(void **state)
{
    (void)state;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(never_allowed); i++) {
        size_t n = 0;
        const struct sbx_syscall_rule *const *same = rules_named(never_allowed[i], &n);
        for (size_t j = 0; j < n; j++)
            if (same[j]->action != SBX_RULE_ERRNO)
                fail_msg("%s must never be allowed", never_allowed[i]);
    }
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(must_enosys); i++) {
        size_t n = 0;
        const struct sbx_syscall_rule *const *same = rules_named(must_enosys[i], &n);
        if (n != 1 || same[0]->action != SBX_RULE_ERRNO || same[0]->err != ENOSYS)
            fail_msg("%s must answer ENOSYS", must_enosys[i]);
    }
}

/* ================= the compiled program is the table ================= */

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Every syscall number, plain and with random arguments: the syscall
 * dispatch (a binary tree) and every unconditional rule. */
static void test_program_every_syscall(void **state)
{
    const struct sbx_filter *f = *state;
    uint64_t seed = 0x2545f4914f6cdd1dull;
    for (int nr = 0; nr < 1024; nr++) {
        uint64_t args[6] = {0};
        check_call(f, nr, args);
        for (int k = 0; k < 64; k++) {
            for (int a = 0; a < 6; a++)
                args[a] = xorshift(&seed);
            check_call(f, nr, args);
        }
    }
}

/* The values a rule's argument filter turns on: each value and pattern,
 * every single-bit neighbour of them, junk in the high half. */
static void check_around(const struct sbx_filter *f, int nr, unsigned arg, uint64_t v)
{
    static const uint64_t highs[] = {0, 1ull << 32, 0xffffffff00000000ull, 0x8000000000000000ull};
    for (size_t h = 0; h < MOAT_ARRAY_SIZE(highs); h++) {
        uint64_t args[6] = {0};
        args[arg] = highs[h] | v;
        check_call(f, nr, args);
        for (unsigned bit = 0; bit < 32; bit++) {
            args[arg] = highs[h] | (v ^ (1ull << bit));
            check_call(f, nr, args);
        }
    }
}

/* Each filtered syscall: its argument over all 16-bit values, around
 * every value the rules name, and at random 32- and 64-bit values. */
static void test_program_filtered_arguments(void **state)
{
    const struct sbx_filter *f = *state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sbx_syscall_rules_len; i++) {
        const struct sbx_syscall_rule *r = &sbx_syscall_rules[i];
        int nr = seccomp_syscall_resolve_name(r->name);
        if (r->when == SBX_WHEN_ALWAYS || nr < 0)
            continue;
        for (unsigned v = 0; v < r->nvalues; v++)
            check_around(f, nr, r->arg, r->values[v]);
        for (unsigned p = 0; p < r->npats; p++) {
            check_around(f, nr, r->arg, r->pats[p].value);
            check_around(f, nr, r->arg, r->pats[p].value | (~r->pats[p].mask & U32));
        }
        uint64_t args[6] = {0};
        for (uint64_t c = 0; c < 0x10000; c++) {
            args[r->arg] = c;
            check_call(f, nr, args);
        }
        for (int k = 0; k < 20000; k++) {
            uint64_t x = xorshift(&seed);
            args[r->arg] = k % 2 ? x : (x & U32);
            check_call(f, nr, args);
        }
    }
}

/* ================= what the table means ================= */

static int64_t decide(const char *name, unsigned arg, uint64_t value)
{
    uint64_t args[6] = {0};
    args[arg] = value;
    return sbx_seccomp_table_decide(seccomp_syscall_resolve_name(name), args);
}

static int64_t ioctl_should(uint64_t cmd)
{
    uint32_t lo = (uint32_t)cmd;
    if (lo == TIOCSTI || lo == TIOCLINUX)
        return RET_ERRNO(EPERM);
    if ((lo & 0xff00u) == 0xff00u)
        return RET_ERRNO(ENOTTY);
    if (lo == FS_IOC_FIEMAP)
        return RET_ERRNO(EOPNOTSUPP);
    return RET_ALLOW;
}

/* ioctl is "everything but": the table's reading equals that on every
 * 16-bit command, junk in the high half, and random commands. */
static void test_ioctl_means_everything_but(void **state)
{
    (void)state;
    static const uint64_t highs[] = {0, 1ull << 32, 0xffffffff00000000ull, 0x5412ull << 32};
    for (size_t h = 0; h < MOAT_ARRAY_SIZE(highs); h++)
        for (uint64_t c = 0; c < 0x10000; c++)
            assert_int_equal(decide("ioctl", 1, highs[h] | c), ioctl_should(highs[h] | c));
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 300000; i++) {
        uint64_t c = xorshift(&x);
        assert_int_equal(decide("ioctl", 1, c), ioctl_should(c));
    }
    /* PIDFD_GET_INFO: _IOWR(0xFF, 11, struct pidfd_info), any struct size */
    assert_int_equal(decide("ioctl", 1, 0xc040ff0bu), RET_ERRNO(ENOTTY));
    assert_int_equal(decide("ioctl", 1, 0xc050ff0bu), RET_ERRNO(ENOTTY));
    assert_int_equal(decide("ioctl", 1, FIONREAD), RET_ALLOW);
    assert_int_equal(decide("ioctl", 1, TCGETS), RET_ALLOW);
}

/* The decisions of issue-by-issue hardening, by name. */
static void test_table_decisions(void **state)
{
    (void)state;
    /* record locks: uncharged kernel memory; ENOLCK */
    static const uint64_t locks[] = {F_GETLK,     F_SETLK,     F_SETLKW,
                                     F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(locks); i++) {
        assert_int_equal(decide("fcntl", 1, locks[i]), RET_ERRNO(ENOLCK));
        assert_int_equal(decide("fcntl", 1, locks[i] | (1ull << 32)), RET_ERRNO(ENOLCK));
    }
    assert_int_equal(decide("fcntl", 1, F_SETFD), RET_ALLOW);
    assert_int_equal(decide("fcntl", 1, F_SETLEASE), RET_ERRNO(EPERM));
    assert_int_equal(decide("fcntl", 1, F_NOTIFY), RET_ERRNO(EPERM));
    /* socket filters and seccomp filters: shared JIT memory */
    static const uint64_t filters[] = {SO_ATTACH_FILTER, SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_CBPF,
                                       SO_ATTACH_REUSEPORT_EBPF};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(filters); i++)
        assert_int_equal(decide("setsockopt", 2, filters[i]), RET_ERRNO(EPERM));
    assert_int_equal(decide("setsockopt", 2, SO_SNDBUF), RET_ALLOW);
    assert_int_equal(decide("setsockopt", 2, SO_PASSCRED), RET_ALLOW);
    assert_int_equal(decide("seccomp", 0, SECCOMP_SET_MODE_FILTER), RET_ERRNO(EPERM));
    assert_int_equal(decide("seccomp", 0, SECCOMP_GET_ACTION_AVAIL), RET_ALLOW);
    assert_int_equal(decide("prctl", 0, PR_SET_SECCOMP), RET_ERRNO(EPERM));
    assert_int_equal(decide("prctl", 0, PR_SET_SECCOMP | (7ull << 32)), RET_ERRNO(EPERM));
    assert_int_equal(decide("prctl", 0, PR_SET_NAME), RET_ALLOW);
    assert_int_equal(decide("prctl", 0, PR_SET_NO_NEW_PRIVS), RET_ALLOW);
    /* the page cache of shared files */
    assert_int_equal(decide("preadv2", 5, RWF_NOWAIT), RET_ERRNO(EOPNOTSUPP));
    assert_int_equal(decide("preadv2", 5, RWF_NOWAIT | RWF_HIPRI), RET_ERRNO(EOPNOTSUPP));
    assert_int_equal(decide("preadv2", 5, 0x80 /* RWF_DONTCACHE */), RET_ERRNO(EPERM));
    assert_int_equal(decide("preadv2", 5, 0), RET_ALLOW);
    assert_int_equal(decide("pwritev2", 5, RWF_DSYNC | RWF_APPEND), RET_ALLOW);
    assert_int_equal(decide("fadvise64", 3, POSIX_FADV_DONTNEED), RET_ERRNO(0));
    assert_int_equal(decide("fadvise64", 3, POSIX_FADV_WILLNEED), RET_ERRNO(0));
    assert_int_equal(decide("fadvise64", 3, POSIX_FADV_SEQUENTIAL), RET_ALLOW);
    assert_int_equal(decide("readahead", 0, 0), RET_ERRNO(0));
    assert_int_equal(decide("madvise", 2, MADV_DONTNEED), RET_ALLOW);
    assert_int_equal(decide("madvise", 2, MADV_FREE), RET_ALLOW);
    assert_int_equal(decide("madvise", 2, 20 /* MADV_COLD */), RET_ERRNO(0));
    assert_int_equal(decide("madvise", 2, 21 /* MADV_PAGEOUT */), RET_ERRNO(0));
    assert_int_equal(decide("madvise", 2, MADV_MERGEABLE), RET_ERRNO(0));
    assert_int_equal(decide("madvise", 2, MADV_HWPOISON), RET_ERRNO(EPERM));
    /* durability calls reach only the host's files: no-ops */
    static const char *const durability[] = {"fsync", "fdatasync", "sync", "syncfs",
                                             "sync_file_range"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(durability); i++)
        assert_int_equal(decide(durability[i], 0, 0), RET_ERRNO(0));
    assert_int_equal(decide("msync", 2, MS_SYNC), RET_ERRNO(0));
    assert_int_equal(decide("msync", 2, MS_ASYNC), RET_ALLOW);
    assert_int_equal(decide("msync", 2, MS_INVALIDATE), RET_ALLOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_resolve),
        cmocka_unit_test(test_rules_well_formed),
        cmocka_unit_test(test_rules_never_allow),
        cmocka_unit_test(test_program_every_syscall),
        cmocka_unit_test(test_program_filtered_arguments),
        cmocka_unit_test(test_ioctl_means_everything_but),
        cmocka_unit_test(test_table_decisions),
    };
    return cmocka_run_group_tests(tests, seccomp_fx_setup, seccomp_fx_teardown);
}
