/* What the kernel offers, for `moat doctor`. Read-only probing. */
#include "box-internal.h"
#include "cgroup-internal.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static bool has_ns(const char *name)
{
    char p[64];
    (void)snprintf(p, sizeof(p), "/proc/self/ns/%s", name);
    return access(p, F_OK) == 0;
}

static bool sysctl_is(const char *path, char want)
{
    char b[16];
    return read_small_file_at(AT_FDCWD, path, b, sizeof(b)) > 0 && b[0] == want;
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static bool v1_controller(const char *table, const char *name)
{
    char line[128];
    for (const char *p = table; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n < sizeof(line)) {
            memcpy(line, p, n);
            line[n] = '\0';
            char ctl[32];
            unsigned hier = 0, num = 0, enabled = 0;
            if (sscanf(line, "%31s %u %u %u", ctl, &hier, &num, &enabled) == 4 &&
                strcmp(ctl, name) == 0)
                return hier != 0 && enabled;
        }
        p += n + (nl ? 1 : 0);
    }
    return false;
}

static void probe_cgroups(struct sbx_features *f)
{
    struct statfs sf;
    if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
        char ctl[256] = "";
        (void)read_small_file_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.controllers", ctl,
                                 sizeof(ctl));
        f->cgroup_version = 2;
        f->cg_memory = strstr(ctl, "memory") != NULL;
        f->cg_pids = strstr(ctl, "pids") != NULL;
        f->cg_cpu = strstr(ctl, "cpu") != NULL;
        f->cg_kill = true; /* checked per group; present since 5.14 */
        f->cg_swap_accounting = true;
        f->cg_peak = true;
        struct utsname u;
        unsigned maj = 0, min = 0;
        if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &maj, &min) == 2) {
            f->cg_kill = maj > 5 || (maj == 5 && min >= 14);
            f->cg_peak = maj > 5 || (maj == 5 && min >= 19);
        }
        return;
    }
    /* v1: /proc/cgroups lists each controller with its hierarchy (0 = not
     * mounted as v1) and whether it is enabled. */
    char cgs[4096] = "";
    (void)read_small_file_at(AT_FDCWD, "/proc/cgroups", cgs, sizeof(cgs));
    f->cg_memory = v1_controller(cgs, "memory");
    f->cg_pids = v1_controller(cgs, "pids");
    f->cg_cpu = v1_controller(cgs, "cpuacct");
    f->cg_swap_accounting = file_exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
    f->cg_peak = file_exists("/sys/fs/cgroup/memory/memory.max_usage_in_bytes");
    f->cg_kill = false;
    f->cgroup_version = f->cg_memory ? 1 : 0;
}

/* Stops (1) at a cgroup or cgroup2 mount with favordynmods among its
 * super options, saying so in *(bool *)arg. */
static int has_favordynmods(const struct cg_mount *m, void *arg)
{
    bool *set = arg;
    *set = (strcmp(m->fstype, "cgroup") == 0 || strcmp(m->fstype, "cgroup2") == 0) &&
           cg_words_has(m->super, "favordynmods", ',');
    return *set;
}

bool sbx_probe_favordynmods(const char *mountinfo)
{
    bool set = false;
    (void)cg_mountinfo_each(mountinfo, has_favordynmods, &set);
    return set;
}

void sbx_probe(struct sbx_features *f)
{
    *f = (struct sbx_features){0};
    struct utsname u;
    if (uname(&u) == 0)
        moat_strlcpy(f->kernel, u.release, sizeof(f->kernel));
    f->userns = has_ns("user") && !sysctl_is("/proc/sys/user/max_user_namespaces", '0');
    f->pidns = has_ns("pid");
    f->netns = has_ns("net");
    f->mntns = has_ns("mnt");
    f->ipcns = has_ns("ipc");
    f->utsns = has_ns("uts");
    f->cgroupns = has_ns("cgroup");
    f->timens = has_ns("time");
    unsigned maj = 0, min = 0;
    f->kmem_accounting = sscanf(f->kernel, "%u.%u", &maj, &min) == 2 &&
                         (maj > 5 || (maj == 5 && min >= 15));
    probe_cgroups(f);
    f->cg_favordynmods = sbx_probe_favordynmods("/proc/self/mountinfo");
    char status[4096];
    f->seccomp = read_small_file_at(AT_FDCWD, "/proc/self/status", status, sizeof(status)) > 0 &&
                 strstr(status, "Seccomp:") != NULL;
    char actions[256] = "";
    (void)read_small_file_at(AT_FDCWD, "/proc/sys/kernel/seccomp/actions_avail", actions,
                             sizeof(actions));
    f->seccomp_kill_process = strstr(actions, "kill_process") != NULL;
    f->landlock_abi = sbx_landlock_abi();
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));
    f->openat2 = fd >= 0;
    if (fd >= 0)
        (void)close(fd);
    fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    f->pidfd = fd >= 0;
    if (fd >= 0)
        (void)close(fd);
    f->clone_into_cgroup = f->cgroup_version == 2 && f->pidfd;
    f->protected_hardlinks = sysctl_is("/proc/sys/fs/protected_hardlinks", '1');
    f->protected_symlinks = sysctl_is("/proc/sys/fs/protected_symlinks", '1');
}
