/* languages.ini: the real file of the repository, and every way a file can
 * be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <limits.h>

#include "moat/lang.h"
#include "moat/util.h"

static struct lang_registry *load_repo(void)
{
    const char *data = getenv("MOAT_TEST_DATA");
    assert_non_null(data);
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/../../../languages.ini", data);
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    int r = lang_registry_load(path, &reg, &err);
    if (r < 0)
        print_error("load %s: %s\n", path, err.msg);
    assert_int_equal(r, 0);
    return reg;
}

/* Parses text, expecting failure with code and a message holding want. */
static void expect_error(const char *text, int code, const char *want)
{
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    int r = lang_registry_parse(text, strlen(text), &reg, &err);
    if (r != code || !strstr(err.msg, want))
        print_error("got %d '%s', want %d '%s'\n", r, err.msg, code, want);
    assert_int_equal(r, code);
    assert_null(reg);
    assert_non_null(strstr(err.msg, want));
}

static struct lang_registry *parse_ok(const char *text)
{
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    int r = lang_registry_parse(text, strlen(text), &reg, &err);
    if (r < 0)
        print_error("parse: %s\n", err.msg);
    assert_int_equal(r, 0);
    return reg;
}

static void test_repo_has_every_language(void **state)
{
    (void)state;
    struct lang_registry *reg = load_repo();
    static const char *const names[] = {"c",    "cpp",  "python", "javascript", "java", "go",
                                        "rust", "bash", "ruby",   "php",        "perl", "lua"};
    assert_int_equal(lang_count(reg), MOAT_ARRAY_SIZE(names));
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(names); i++) {
        const struct lang *l = lang_find(reg, names[i]);
        assert_non_null(l);
        assert_string_equal(l->name, names[i]);
        assert_true(l->run[0] != '\0');
        assert_true(l->version_cmd[0] == '/');
        assert_true(l->display[0] != '\0');
        /* absolute paths under /usr only: no shims, no home directories */
        assert_true(str_has_prefix(l->run, "/usr/") || str_has_prefix(l->run, "./"));
        if (lang_compiled(l))
            assert_true(str_has_prefix(l->compile, "/usr/"));
    }
    assert_null(lang_at(reg, lang_count(reg)));
    lang_registry_free(reg);
}

