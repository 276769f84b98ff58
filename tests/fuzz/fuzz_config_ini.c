/*
 * moat.ini sets the uid range, the cgroup and run directory names and
 * every limit of a privileged service; its parser must reject, never crash
 * on or half-apply, any text. Each input (cut at its first NUL, as a file
 * read into a C string) is applied on the defaults:
 *  - a failure is -EINVAL, -ERANGE or -ENOMEM with a message naming the
 *    origin and a line of the text;
 *  - a success is deterministic and idempotent (applying the text again
 *    changes nothing), every text setting stays NUL-terminated, and every
 *    prefix of the text that ends a line applies too (a later line cannot
 *    make an earlier one valid);
 *  - config_validate then judges the result without crashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/config.h"
#include "moat/util.h"

#include "fuzz.h"

#define MAX_PREFIXES 64

static void defaults(struct moat_config *c)
{
    memset(c, 0, sizeof *c); /* padding too, for the memcmp below */
    config_defaults(c);
}

static unsigned count_lines(const char *text)
{
    unsigned n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    size_t len = strlen(text);
    return n + (len && text[len - 1] != '\n');
}

static void check_error(int r, const struct moat_err *err, const char *text)
{
    CHECK(r == -EINVAL || r == -ERANGE || r == -ENOMEM);
    CHECK(err->code == r);
    CHECK(str_has_prefix(err->msg, "fuzz:"));
    const char *p = err->msg + strlen("fuzz:");
    if (*p >= '0' && *p <= '9') {
        unsigned long line = strtoul(p, NULL, 10);
        CHECK(line >= 1 && line <= count_lines(text));
    }
}

static void check_strings(const struct moat_config *c)
{
    CHECK(memchr(c->run_dir, '\0', sizeof c->run_dir));
    CHECK(memchr(c->cgroup_name, '\0', sizeof c->cgroup_name));
    CHECK(memchr(c->languages_file, '\0', sizeof c->languages_file));
    CHECK(memchr(c->cache_dir, '\0', sizeof c->cache_dir));
    CHECK(memchr(c->listen, '\0', sizeof c->listen));
    CHECK(memchr(c->data_dir, '\0', sizeof c->data_dir));
    CHECK(memchr(c->log_level, '\0', sizeof c->log_level));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';

    struct moat_config *c = malloc(3 * sizeof *c);
    CHECK(c);
    struct moat_err err = {0};
    defaults(&c[0]);
    int r = config_apply_ini(&c[0], text, "fuzz", &err);
    if (r < 0) {
        check_error(r, &err, text);
    } else {
        CHECK(r == 0);
        check_strings(&c[0]);
        defaults(&c[1]);
        CHECK(config_apply_ini(&c[1], text, "fuzz", NULL) == 0);
        CHECK(memcmp(&c[0], &c[1], sizeof c[0]) == 0);
        CHECK(config_apply_ini(&c[1], text, "fuzz", NULL) == 0);
        CHECK(memcmp(&c[0], &c[1], sizeof c[0]) == 0);

        unsigned tried = 0;
        for (const char *nl = strchr(text, '\n'); nl && nl[1] && tried < MAX_PREFIXES;
             nl = strchr(nl + 1, '\n'), tried++) {
            size_t plen = (size_t)(nl + 1 - text);
            char *prefix = malloc(plen + 1);
            CHECK(prefix);
            memcpy(prefix, text, plen);
            prefix[plen] = '\0';
            defaults(&c[2]);
            struct moat_err perr = {0};
            int pr = config_apply_ini(&c[2], prefix, "fuzz", &perr);
            if (pr != 0)
                (void)fprintf(stderr, "prefix of %zu bytes: %s\n", plen, perr.msg);
            CHECK(pr == 0);
            free(prefix);
        }

        struct moat_err verr = {0};
        int v = config_validate(&c[0], &verr);
        CHECK(v == 0 || ((v == -EINVAL || v == -ERANGE) && verr.code == v && verr.msg[0]));
    }
    free(c);
    free(text);
    return 0;
}
