/* The settings table keeps its own conventions: names derived from each
 * other, defaults within ranges, each run limit paired with its maximum,
 * fields that do not overlap. A row added carelessly fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <ctype.h>
#include <inttypes.h>

#include "config-internal.h"

static void test_names_follow_conventions(void **state)
{
    (void)state;
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        char want[128];
        int n = snprintf(want, sizeof(want), "%s.%s", s->section, s->name);
        assert_true(n > 0 && (size_t)n < sizeof(want));
        assert_string_equal(s->key, want);

        /* MOAT_ and the flag in upper snake case */
        n = snprintf(want, sizeof(want), "MOAT_%s", s->flag);
        assert_true(n > 0 && (size_t)n < sizeof(want));
        for (char *c = want; *c; c++)
            *c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        assert_string_equal(s->env, want);

        for (const char *c = s->flag; *c; c++)
            assert_true(islower((unsigned char)*c) || *c == '-');
        assert_true(s->flag[0] != '-');
        assert_non_null(config_find_section(s->section));
        assert_true(s->scope != 0);
        assert_int_equal(s->scope & ~(unsigned)(CONFIG_SCOPE_RUN | CONFIG_SCOPE_SERVE), 0);
        assert_true(s->description[0] != '\0');
        assert_true(s->description[strlen(s->description) - 1] != '.');
        assert_null(strchr(s->description, '\n'));
        /* only [limits] rows name a request field */
        assert_int_equal(s->api_field != NULL, strcmp(s->section, "limits") == 0);

        for (size_t j = 0; j < i; j++) {
            const struct config_setting *o = &config_settings[j];
            assert_string_not_equal(s->key, o->key);
            assert_string_not_equal(s->flag, o->flag);
            assert_string_not_equal(s->env, o->env);
            /* config_set takes either a flag or a key: they must not collide */
            assert_string_not_equal(s->flag, o->key);
            assert_string_not_equal(s->key, o->flag);
        }
        assert_ptr_equal(config_find_name(s->flag), s);
        assert_ptr_equal(config_find_name(s->key), s);
        assert_ptr_equal(config_find_key(s->section, s->name), s);
        assert_ptr_equal(config_find_env(s->env, strlen(s->env)), s);
    }
    for (size_t k = 0; k < config_n_sections; k++) {
        size_t n = 0;
        for (size_t i = 0; i < config_n_settings; i++)
            n += strcmp(config_settings[i].section, config_sections[k].name) == 0;
        assert_true(n > 0);
    }
}

static void test_defaults_in_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        switch (s->type) {
        case CONFIG_U64:
            assert_int_equal(s->size, sizeof(uint64_t));
            assert_true(s->min <= s->def && s->def <= s->max);
            break;
        case CONFIG_BOOL:
            assert_int_equal(s->size, sizeof(bool));
            assert_true(s->def <= 1);
            break;
        case CONFIG_STRING:
            assert_non_null(s->def_text);
            assert_true(strlen(s->def_text) < s->size);
            assert_true(s->rule != CONFIG_TEXT_CHOICE || s->choices != NULL);
            break;
        }
    }
    struct moat_config c;
    struct moat_err err = {0};
    config_defaults(&c);
    if (config_validate(&c, &err) != 0)
        fail_msg("defaults invalid: %s", err.msg);
}

/* Each run and compile limit has a maximum row with the same bounds. */
static void test_limits_paired_with_maxima(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (strcmp(s->section, "limits") != 0 && strcmp(s->section, "compile") != 0)
            continue;
        const struct config_setting *m = config_find_key("max_limits", s->name);
        assert_non_null(m);
        assert_true(s->max == m->max);
        if (strcmp(s->name, "wall_time_ms") == 0)
            assert_true(s->min == 0 && m->min >= 1); /* 0 = derived, not for a maximum */
        else
            assert_true(s->min == m->min);
        n++;
    }
    /* the struct moat_limits fields, twice */
    assert_int_equal(n, 2 * sizeof(struct moat_limits) / sizeof(uint64_t));
}

