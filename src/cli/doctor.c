/* moat doctor: which kernel features moat can use, and what it does without. */
#include "cli.h"

#include "moat/sandbox.h"

struct check {
    const char *name;
    bool ok;
    bool required;
    const char *without;
};

static void line(const struct check *c)
{
    (void)printf("  %-26s %-4s %s\n", c->name, c->ok ? "yes" : "NO",
                 c->ok ? "" : c->without);
}

int cli_doctor(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        (void)printf("usage: moat doctor\n\nSays which kernel features moat can use.\n");
        return 0;
    }
    struct sbx_features f;
    sbx_probe(&f);
    char cg[64];
    (void)snprintf(cg, sizeof(cg), "cgroup v%d", f.cgroup_version);
    const struct check checks[] = {
        {"user namespaces", f.userns, true, "moat refuses to run programs (uid isolation)"},
        {"pid namespaces", f.pidns, true, "moat refuses to run programs"},
        {"mount namespaces", f.mntns, true, "moat refuses to run programs"},
        {"network namespaces", f.netns, true, "moat refuses to run programs"},
        {"ipc namespaces", f.ipcns, true, "moat refuses to run programs"},
        {"uts namespaces", f.utsns, true, "moat refuses to run programs"},
        {"cgroup namespaces", f.cgroupns, true, "moat refuses to run programs"},
        {"time namespaces", f.timens, false, "programs see the host's uptime and boot time"},
        {"kernel memory accounting", f.kmem_accounting, false,
         "SysV IPC, signals and timers escape the memory limit (rlimits still bound some)"},
        {cg, f.cgroup_version != 0, true, "no memory, process or CPU accounting: refused"},
        {"cgroup memory controller", f.cg_memory, true, "no memory limit: refused"},
        {"cgroup pids controller", f.cg_pids, true, "fork bombs bounded by RLIMIT_NPROC only"},
        {"cgroup cpu accounting", f.cg_cpu, true, "CPU limit by RLIMIT_CPU per process only"},
        {"swap accounting", f.cg_swap_accounting, false,
         "memory limit excludes swap (run without swap)"},
        {"cgroup.kill", f.cg_kill, false, "kills each pid of the group (pid ns init kills first)"},
        {"peak memory", f.cg_peak, false, "peak memory sampled instead of exact"},
        {"seccomp", f.seccomp, true, "moat refuses to run programs"},
        {"seccomp kill_process", f.seccomp_kill_process, false,
         "foreign-ABI syscalls kill only the thread"},
        {"landlock", f.landlock_abi > 0, false,
         "writes bounded by read-only mounts alone (still safe)"},
        {"openat2", f.openat2, false, "O_NOFOLLOW|O_EXCL create in box init instead"},
        {"pidfd", f.pidfd, false, "cancel signals box init by pid"},
        {"protected_hardlinks", f.protected_hardlinks, false,
         "hardlinks to host files possible where a writable mount shares their fs"},
    };
    (void)printf("moat doctor: kernel %s\n", f.kernel);
    int missing = 0;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(checks); i++) {
        line(&checks[i]);
        if (!checks[i].ok && checks[i].required)
            missing++;
    }
    if (f.landlock_abi > 0)
        (void)printf("  landlock ABI %d\n", f.landlock_abi);
    /* A tuning of the host, not a feature moat needs: reported with what
     * each state costs (docs/architecture.md; bench/favordynmods.sh measures
     * both on this host). */
    if (f.clone_into_cgroup)
        (void)printf("  %-26s %-4s %s\n", "cgroup favordynmods", f.cg_favordynmods ? "yes" : "no",
                     "moat's programs are born in their cgroup (CLONE_INTO_CGROUP): no "
                     "move, no wait, whichever");
    else if (f.cg_favordynmods)
        (void)printf("  %-26s %-4s %s\n", "cgroup favordynmods", "yes",
                     "a process joins a cgroup without waiting for an RCU grace period; "
                     "every fork, exit and exec takes a slower lock");
    else
        (void)printf("  %-26s %-4s %s\n", "cgroup favordynmods", "no",
                     "a cold box waits for an RCU grace period (several ms) to join its "
                     "cgroup; `mount -o remount,favordynmods` on a cgroup hierarchy ends "
                     "the wait, for a slower lock in every fork, exit and exec");
    (void)printf("%s\n", missing ? "moat cannot run programs safely here"
                                 : "moat can run programs here");
    return missing ? 1 : 0;
}
