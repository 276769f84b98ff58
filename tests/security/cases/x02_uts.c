/* The box has its own UTS namespace: it does not see the host's name
 * (argv[1]) and cannot change names (which the kernel would allow a
 * privileged user of its own UTS namespace). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    char name[256];
    gethostname(name, sizeof(name));
    printf("hostname is the host's: %s\n", strcmp(name, argv[1]) == 0 ? "yes" : "no");
    printf("sethostname: %s\n", sethostname("pwned", 5) < 0 ? strerrorname_np(errno) : "ok");
    printf("setdomainname: %s\n", setdomainname("pwned", 5) < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
