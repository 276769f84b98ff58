/* E11: FIFOs named like every file of /box and every file the host side
 * might read after the step. An engine that opened one would block; moat
 * must return promptly. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *names[] = {"stdin", "stdout",  "stderr", "output", "meta",     "result",
                           "run",   "compile", "main",   "a.out",  "input.txt"};
    char found[64][256];
    size_t n = 0;
    DIR *d = opendir("/box");
    struct dirent *de;
    while (d && (de = readdir(d)) && n < 64)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            snprintf(found[n++], sizeof(found[0]), "%s", de->d_name);
    closedir(d);
    int made = 0;
    for (size_t i = 0; i < n; i++) {
        unlink(found[i]);
        made += mkfifo(found[i], 0666) == 0;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unlink(names[i]);
        made += mkfifo(names[i], 0666) == 0;
        char t[64];
        snprintf(t, sizeof(t), "/tmp/%s", names[i]);
        made += mkfifo(t, 0666) == 0;
    }
    printf("fifos made: %s\n", made >= 22 ? "all" : "some");
    return 0;
}
