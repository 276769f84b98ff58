/* E19: the program's credentials: uid and gid 1000, no supplementary
 * groups, every capability set empty, no_new_privs, seccomp in filter mode,
 * a uid map of exactly one host uid of the configured range; and none of it
 * can be changed. */
#include "hostile.h"
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    const char *keys[] = {"Uid:",    "Gid:",    "Groups:", "CapInh:",     "CapPrm:",
                          "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"};
    while (f && fgets(line, sizeof(line), f))
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (strncmp(line, keys[i], strlen(keys[i])) == 0) {
                /* tabs to single spaces */
                for (char *p = line; *p; p++)
                    if (*p == '\t')
                        *p = ' ';
                char *end = line + strlen(line);
                while (end > line && (end[-1] == '\n' || end[-1] == ' '))
                    *--end = 0;
                printf("%s\n", line);
            }
    FILE *m = fopen("/proc/self/uid_map", "r");
    unsigned long in, out, count;
    int lines = 0;
    while (m && fscanf(m, "%lu %lu %lu", &in, &out, &count) == 3) {
        lines++;
        printf("uid_map: inside=%lu count=%lu host uid=%lu\n", in, count, out);
    }
    printf("uid_map lines: %d\n", lines);
    int fd = open("/proc/self/uid_map", O_WRONLY);
    show("write uid_map", fd < 0 ? -1 : write(fd, "0 0 1\n", 6));
    show("setuid(0)", setuid(0));
    show("setgid(0)", setgid(0));
    gid_t g = 0;
    show("setgroups([0])", setgroups(1, &g));
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{~0u, ~0u, ~0u}, {~0u, ~0u, ~0u}};
    show("capset(all)", syscall(SYS_capset, &h, d));
    show("PR_CAP_AMBIENT_RAISE",
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 21 /* CAP_SYS_ADMIN */, 0, 0));
    show("clear no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
    return 0;
}