/* Writing one setting changes its field and nothing else. */
static void test_fields_do_not_overlap(void **state)
{
    (void)state;
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        struct moat_config a, b;
        char v[32];
        config_defaults(&a);
        config_defaults(&b);
        switch (s->type) {
        case CONFIG_U64:
            (void)snprintf(v, sizeof(v), "%" PRIu64, s->def < s->max ? s->def + 1 : s->def - 1);
            break;
        case CONFIG_BOOL:
            moat_strlcpy(v, s->def ? "false" : "true", sizeof(v));
            break;
        case CONFIG_STRING:
        default:
            moat_strlcpy(v,
                         s->rule == CONFIG_TEXT_CHOICE      ? "debug"
                         : s->rule == CONFIG_TEXT_HOST_PORT ? "localhost:1"
                         : s->rule == CONFIG_TEXT_NAME      ? "zz"
                                                            : "/zz",
                         sizeof(v));
            break;
        }
        struct moat_err err = {0};
        if (config_set(&a, s->key, v, &err) != 0)
            fail_msg("%s = %s: %s", s->key, v, err.msg);
        const unsigned char *pa = (const unsigned char *)&a, *pb = (const unsigned char *)&b;
        bool changed = false;
        for (size_t k = 0; k < sizeof(a); k++) {
            if (pa[k] == pb[k])
                continue;
            if (k < s->offset || k >= s->offset + s->size)
                fail_msg("%s wrote byte %zu outside its field", s->key, k);
            changed = true;
        }
        if (!changed)
            fail_msg("%s = %s changed nothing", s->key, v);
    }
}

static char *capture_help(unsigned scope)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_print_help(f, scope);
    assert_int_equal(fclose(f), 0);
    return text;
}

static void test_help(void **state)
{
    (void)state;
    char *run = capture_help(CONFIG_SCOPE_RUN);
    char *serve = capture_help(CONFIG_SCOPE_SERVE);
    char flag[80];
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        (void)snprintf(flag, sizeof(flag), "  --%s ", s->flag);
        assert_int_equal(strstr(run, flag) != NULL, (s->scope & CONFIG_SCOPE_RUN) != 0);
        assert_int_equal(strstr(serve, flag) != NULL, (s->scope & CONFIG_SCOPE_SERVE) != 0);
    }
    assert_non_null(strstr(run, "MOAT_TIME_LIMIT"));
    assert_non_null(strstr(run, "1..600000"));
    assert_non_null(strstr(serve, "error|warn|info|debug"));
    /* aligned: the environment column starts at the same place on every row */
    long col = -1;
    for (char *line = serve; line && *line;) {
        char *nl = strchr(line, '\n');
        if (str_has_prefix(line, "  --")) {
            char *env = strstr(line, "MOAT_");
            assert_non_null(env);
            if (col < 0)
                col = env - line;
            assert_int_equal(env - line, col);
        }
        line = nl ? nl + 1 : NULL;
    }
    assert_true(col > 0);
    free(run);
    free(serve);
}

/* config_changed names exactly the keys whose values differ, strings and
 * numbers alike, in the table's order, and counts past its room. */
static void test_changed_keys(void **state)
{
    (void)state;
    struct moat_config a, b;
    config_defaults(&a);
    config_defaults(&b);
    const char *keys[4];
    assert_int_equal(config_changed(&a, &b, keys, 4), 0);
    moat_strlcpy(b.log_level, "debug", sizeof(b.log_level));
    b.max_queue = a.max_queue + 1;
    b.stop_grace_ms = 0;
    size_t n = config_changed(&a, &b, keys, 4);
    assert_int_equal(n, 3);
    size_t seen = 0;
    for (size_t i = 0; i < n; i++)
        seen |= (strcmp(keys[i], "log.level") == 0 ? 1u : 0) |
                (strcmp(keys[i], "server.max_queue") == 0 ? 2u : 0) |
                (strcmp(keys[i], "server.stop_grace_ms") == 0 ? 4u : 0);
    assert_int_equal(seen, 7);
    /* room for one: counted all the same */
    assert_int_equal(config_changed(&a, &b, keys, 1), 3);
    /* bytes after a string's end do not count */
    config_defaults(&b);
    b.log_level[strlen(b.log_level) + 1] = 'z';
    assert_int_equal(config_changed(&a, &b, keys, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_follow_conventions),
        cmocka_unit_test(test_defaults_in_range),
        cmocka_unit_test(test_limits_paired_with_maxima),
        cmocka_unit_test(test_changed_keys),
        cmocka_unit_test(test_fields_do_not_overlap),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
