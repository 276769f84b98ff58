/* Option parsing and loading shared by the subcommands. */
#include "cli.h"

#include <fcntl.h>
#include <libgen.h>

extern char **environ;

int cli_load_config(struct moat_config *cfg, int argc, char **argv)
{
    /* --config names the ini file; it must be known before the other flags,
     * which override what the file says. */
    const char *ini = NULL;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (str_has_prefix(argv[i], "--config="))
            ini = argv[i] + strlen("--config=");
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            ini = argv[++i];
    }
    struct moat_err err = {0};
    if (config_load(cfg, ini, environ, &err) < 0) {
        (void)fprintf(stderr, "moat: configuration: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int usage_error(const char *cmd, const char *msg, const char *what)
{
    (void)fprintf(stderr, "moat %s: %s%s%s\n(see `moat %s --help`)\n", cmd, msg,
                  what ? ": " : "", what ? what : "", cmd);
    return CLI_EXIT_USAGE;
}

int cli_parse_args(int argc, char **argv, struct moat_config *cfg, struct cli_parse *p)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            p->rest = argv + i + 1;
            p->nrest = (size_t)(argc - i - 1);
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (p->npositional >= p->maxpositional)
                return usage_error(p->cmd, "too many arguments", a);
            p->positional[p->npositional++] = a;
            continue;
        }
        if (a[1] != '-')
            return usage_error(p->cmd, "unknown option", a);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nlen >= sizeof(name))
            return usage_error(p->cmd, "unknown option", a);
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
        int took = p->own ? p->own(p->arg, name, value) : -1;
        if (took < 0 && strcmp(name, "config") == 0)
            took = 1; /* read by cli_load_config */
        if (took == -2)
            return CLI_EXIT_USAGE; /* own() said why */
        if (took >= 0) {
            if (took == 1 && !eq) {
                if (!value)
                    return usage_error(p->cmd, "option needs a value", a);
                i++;
            }
            continue;
        }
        unsigned scope = 0;
        bool is_bool = false;
        if (config_lookup(name, &scope, &is_bool) < 0 || !(scope & p->scope))
            return usage_error(p->cmd, "unknown option", a);
        if (is_bool && !eq)
            value = "true";
        else if (!eq)
            i++;
        if (!value)
            return usage_error(p->cmd, "option needs a value", a);
        struct moat_err err = {0};
        if (config_set(cfg, name, value, &err) < 0)
            return usage_error(p->cmd, "invalid value", err.msg);
    }
    return 0;
}

int cli_load_languages(const struct moat_config *cfg, struct lang_registry **out)
{
    /* A build tree's beside the binary; an installed moat's the
     * administrator's in /etc, else the package's under the prefix. */
    char candidates[3][512];
    size_t n = 0;
    if (cfg->languages_file[0]) {
        moat_strlcpy(candidates[n++], cfg->languages_file, sizeof(candidates[0]));
    } else {
        char exe[400];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        const char *dir = NULL;
        if (len > 0) {
            exe[len] = '\0';
            dir = dirname(exe);
            (void)snprintf(candidates[n++], sizeof(candidates[0]), "%s/languages.ini", dir);
        }
        moat_strlcpy(candidates[n++], "/etc/moat/languages.ini", sizeof(candidates[0]));
        if (dir)
            (void)snprintf(candidates[n++], sizeof(candidates[0]),
                           "%s/../share/moat/languages.ini", dir);
    }
    for (size_t i = 0; i < n; i++) {
        if (!cfg->languages_file[0] && access(candidates[i], R_OK) < 0)
            continue;
        struct moat_err err = {0};
        if (lang_registry_load(candidates[i], out, &err) < 0) {
            (void)fprintf(stderr, "moat: languages: %s\n", err.msg);
            return CLI_EXIT_USAGE;
        }
        if (cfg->policy_file[0] && lang_registry_load_policy(*out, cfg->policy_file, &err) < 0) {
            (void)fprintf(stderr, "moat: %s\n", err.msg);
            lang_registry_free(*out);
            *out = NULL;
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    (void)fprintf(stderr, "moat: no languages.ini found (set --languages)\n");
    return CLI_EXIT_USAGE;
}

int cli_read_file(const char *path, size_t max, char **data, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct buf b;
    buf_init(&b, max);
    char chunk[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        r = buf_append(&b, chunk, (size_t)n);
        if (r < 0)
            break;
    }
    (void)close(fd);
    if (r < 0) {
        buf_release(&b);
        return r == -ENOBUFS ? -EFBIG : r;
    }
    *data = buf_steal(&b, len);
    return *data ? 0 : -ENOMEM;
}

void cli_lean_binary(char *out, size_t outsz)
{
    char self[4096];
    out[0] = '\0';
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return;
    bool asan = str_has_suffix(slash + 1, "-asan");
    slash[1] = '\0';
    (void)snprintf(out, outsz, "%smoat%s", self, asan ? "-asan" : "");
    if (access(out, X_OK) != 0)
        out[0] = '\0';
}
