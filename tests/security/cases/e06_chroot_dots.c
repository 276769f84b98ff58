/* E6: walking up from /box, through /proc/self/root and /proc/1/root never
 * leaves the box's root. argv[1] is the runner's canary file on the host. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    for (int i = 0; i < 50; i++)
        if (chdir("..") < 0)
            printf("chdir ..: errno=%s\n", strerrorname_np(errno));
    struct stat here, root;
    stat(".", &here);
    stat("/", &root);
    printf("cwd after 50 x ..: %s\n",
           here.st_ino == root.st_ino && here.st_dev == root.st_dev ? "/" : "ELSEWHERE");
    char cwd[PATH_MAX];
    printf("getcwd: %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : strerrorname_np(errno));
    char link[PATH_MAX];
    ssize_t n = readlink("/proc/self/root", link, sizeof(link) - 1);
    printf("/proc/self/root -> %s\n", n < 0 ? strerrorname_np(errno) : (link[n] = 0, link));
    struct stat up;
    if (stat("/proc/self/root/../../..", &up) == 0)
        printf("/proc/self/root/../../..: %s\n",
               up.st_ino == root.st_ino && up.st_dev == root.st_dev ? "/" : "ELSEWHERE");
    struct stat one;
    if (stat("/proc/1/root", &one) < 0)
        printf("/proc/1/root: errno=%s\n", strerrorname_np(errno));
    else
        printf("/proc/1/root: VISIBLE\n");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/self/root/../../..%s", argv[1]);
    if (stat(path, &one) < 0)
        printf("canary via /proc/self/root: errno=%s\n", strerrorname_np(errno));
    else
        printf("canary via /proc/self/root: VISIBLE\n");
    const char *host_dirs[] = {"home", "root", "var",  "run", "sys",
                               "srv",  "opt",  "boot", "mnt", "media"};
    DIR *d = opendir("/");
    struct dirent *de;
    int found = 0;
    while (d && (de = readdir(d)))
        for (size_t i = 0; i < sizeof(host_dirs) / sizeof(host_dirs[0]); i++)
            if (strcmp(de->d_name, host_dirs[i]) == 0) {
                printf("host dir at /: %s\n", de->d_name);
                found++;
            }
    printf("host dirs at /: %d\n", found);
    return 0;
}
