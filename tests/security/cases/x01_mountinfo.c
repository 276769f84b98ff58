/* The box's mount table names no host path of moat's: not the run
 * directory where box roots are built (argv[1]), nothing of the runner's
 * temp dir (argv[2]); and every mount but /box, /tmp and /dev/shm is
 * read-only or a pseudo filesystem. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3)
        return 2;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    int lines = 0, run_dir = 0, tmpdir = 0, writable = 0;
    while (f && fgets(line, sizeof(line), f)) {
        lines++;
        if (strstr(line, argv[1]))
            run_dir++;
        if (strstr(line, argv[2]))
            tmpdir++;
        char root[1024], mnt[1024], opts[1024];
        if (sscanf(line, "%*s %*s %*s %1023s %1023s %1023s", root, mnt, opts) != 3)
            continue;
        int rw = strncmp(opts, "rw", 2) == 0 && (opts[2] == ',' || opts[2] == 0);
        int ok = strcmp(mnt, "/box") == 0 || strcmp(mnt, "/tmp") == 0 ||
                 strcmp(mnt, "/dev/shm") == 0 || strncmp(mnt, "/proc", 5) == 0 ||
                 strncmp(mnt, "/dev/", 5) == 0 || strcmp(mnt, "/dev") == 0;
        if (rw && !ok) {
            printf("writable mount: %s\n", mnt);
            writable++;
        }
    }
    printf("mounts: %s\n", lines > 5 ? "several" : "few");
    printf("lines naming the run dir: %d\n", run_dir);
    printf("lines naming the runner's temp dir: %d\n", tmpdir);
    printf("unexpected writable mounts: %d\n", writable);
    return 0;
}
