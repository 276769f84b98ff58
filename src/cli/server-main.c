/* moat-server: the subcommands that need the service's libraries; `moat
 * serve` and `moat submit` run them (see main.c). */
#include "cli.h"

#include <malloc.h>

static const struct cli_command commands[] = {
    {"serve", cli_serve, "serve the HTTP API and run the queued jobs"},
    {"worker", cli_worker, "run the jobs of a cluster (PostgreSQL + NATS JetStream)"},
    {"submit", cli_submit, "submit a program to a moat server and wait for it"},
    {"keys", cli_keys, "add, list and revoke the API keys of a server"},
};

int main(int argc, char **argv)
{
    /* Blocks of 1 MiB and more (program outputs, their JSON, request
     * bodies) get pages of their own, which go back to the system when
     * freed. glibc's default threshold climbs with every large block freed
     * (up to 32 MiB), after which they come from the heaps of the threads
     * that freed them and stay: 16 MiB outputs left ~270 MiB resident. */
    (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (argc >= 2)
        for (size_t i = 0; i < MOAT_ARRAY_SIZE(commands); i++)
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].fn(argc - 1, argv + 1);
    (void)fprintf(stderr,
                  "usage: moat-server serve|worker|submit|keys [options] (run by `moat`)\n");
    return CLI_EXIT_USAGE;
}
