/* moat languages: what this host can run, with versions. */
#include "cli.h"

int cli_languages(int argc, char **argv)
{
    struct moat_config cfg;
    int r = cli_load_config(&cfg, argc, argv);
    if (r)
        return r;
    bool help = false;
    struct cli_parse p = {.cmd = "languages", .scope = CONFIG_SCOPE_RUN};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0)
            help = true;
    if (help) {
        (void)printf("usage: moat languages [--languages FILE]\n\n"
                     "Lists the languages this host can run, with versions.\n");
        return 0;
    }
    if ((r = cli_parse_args(argc, argv, &cfg, &p)) != 0)
        return r;
    struct lang_registry *reg = NULL;
    if ((r = cli_load_languages(&cfg, &reg)) != 0)
        return r;
    (void)printf("%-12s %-12s %-9s %s\n", "NAME", "VERSION", "COMPILED", "ALIASES");
    for (size_t i = 0; i < lang_count(reg); i++) {
        const struct lang *l = lang_at(reg, i);
        if (!lang_available(l))
            continue;
        char version[64] = "";
        (void)lang_version(l, cfg.cache_dir, version, sizeof(version));
        char aliases[300] = "";
        for (size_t a = 0; a < l->naliases; a++) {
            size_t n = strlen(aliases);
            (void)snprintf(aliases + n, sizeof(aliases) - n, "%s%s", a ? ", " : "",
                           l->aliases[a]);
        }
        (void)printf("%-12s %-12s %-9s %s\n", l->name, version[0] ? version : "?",
                     lang_compiled(l) ? "yes" : "no", aliases);
    }
    lang_registry_free(reg);
    return 0;
}
