/* moat-server: the subcommands that need the service's libraries; `moat
 * serve` and `moat submit` run them (see main.c). */
#include "cli.h"

static const struct cli_command commands[] = {
    {"serve", cli_serve, "serve the HTTP API and run the queued jobs"},
    {"submit", cli_submit, "submit a program to a moat server and wait for it"},
};

int main(int argc, char **argv)
{
    if (argc >= 2)
        for (size_t i = 0; i < MOAT_ARRAY_SIZE(commands); i++)
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].fn(argc - 1, argv + 1);
    (void)fprintf(stderr, "usage: moat-server serve|submit [options] (run by `moat`)\n");
    return CLI_EXIT_USAGE;
}
