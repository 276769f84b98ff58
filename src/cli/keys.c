/*
 * moat keys add|list|revoke: the API keys of a server, in its store (the
 * same --store / --data-dir as `moat serve`). A key is 32 random bytes,
 * shown once as moat_<base64url>; the store keeps only its SHA-256. A
 * running server sees the change within auth.keys_reload_ms.
 */
#include <sys/random.h>
#include <time.h>

#include "cli.h"

#include "moat/store.h"

struct keys_opts {
    bool help, json;
    struct store_key k;
};

/* The per-key limit options: name, where it goes. */
struct limit_opt {
    const char *name;
    size_t offset;
};
#define KOFF(f) offsetof(struct store_key, f)
static const struct limit_opt limit_opts[] = {
    {"jobs-per-minute", KOFF(jobs_per_minute)}, {"concurrent-jobs", KOFF(concurrent_jobs)},
    {"max-time-ms", KOFF(max.time_ms)},         {"max-wall-time-ms", KOFF(max.wall_time_ms)},
    {"max-memory-mb", KOFF(max.memory_mb)},     {"max-processes", KOFF(max.max_processes)},
    {"max-output-kb", KOFF(max.max_output_kb)},
};

static int keys_own(void *arg, const char *name, const char *value)
{
    struct keys_opts *o = arg;
    if (strcmp(name, "help") == 0 || strcmp(name, "json") == 0) {
        *(name[0] == 'h' ? &o->help : &o->json) = true;
        return 0;
    }
    if (strcmp(name, "languages") == 0 || strcmp(name, "name") == 0) {
        char *dst = name[0] == 'l' ? o->k.languages : o->k.name;
        size_t size = name[0] == 'l' ? sizeof(o->k.languages) : sizeof(o->k.name);
        if (!value || strlen(value) >= size) {
            (void)fprintf(stderr, "moat keys: --%s takes a value under %zu characters\n", name,
                          size);
            return -2;
        }
        moat_strlcpy(dst, value, size);
        return 1;
    }
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(limit_opts); i++) {
        if (strcmp(name, limit_opts[i].name) != 0)
            continue;
        uint64_t *slot = (uint64_t *)(void *)((char *)&o->k + limit_opts[i].offset);
        if (!value || parse_u64(value, 0, 1000000000, slot) < 0) {
            (void)fprintf(stderr, "moat keys: --%s takes a number (0 = no limit)\n", name);
            return -2;
        }
        return 1;
    }
    return -1;
}

static void usage(FILE *out)
{
    (void)fprintf(out, "usage: moat keys add [--name NAME] [limits] | list [--json] | revoke ID\n\n"
                       "Manages the API keys of the server whose store --store / --data-dir name.\n"
                       "`add` prints the new key's id and the key itself, once: only its SHA-256\n"
                       "is kept.\n\n"
                       "limits of `add` (0 or absent: none beyond the server's):\n"
                       "  --jobs-per-minute N  --concurrent-jobs N\n"
                       "  --max-time-ms N  --max-wall-time-ms N  --max-memory-mb N\n"
                       "  --max-processes N  --max-output-kb N\n"
                       "  --languages a,b      the languages' names (GET /v1/languages)\n");
}

/* 32 bytes from getrandom as moat_<base64url without padding>. */
static int make_key(char *out, size_t size)
{
    unsigned char raw[32];
    for (size_t got = 0; got < sizeof(raw);) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            got += (size_t)n;
    }
    size_t len = 0;
    char *b64 = moat_base64_encode(raw, sizeof(raw), &len);
    if (!b64)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    while (len && b64[len - 1] == '=')
        b64[--len] = '\0';
    (void)snprintf(out, size, "moat_%s", b64);
    free(b64);
    return 0;
}

/* The key's maxima within the server's, its languages known. */
static int check_key(const struct moat_config *cfg, const struct store_key *k)
{
    const struct {
        const char *opt;
        uint64_t v, max;
    } m[] = {
        {"max-time-ms", k->max.time_ms, cfg->max_limits.time_ms},
        {"max-wall-time-ms", k->max.wall_time_ms, cfg->max_limits.wall_time_ms},
        {"max-memory-mb", k->max.memory_mb, cfg->max_limits.memory_mb},
        {"max-processes", k->max.max_processes, cfg->max_limits.max_processes},
        {"max-output-kb", k->max.max_output_kb, cfg->max_limits.max_output_kb},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(m); i++) {
        if (m[i].max && m[i].v > m[i].max) {
            (void)fprintf(stderr, "moat keys: --%s %llu is above the server's maximum %llu\n",
                          m[i].opt, (unsigned long long)m[i].v, (unsigned long long)m[i].max);
            return CLI_EXIT_USAGE;
        }
    }
    if (!k->languages[0])
        return 0;
    struct lang_registry *langs = NULL;
    if (cli_load_languages(cfg, &langs) != 0)
        return 1;
    char list[sizeof(k->languages)];
    moat_strlcpy(list, k->languages, sizeof(list));
    int r = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const struct lang *l = lang_find(langs, t);
        if (!l || strcmp(l->name, t) != 0) {
            (void)fprintf(stderr, "moat keys: --languages: '%s' is not a language's name%s%s\n", t,
                          l ? "; say " : "", l ? l->name : "");
            r = CLI_EXIT_USAGE;
            break;
        }
    }
    lang_registry_free(langs);
    return r;
}

