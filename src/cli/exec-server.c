/* moat serve / moat submit: handed to moat-server, installed beside moat. */
#include <unistd.h>

#include "cli.h"

int cli_exec_server(int argc, char **argv)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);
    if (n <= 0) {
        (void)fprintf(stderr, "moat: cannot find my own binary: %s\n", strerror(errno));
        return 125;
    }
    self[n] = '\0';
    /* moat -> moat-server, moat-asan -> moat-server-asan */
    char path[4096 + 32];
    char *slash = strrchr(self, '/');
    const char *base = slash ? slash + 1 : self;
    bool asan = str_has_suffix(base, "-asan");
    if (slash)
        slash[1] = '\0';
    (void)snprintf(path, sizeof(path), "%smoat-server%s", slash ? self : "", asan ? "-asan" : "");
    char *args[256];
    if (argc < 1 || argc > 250) {
        (void)fprintf(stderr, "moat: too many arguments\n");
        return CLI_EXIT_USAGE;
    }
    args[0] = path;
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    args[argc + 1] = NULL;
    extern char **environ;
    execve(path, args, environ);
    (void)fprintf(stderr, "moat: %s: %s\n", path, strerror(errno));
    return 125;
}
