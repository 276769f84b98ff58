/*
 * languages.ini is read at start-up and may come from an operator's
 * checkout; its parser must reject, never crash on or silently cut, any
 * bytes. Each input is parsed as a registry; a registry that loads is
 * looked up by every name, alias and extension, and every template is
 * expanded and checked. The same bytes are also Java source for the class
 * rule, which sees user code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/lang.h"
#include "moat/util.h"

#include "fuzz.h"

static const char java_ini[] = "[java]\nsource = {class}.java\nclass_rule = java\n"
                               "run = /usr/bin/java -cp . {class}\n";

static bool entry_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return false;
    return true;
}

static void check_entry(const struct lang *l, const uint8_t *data, size_t size)
{
    char out[64];
    struct moat_err err = {0};
    int r = lang_entry_name(l, (const char *)data, size, out, sizeof(out), &err);
    CHECK(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
    if (r == 0)
        CHECK(entry_ok(out) && strcmp(out, ".") != 0 && strcmp(out, "..") != 0);
    else
        CHECK(err.code == r && err.msg[0] != '\0');
}

static void check_expand(const char *tmpl)
{
    static const char *const files[] = {"main.x", "b.x", "c.x"};
    const struct lang_vars v = {.main = "main.x",
                                .files = files,
                                .nfiles = 3,
                                .class_name = "Main",
                                .memory_mb = 64,
                                .output = "/tmp/out"};
    if (!*tmpl)
        return;
    char **argv = NULL, *storage = NULL;
    struct moat_err err = {0};
    int n = lang_expand(tmpl, &v, &argv, &storage, &err);
    /* templates were checked at load time: only {files} can still overflow */
    CHECK(n > 0 || n == -E2BIG);
    if (n < 0)
        return;
    CHECK(argv[n] == NULL);
    for (int i = 0; i < n; i++) {
        CHECK(argv[i][0] != '\0');
        CHECK(strchr(argv[i], '{') == NULL);
        for (const char *c = argv[i]; *c; c++)
            CHECK(*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r');
    }
    free(storage);
}

static void check_registry(const struct lang_registry *reg, const uint8_t *data, size_t size)
{
    size_t n = lang_count(reg);
    CHECK(n > 0 && n <= LANG_MAX_LANGS);
    CHECK(lang_at(reg, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const struct lang *l = lang_at(reg, i);
        CHECK(l->run[0] != '\0' && l->source[0] != '\0' && l->display[0] != '\0');
        CHECK(lang_find(reg, l->name) == l);
        for (size_t j = 0; j < l->naliases; j++)
            CHECK(lang_find(reg, l->aliases[j]) == l);
        for (size_t j = 0; j < l->nextensions; j++) {
            char file[32];
            (void)snprintf(file, sizeof(file), "x%s", l->extensions[j]);
            CHECK(lang_for_file(reg, file) != NULL);
        }
        check_expand(l->compile);
        check_expand(l->run);
        check_expand(l->version_cmd);
        check_expand(l->prepare);
        check_entry(l, data, size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    int r = lang_registry_parse((const char *)data, size, &reg, &err);
    if (r == 0) {
        CHECK(reg != NULL);
        check_registry(reg, data, size);
        lang_registry_free(reg);
    } else {
        CHECK(reg == NULL);
        CHECK(r == -EINVAL || r == -EFBIG || r == -ENOMEM);
        CHECK(err.code == r && err.msg[0] != '\0');
    }

    struct lang_registry *java = NULL;
    CHECK(lang_registry_parse(java_ini, sizeof(java_ini) - 1, &java, NULL) == 0);
    check_entry(lang_at(java, 0), data, size);
    lang_registry_free(java);
    return 0;
}