static int keys_add(const struct moat_config *cfg, struct store *st, struct keys_opts *o)
{
    struct store_key *k = &o->k;
    int r = check_key(cfg, k);
    if (r)
        return r;
    char key[64];
    if ((r = make_key(key, sizeof(key))) < 0) {
        (void)fprintf(stderr, "moat keys: no random bytes: %s\n", strerror(-r));
        return 1;
    }
    moat_uuid7(k->id);
    moat_sha256_hex(key, strlen(key), k->hash);
    k->created_ms = (int64_t)moat_realtime_ms();
    struct moat_err err = {0};
    if (store_key_add(st, k, &err) < 0) {
        (void)fprintf(stderr, "moat keys: %s\n", err.msg);
        return 1;
    }
    if (o->json)
        (void)printf("{\"id\":\"%s\",\"key\":\"%s\"}\n", k->id, key);
    else
        (void)printf("id:  %s\nkey: %s\n(the key is shown this once: only its hash is kept)\n",
                     k->id, key);
    return 0;
}

static json_t *key_json(const struct store_key *k)
{
    /* json_pack's "I" takes json_int_t; the limits fit (at most 1e9) */
    return json_pack("{s:s, s:s, s:I, s:I, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}}", "id",
                     k->id, "name", k->name, "createdMs", (json_int_t)k->created_ms, "revokedMs",
                     (json_int_t)k->revoked_ms, "revoked", k->revoked_ms != 0, "limits",
                     "jobsPerMinute", (json_int_t)k->jobs_per_minute, "concurrentJobs",
                     (json_int_t)k->concurrent_jobs, "maxTimeMs", (json_int_t)k->max.time_ms,
                     "maxWallTimeMs", (json_int_t)k->max.wall_time_ms, "maxMemoryMb",
                     (json_int_t)k->max.memory_mb, "maxProcesses", (json_int_t)k->max.max_processes,
                     "maxOutputKb", (json_int_t)k->max.max_output_kb, "languages", k->languages);
}

static int keys_list(struct store *st, bool json)
{
    struct store_key *v = NULL;
    size_t n = 0;
    struct moat_err err = {0};
    if (store_key_list(st, 1000000, &v, &n, &err) < 0) {
        (void)fprintf(stderr, "moat keys: %s\n", err.msg);
        return 1;
    }
    if (json) {
        json_t *arr = json_array(); /* new reference */
        for (size_t i = 0; arr && i < n; i++)
            if (json_array_append_new(arr, key_json(&v[i])) < 0)
                json_decref(TAKE_PTR(arr));
        char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        if (!text) {
            free(v);
            (void)fprintf(stderr, "moat keys: out of memory\n");
            return 1;
        }
        (void)printf("%s\n", text);
        free(text);
    } else {
        (void)printf("%-36s  %-20s  %-8s  %s\n", "ID", "NAME", "STATUS", "LIMITS");
        for (size_t i = 0; i < n; i++) {
            const struct store_key *k = &v[i];
            (void)printf(
                "%-36s  %-20s  %-8s  jobs/min=%llu concurrent=%llu languages=%s\n", k->id, k->name,
                k->revoked_ms ? "revoked" : "active", (unsigned long long)k->jobs_per_minute,
                (unsigned long long)k->concurrent_jobs, k->languages[0] ? k->languages : "*");
        }
    }
    free(v);
    return 0;
}

static int keys_revoke(struct store *st, const char *id)
{
    struct moat_err err = {0};
    int r = store_key_revoke(st, id, (int64_t)moat_realtime_ms(), &err);
    if (r < 0) {
        (void)fprintf(stderr, "moat keys: %s\n", err.msg);
        return r == -ENOENT ? 3 : 1;
    }
    (void)printf("revoked %s\n", id);
    return 0;
}

int cli_keys(int argc, char **argv)
{
    struct moat_config cfg;
    int r = cli_load_config(&cfg, argc, argv);
    if (r)
        return r;
    struct keys_opts o = {0};
    const char *pos[2];
    struct cli_parse p = {.cmd = "keys",
                          .scope = CONFIG_SCOPE_SERVE,
                          .own = keys_own,
                          .arg = &o,
                          .positional = pos,
                          .maxpositional = 2};
    if ((r = cli_parse_args(argc, argv, &cfg, &p)) != 0)
        return r;
    if (o.help) {
        usage(stdout);
        return 0;
    }
    const char *action = p.npositional ? pos[0] : "";
    bool add = strcmp(action, "add") == 0, list = strcmp(action, "list") == 0,
         revoke = strcmp(action, "revoke") == 0;
    if ((!add && !list && !revoke) || (revoke != (p.npositional == 2)) ||
        (add && p.npositional != 1)) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    struct store *st = NULL;
    struct moat_err err = {0};
    if (store_open(&cfg, &st, &err) < 0) {
        (void)fprintf(stderr, "moat keys: %s\n", err.msg);
        return 1;
    }
    r = add ? keys_add(&cfg, st, &o) : list ? keys_list(st, o.json) : keys_revoke(st, pos[1]);
    store_close(st);
    return r;
}