static void test_repo_aliases_and_extensions(void **state)
{
    (void)state;
    struct lang_registry *reg = load_repo();
    static const struct {
        const char *alias, *name;
    } aliases[] = {
        {"py", "python"},
        {"python", "python"},
        {"python3", "python"},
        {"PY", "python"},
        {"js", "javascript"},
        {"node", "javascript"},
        {"javascript", "javascript"},
        {"nodejs", "javascript"},
        {"c++", "cpp"},
        {"cpp", "cpp"},
        {"cxx", "cpp"},
        {"golang", "go"},
        {"rs", "rust"},
        {"sh", "bash"},
        {"rb", "ruby"},
        {"pl", "perl"},
        {"lua5.4", "lua"},
        {"java", "java"},
        {"c", "c"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(aliases); i++) {
        const struct lang *l = lang_find(reg, aliases[i].alias);
        if (!l)
            print_error("alias %s\n", aliases[i].alias);
        assert_non_null(l);
        assert_string_equal(l->name, aliases[i].name);
    }
    assert_null(lang_find(reg, "cobol"));
    assert_null(lang_find(reg, ""));
    assert_null(lang_find(reg, NULL));

    static const struct {
        const char *file, *name;
    } exts[] = {
        {"a.c", "c"},       {"a.cpp", "cpp"},       {"a.cc", "cpp"},         {"x/y/a.cxx", "cpp"},
        {"a.py", "python"}, {"a.js", "javascript"}, {"a.mjs", "javascript"}, {"Main.java", "java"},
        {"a.go", "go"},     {"a.rs", "rust"},       {"a.sh", "bash"},        {"a.rb", "ruby"},
        {"a.php", "php"},   {"a.pl", "perl"},       {"a.lua", "lua"},        {"A.PY", "python"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(exts); i++) {
        const struct lang *l = lang_for_file(reg, exts[i].file);
        if (!l)
            print_error("file %s\n", exts[i].file);
        assert_non_null(l);
        assert_string_equal(l->name, exts[i].name);
    }
    assert_null(lang_for_file(reg, "a.txt"));
    assert_null(lang_for_file(reg, ".py")); /* an extension alone is not a file name */
    assert_null(lang_for_file(reg, "c"));
    assert_null(lang_for_file(reg, "dir.py/a"));
    lang_registry_free(reg);
}

static void test_repo_details(void **state)
{
    (void)state;
    struct lang_registry *reg = load_repo();
    const struct lang *java = lang_find(reg, "java");
    assert_string_equal(java->class_rule, "java");
    assert_string_equal(java->source, "{class}.java");
    assert_true(java->min_processes >= 32);
    assert_true(strstr(java->run, "-XX:MaxRAM={memory_mb}m") != NULL);
    assert_true(strstr(java->compile, "{files}") != NULL);

    const struct lang *cpp = lang_find(reg, "cpp");
    assert_string_equal(cpp->prepare_output, "pch/bits/stdc++.h.gch");
    assert_true(strstr(cpp->prepare, "{output}") != NULL);
    assert_true(strstr(cpp->compile, "-I{cache}/pch") != NULL);
    /* the PCH is used only when built with the compile command's flags */
    assert_true(strstr(cpp->prepare, "-O2 -std=gnu++17") != NULL);
    assert_true(strstr(cpp->compile, "-O2 -std=gnu++17") != NULL);

    const struct lang *go = lang_find(reg, "go");
    assert_int_equal(go->nenv, 5);
    bool cache = false;
    for (size_t i = 0; i < go->nenv; i++)
        cache |= strcmp(go->env[i], "GOCACHE=/tmp/gocache") == 0;
    assert_true(cache);

    const struct lang *rust = lang_find(reg, "rust");
    assert_int_equal(rust->compile_limits.memory_mb, 1024);
    assert_int_equal(rust->compile_limits.time_ms, 0);

    const struct lang *py = lang_find(reg, "python");
    assert_false(lang_compiled(py));
    assert_string_equal(py->display, "Python 3");
    lang_registry_free(reg);
}

static void test_minimal_and_defaults(void **state)
{
    (void)state;
    struct lang_registry *reg = parse_ok("; comment\n# comment\n[x]\nrun = /bin/x {main}\n"
                                         "source = main.x\n");
    assert_int_equal(lang_count(reg), 1);
    const struct lang *l = lang_at(reg, 0);
    assert_string_equal(l->display, "x"); /* defaults to the name */
    assert_int_equal(l->naliases, 0);
    assert_false(lang_compiled(l));
    lang_registry_free(reg);
}

static void test_continuation_lines(void **state)
{
    (void)state;
    struct lang_registry *reg = parse_ok("[x]\nsource = m\nrun = /bin/x -a\n"
                                         "    -b {main}\n\t-c\nenv = A=1\nenv = B=2\n");
    const struct lang *l = lang_at(reg, 0);
    assert_string_equal(l->run, "/bin/x -a -b {main} -c");
    assert_int_equal(l->nenv, 2);
    assert_string_equal(l->env[1], "B=2");
    lang_registry_free(reg);
    /* only commands may continue */
    expect_error("[x]\nsource = m\nrun = /bin/x\ndisplay = a\n  b\n", -EINVAL,
                 "line 5: 'display' cannot continue");
}

static void test_unknown_key_names_line(void **state)
{
    (void)state;
    expect_error("[x]\nrun = /bin/x\n\nsource = m\nbogus = 1\n", -EINVAL,
                 "line 5: unknown key 'bogus' in [x]");
    expect_error("run = /bin/x\n", -EINVAL, "line 1: key 'run' outside a section");
}

static void test_missing_run_and_source(void **state)
{
    (void)state;
    expect_error("[a]\nrun = /bin/a\nsource = a\n[b]\nsource = b\ncompile = /bin/cc\n", -EINVAL,
                 "line 4: [b] has no run command");
    expect_error("[a]\nrun = /bin/a\n", -EINVAL, "[a] has no source");
    expect_error("[a]\nrun =\nsource = a\n", -EINVAL, "has no run command");
    expect_error("", -EINVAL, "no language defined");
}

static void test_duplicates(void **state)
{
    (void)state;
    static const char base[] = "[a]\nrun = /bin/a\nsource = a\naliases = x, y\nextensions = .a\n";
    char text[512];
    (void)snprintf(text, sizeof(text), "%s[b]\nrun = /bin/b\nsource = b\naliases = z, Y\n", base);
    expect_error(text, -EINVAL, "line 9: alias 'Y' is also a name or alias of [a]");
    (void)snprintf(text, sizeof(text), "%s[x]\nrun = /bin/b\nsource = b\n", base);
    expect_error(text, -EINVAL, "line 6: [x] is defined twice or is an alias of [a]");
    (void)snprintf(text, sizeof(text), "%s[a]\nrun = /bin/b\nsource = b\n", base);
    expect_error(text, -EINVAL, "[a] is defined twice");
    (void)snprintf(text, sizeof(text), "%s[b]\nrun = /bin/b\nsource = b\naliases = a\n", base);
    expect_error(text, -EINVAL, "alias 'a' is also a name or alias of [a]");
    (void)snprintf(text, sizeof(text), "%s[b]\nrun = /bin/b\nsource = b\nextensions = .b, .A\n",
                   base);
    expect_error(text, -EINVAL, "extension '.A' is also one of [a]");
    expect_error("[a]\nrun = /bin/a\nsource = a\naliases = q, q\n", -EINVAL, "alias 'q'");
    expect_error("[a]\nrun = /bin/a\nsource = a\naliases = a\n", -EINVAL, "alias 'a'");
    expect_error("[a]\nrun = /bin/a\nrun = /bin/b\n", -EINVAL, "line 3: duplicate key 'run'");
    expect_error("[a]\nrun = /bin/a\nsource = a\nenv = A=1\nenv = A=2\n", -EINVAL,
                 "env A is set twice");
}

static void test_sections(void **state)
{
    (void)state;
    expect_error("[a]\n[b]\nrun = /bin/b\nsource = b\n", -EINVAL, "line 1: section has no keys");
    expect_error("[b]\nrun = /bin/b\nsource = b\n[a]\n", -EINVAL, "line 4: section has no keys");
    expect_error("[Py]\nrun = /bin/b\nsource = b\n", -EINVAL, "section name must be");
    expect_error("[abcdefghijklmnopqrstuvwxyz0123456]\nrun = /bin/b\nsource = b\n", -EINVAL,
                 "section name must be");
    expect_error("[a\nrun = /bin/b\n", -EINVAL, "line 1: section header without ']'");
    expect_error("[a]\nrun /bin/b\n", -EINVAL, "line 2: not a [section]");
}

static void test_templates_checked_at_load(void **state)
{
    (void)state;
    expect_error("[a]\nsource = a\nrun = /bin/a {mian}\n", -EINVAL,
                 "line 3: run: unknown placeholder '{mian}'");
    expect_error("[a]\nsource = a\nrun = /bin/a -o{files}\n", -EINVAL,
                 "{files} must be a word of its own");
    expect_error("[a]\nsource = a\nrun = /bin/a {output}\n", -EINVAL,
                 "placeholder {output} is not allowed here");
    expect_error("[a]\nsource = a\nrun = /bin/a\nversion = /bin/a {main}\n", -EINVAL,
                 "line 4: version: placeholder {main} is not allowed here");
    expect_error("[a]\nsource = a\nrun = a.out\n", -EINVAL, "run must start with an absolute");
    expect_error("[a]\nsource = a\nrun = /bin/a\nversion = ./a\n", -EINVAL,
                 "version must start with an absolute path");
    expect_error("[a]\nsource = a\nrun = /bin/a\nprepare = /bin/p {cache}/x\n"
                 "prepare_output = x\n",
                 -EINVAL, "prepare must write to {output}");
    expect_error("[a]\nsource = a\nrun = /bin/a\nprepare = /bin/p {output}\n", -EINVAL,
                 "needs both prepare and prepare_output");
    expect_error("[a]\nsource = a\nrun = /bin/a\nprepare = /bin/p {output}\n"
                 "prepare_output = ../x\n",
                 -EINVAL, "prepare_output must be a relative path");
    expect_error("[a]\nsource = {class}.java\nrun = /bin/a\n", -EINVAL,
                 "source uses {class} without class_rule");
    expect_error("[a]\nsource = a b\nrun = /bin/a\n", -EINVAL, "source has characters");
    expect_error("[a]\nsource = a\nrun = /bin/a\nclass_rule = kotlin\n", -EINVAL,
                 "class_rule must be");
    /* 65 words */
    char text[1024] = "[a]\nsource = a\nrun = /bin/a\n";
    for (int i = 0; i < 8; i++)
        (void)snprintf(text + strlen(text), sizeof(text) - strlen(text), "  1 2 3 4 5 6 7 8\n");
    expect_error(text, -EINVAL, "more than 64 words");
}

static void test_overlong_values(void **state)
{
    (void)state;
    char text[2048];
    char name[40];
    memset(name, 'n', 32);
    name[32] = '\0';
    /* an alias of 32 bytes does not fit char[32] */
    (void)snprintf(text, sizeof(text), "[a]\nsource = a\nrun = /bin/a\naliases = %s\n", name);
    expect_error(text, -EINVAL, "line 4: item of 'aliases' longer than 31 bytes");
    name[31] = '\0';
    (void)snprintf(text, sizeof(text), "[a]\nsource = a\nrun = /bin/a\naliases = %s\n", name);
    struct lang_registry *reg = parse_ok(text);
    assert_string_equal(lang_at(reg, 0)->aliases[0], name);
    lang_registry_free(reg);

    char display[70];
    memset(display, 'd', 64);
    display[64] = '\0';
    (void)snprintf(text, sizeof(text), "[a]\nsource = a\nrun = /bin/a\ndisplay = %s\n", display);
    expect_error(text, -EINVAL, "value of 'display' longer than 63 bytes");

    /* a line past inih's buffer is refused, not cut in two */
    char longline[300];
    memset(longline, 'x', 250);
    longline[250] = '\0';
    (void)snprintf(text, sizeof(text), "[a]\nsource = a\nrun = /bin/%s\n", longline);
    expect_error(text, -EINVAL, "line 3: line longer than 199 bytes");

    /* continuation lines add up past the field: refused */
    size_t n = (size_t)snprintf(text, sizeof(text), "[a]\nsource = a\nversion = /bin/v\n");
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "  %.100s\n", longline);
    expect_error(text, -EINVAL, "value of 'version' longer than 255 bytes");

    expect_error("[a]\nsource = a\nrun = /bin/a\naliases = 1,2,3,4,5,6,7,8,9\n", -EINVAL,
                 "more than 8 items");
    expect_error("[a]\nsource = a\nrun = /bin/a\nextensions = py\n", -EINVAL,
                 "bad item 'py' in 'extensions'");
    expect_error("[a]\nsource = a\nrun = /bin/a\naliases = a,,b\n", -EINVAL, "empty item");
    expect_error("[a]\nsource = a\nrun = /bin/a\nenv = 1A=b\n", -EINVAL, "env must be NAME=value");
    expect_error("[a]\nsource = a\nrun = /bin/a\nmin_processes = -1\n", -EINVAL,
                 "'min_processes' must be a number from 0 to 4096");
    expect_error("[a]\nsource = a\nrun = /bin/a\ncompile_memory_mb = 65537\n", -EINVAL,
                 "'compile_memory_mb' must be a number");
}

static void test_nul_and_size(void **state)
{
    (void)state;
    static const char text[] = "[a]\nrun = /bin/a\0\nsource = a\n";
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    assert_int_equal(lang_registry_parse(text, sizeof(text) - 1, &reg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "NUL byte"));
    assert_int_equal(lang_registry_parse(text, (1u << 20) + 1, &reg, &err), -EFBIG);
    assert_null(reg);
    assert_int_equal(lang_registry_load("/nonexistent/languages.ini", &reg, &err), -ENOENT);
    assert_int_equal(lang_registry_load("/", &reg, &err), -EINVAL);
}

static void test_limits_parsed(void **state)
{
    (void)state;
    struct lang_registry *reg =
        parse_ok("[a]\nsource = a\nrun = /bin/a\ncompile = /bin/cc {files}\n"
                 "compile_time_ms = 20000\ncompile_memory_mb = 2048\ncompile_max_processes = 9\n"
                 "compile_max_file_kb = 0\nmin_processes = 40\nmin_memory_mb = 64\n");
    const struct lang *l = lang_at(reg, 0);
    assert_int_equal(l->compile_limits.time_ms, 20000);
    assert_int_equal(l->compile_limits.memory_mb, 2048);
    assert_int_equal(l->compile_limits.max_processes, 9);
    assert_int_equal(l->compile_limits.max_file_kb, 0);
    assert_int_equal(l->min_processes, 40);
    assert_int_equal(l->min_memory_mb, 64);
    assert_true(lang_compiled(l));
    lang_registry_free(reg);
}

/* judge0_ids: the repository's ids, lookups, and every refusal. */
static void test_judge0_ids(void **state)
{
    (void)state;
    struct lang_registry *reg = load_repo();
    static const struct {
        unsigned id;
        const char *name;
    } want[] = {{46, "bash"}, {48, "c"},     {49, "c"},          {50, "c"},    {52, "cpp"},
                {53, "cpp"},  {54, "cpp"},   {60, "go"},         {62, "java"}, {63, "javascript"},
                {64, "lua"},  {68, "php"},   {71, "python"},     {72, "ruby"}, {73, "rust"},
                {85, "perl"}};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(want); i++) {
        const struct lang *l = lang_find_judge0(reg, want[i].id);
        assert_non_null(l);
        assert_string_equal(l->name, want[i].name);
    }
    assert_null(lang_find_judge0(reg, 70)); /* Python 2: moat has none */
    assert_null(lang_find_judge0(reg, 0));
    assert_null(lang_find_judge0(reg, 89));
    lang_registry_free(reg);

    reg = parse_ok("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 7 , 999,1\n");
    const struct lang *l = lang_at(reg, 0);
    assert_int_equal(l->njudge0_ids, 3);
    assert_int_equal(l->judge0_ids[0], 7);
    assert_int_equal(l->judge0_ids[1], 999);
    assert_int_equal(l->judge0_ids[2], 1);
    assert_ptr_equal(lang_find_judge0(reg, 999), l);
    lang_registry_free(reg);

    expect_error("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 0\n", -EINVAL,
                 "line 4: 'judge0_ids' items must be numbers from 1 to 999");
    expect_error("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 1000\n", -EINVAL,
                 "items must be numbers");
    expect_error("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 4a\n", -EINVAL,
                 "items must be numbers");
    expect_error("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 4,,5\n", -EINVAL,
                 "bad item in 'judge0_ids'");
    expect_error("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 4, 4\n", -EINVAL,
                 "judge0 id 4 listed twice");
    expect_error("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 1,2,3,4,5,6,7,8,9\n", -EINVAL,
                 "more than 8 items in 'judge0_ids'");
    expect_error("[x]\nsource = m\nrun = /bin/x\njudge0_ids = 4\n"
                 "[y]\nsource = m\nrun = /bin/y\njudge0_ids = 5, 4\n",
                 -EINVAL, "line 8: judge0 id 4 is also one of [x]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repo_has_every_language),
        cmocka_unit_test(test_repo_aliases_and_extensions),
        cmocka_unit_test(test_repo_details),
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_continuation_lines),
        cmocka_unit_test(test_unknown_key_names_line),
        cmocka_unit_test(test_missing_run_and_source),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_templates_checked_at_load),
        cmocka_unit_test(test_overlong_values),
        cmocka_unit_test(test_nul_and_size),
        cmocka_unit_test(test_limits_parsed),
        cmocka_unit_test(test_judge0_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
