/*
 * moat: one command, one thin file per subcommand. The service's
 * subcommands live in moat-server, beside this binary: the libraries of a
 * server (libmicrohttpd and GnuTLS, SQLite, libcurl) take ~7 ms to load and
 * relocate, which `moat run` would pay on every start for nothing.
 */
#include "cli.h"

#include "moat/sandbox.h"

static const struct cli_command commands[] = {
    {"run", cli_run, "run a program once in a sandbox on this machine"},
    {"doctor", cli_doctor, "say which kernel features moat can use"},
    {"languages", cli_languages, "list the languages this host can run"},
    {"bench", cli_bench, "measure warm boxes against a bare fork+execve"},
    {"serve", cli_exec_server, "serve the HTTP API and run the queued jobs"},
    {"worker", cli_exec_server, "run the jobs of a cluster (PostgreSQL + NATS JetStream)"},
    {"submit", cli_exec_server, "submit a program to a moat server and wait for it"},
    {"keys", cli_exec_server, "add, list and revoke the API keys of a server"},
};

static void usage(FILE *out)
{
    (void)fprintf(out, "usage: moat <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(commands); i++)
        (void)fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    (void)fprintf(out, "\n`moat <command> --help` describes a command's options;"
                       " `moat --version` says which moat this is.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* the warm pool's spawner of moat-server, re-executed in this lean
     * binary (sbx_config.spawner_exe) */
    if (strcmp(argv[1], "__spawner") == 0)
        return sbx_spawner_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        const struct moat_build *b = moat_build_info();
        (void)printf("moat %s (commit %s, %s)\n", b->version, b->commit, b->variant);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    (void)fprintf(stderr, "moat: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
