/* Command templates into argv, and entry file names (the Java class rule). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <limits.h>

#include "moat/lang.h"
#include "moat/util.h"

static struct lang_registry *load_repo(void)
{
    char path[PATH_MAX];
    const char *data = getenv("MOAT_TEST_DATA");
    assert_non_null(data);
    (void)snprintf(path, sizeof(path), "%s/../../../languages.ini", data);
    struct lang_registry *reg = NULL;
    assert_int_equal(lang_registry_load(path, &reg, NULL), 0);
    return reg;
}

/* Expands and compares with the words of want (NULL-terminated). */
static void expect_argv(const char *tmpl, const struct lang_vars *v, const char *const *want)
{
    char **argv = NULL, *storage = NULL;
    struct moat_err err = {0};
    int n = lang_expand(tmpl, v, &argv, &storage, &err);
    if (n < 0)
        print_error("expand '%s': %s\n", tmpl, err.msg);
    assert_true(n >= 0);
    int i = 0;
    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_int_equal(n, i);
    assert_null(argv[i]);
    free(storage);
}

static void expect_fail(const char *tmpl, const struct lang_vars *v, int code, const char *msg)
{
    char **argv = (char **)(uintptr_t)1, *storage = (char *)(uintptr_t)1;
    struct moat_err err = {0};
    int r = lang_expand(tmpl, v, &argv, &storage, &err);
    if (r != code || !strstr(err.msg, msg))
        print_error("'%s': got %d '%s'\n", tmpl, r, err.msg);
    assert_int_equal(r, code);
    assert_non_null(strstr(err.msg, msg));
    /* outputs untouched on failure */
    assert_ptr_equal(argv, (char **)(uintptr_t)1);
    assert_ptr_equal(storage, (char *)(uintptr_t)1);
}

static void test_expand_words_and_placeholders(void **state)
{
    (void)state;
    const char *files[] = {"a.c", "b.c", "sub/c.c"};
    struct lang_vars v = {
        .main = "a.c", .files = files, .nfiles = 3, .class_name = "Main", .memory_mb = 256};
    expect_argv("  /usr/bin/gcc\t-O2 -o main {files} -lm \n", &v,
                (const char *[]){"/usr/bin/gcc", "-O2", "-o", "main", "a.c", "b.c", "sub/c.c",
                                 "-lm", NULL});
    expect_argv("/j -XX:MaxRAM={memory_mb}m -cp . {class} x{main}y{main}", &v,
                (const char *[]){"/j", "-XX:MaxRAM=256m", "-cp", ".", "Main", "xa.cya.c", NULL});
    /* {cache} is the box's unless the caller names another */
    expect_argv("/g -I{cache}/pch", &v, (const char *[]){"/g", "-I/moat/cache/pch", NULL});
    v.cache = "/var/cache/moat";
    expect_argv("/g -I{cache}/pch", &v, (const char *[]){"/g", "-I/var/cache/moat/pch", NULL});
    /* {files} with no files is no word at all */
    v.nfiles = 0;
    expect_argv("/cc {files} -o x", &v, (const char *[]){"/cc", "-o", "x", NULL});
    /* values with spaces stay one word: no shell, no splitting */
    v.main = "a b;rm -rf /";
    expect_argv("/py {main}", &v, (const char *[]){"/py", "a b;rm -rf /", NULL});
    /* braces that are not placeholders: a lone closing one is literal */
    expect_argv("/x }a", &v, (const char *[]){"/x", "}a", NULL});
}

static void test_expand_errors(void **state)
{
    (void)state;
    const char *files[] = {"a.c", "-fplugin=evil.so"};
    struct lang_vars v = {.main = "a.c", .files = files, .nfiles = 1, .memory_mb = 1};
    expect_fail("", &v, -EINVAL, "empty command");
    expect_fail(" \t\n", &v, -EINVAL, "empty command");
    expect_fail("/x {nope}", &v, -EINVAL, "unknown placeholder '{nope}'");
    expect_fail("/x {main", &v, -EINVAL, "unknown placeholder");
    expect_fail("/x -o{files}", &v, -EINVAL, "{files} must be a word of its own");
    expect_fail("/x {class}", &v, -EINVAL, "placeholder {class} has no value");
    expect_fail("/x {output}", &v, -EINVAL, "placeholder {output} has no value");
    v.nfiles = 2;
    expect_fail("/x {files}", &v, -EINVAL, "value of {files} starts with '-'");
    v.main = "-rf";
    expect_fail("/x {main}", &v, -EINVAL, "value of {main} starts with '-'");
    v.main = "";
    expect_fail("/x {main}", &v, -EINVAL, "placeholder {main} has no value");
}

static void test_expand_argv_limits(void **state)
{
    (void)state;
    char tmpl[512] = "/x";
    for (int i = 1; i < LANG_MAX_ARGV; i++)
        moat_strlcpy(tmpl + strlen(tmpl), " w", sizeof(tmpl) - strlen(tmpl));
    char **argv = NULL, *storage = NULL;
    struct lang_vars v = {0};
    assert_int_equal(lang_expand(tmpl, &v, &argv, &storage, NULL), LANG_MAX_ARGV);
    assert_null(argv[LANG_MAX_ARGV]);
    free(storage);
    moat_strlcpy(tmpl + strlen(tmpl), " w", sizeof(tmpl) - strlen(tmpl));
    expect_fail(tmpl, &v, -E2BIG, "more than 64 words");

    /* {files} counts each file */
    const char *files[LANG_MAX_ARGV];
    for (size_t i = 0; i < LANG_MAX_ARGV; i++)
        files[i] = "f.c";
    v = (struct lang_vars){.files = files, .nfiles = LANG_MAX_ARGV - 2};
    assert_int_equal(lang_expand("/cc {files} -o", &v, &argv, &storage, NULL), LANG_MAX_ARGV);
    free(storage);
    v.nfiles = LANG_MAX_ARGV - 1;
    expect_fail("/cc {files} -o", &v, -E2BIG, "more than 64 words");

    /* total bytes */
    char *big = malloc(LANG_MAX_ARGV_BYTES);
    assert_non_null(big);
    memset(big, 'a', LANG_MAX_ARGV_BYTES - 1);
    big[LANG_MAX_ARGV_BYTES - 1] = '\0';
    v = (struct lang_vars){.main = big};
    expect_fail("/x {main}", &v, -E2BIG, "command longer than");
    free(big);
}

static void test_repo_templates_expand(void **state)
{
    (void)state;
    struct lang_registry *reg = load_repo();
    const char *files[] = {"main.x", "b.x", "c.x"};
    struct lang_vars v = {.main = "main.x",
                          .files = files,
                          .nfiles = 3,
                          .class_name = "Main",
                          .memory_mb = 128,
                          .output = "/tmp/out"};
    for (size_t i = 0; i < lang_count(reg); i++) {
        const struct lang *l = lang_at(reg, i);
        const char *tmpls[] = {l->compile, l->run, l->version_cmd, l->prepare};
        for (size_t t = 0; t < MOAT_ARRAY_SIZE(tmpls); t++) {
            if (!*tmpls[t])
                continue;
            char **argv = NULL, *storage = NULL;
            struct moat_err err = {0};
            int n = lang_expand(tmpls[t], &v, &argv, &storage, &err);
            if (n <= 0)
                print_error("%s: %s\n", l->name, err.msg);
            assert_true(n > 0);
            for (int k = 0; k < n; k++)
                assert_null(strchr(argv[k], '{'));
            free(storage);
        }
    }
    const struct lang *java = lang_find(reg, "java");
    char **argv = NULL, *storage = NULL;
    int n = lang_expand(java->run, &v, &argv, &storage, NULL);
    assert_true(n > 2);
    assert_string_equal(argv[n - 1], "Main");
    bool maxram = false;
    for (int k = 0; k < n; k++)
        maxram |= strcmp(argv[k], "-XX:MaxRAM=128m") == 0;
    assert_true(maxram);
    free(storage);
    const struct lang *c = lang_find(reg, "c");
    n = lang_expand(c->compile, &v, &argv, &storage, NULL);
    int seen = 0;
    for (int k = 0; k < n; k++)
        seen += strcmp(argv[k], "main.x") == 0 || strcmp(argv[k], "b.x") == 0 ||
                strcmp(argv[k], "c.x") == 0;
    assert_int_equal(seen, 3);
    free(storage);
    lang_registry_free(reg);
}

static const struct lang *java_of(struct lang_registry *reg)
{
    const struct lang *l = lang_find(reg, "java");
    assert_non_null(l);
    return l;
}

static void expect_entry(const struct lang *l, const char *code, const char *want)
{
    char out[64];
    struct moat_err err = {0};
    int r = lang_entry_name(l, code, strlen(code), out, sizeof(out), &err);
    if (r < 0 || strcmp(out, want) != 0)
        print_error("code <<%s>>: %d %s '%s'\n", code, r, err.msg, r < 0 ? "" : out);
    assert_int_equal(r, 0);
    assert_string_equal(out, want);
}

static void test_java_class_rule(void **state)
{
    (void)state;
    struct lang_registry *reg = load_repo();
    const struct lang *j = java_of(reg);
    expect_entry(j, "public class Main { public static void main(String[] a) {} }", "Main.java");
    expect_entry(j, "import java.util.*;\nclass Helper {}\npublic final class Solution {}\n",
                 "Solution.java");
    expect_entry(j, "public class Box<T extends Comparable<T>> implements Runnable {}", "Box.java");
    expect_entry(j, "// public class Fake {}\n/* public class Fake2 { */\npublic class Real {}",
                 "Real.java");
    expect_entry(j,
                 "class A { String s = \"public class InString {\"; char c = '{'; }\n"
                 "public class B {}",
                 "B.java");
    expect_entry(j,
                 "class A { String t = \"\"\"\n public class InBlock { \"\"\"; }\n"
                 "public class C {}",
                 "C.java");
    /* nested public classes do not name the file */
    expect_entry(j, "class Outer { public class Inner {} public static class S {} }", "Outer.java");
    /* no public class: the first top-level class; none at all: Main */
    expect_entry(j, "class First {} class Second {}", "First.java");
    expect_entry(j, "int x;", "Main.java");
    expect_entry(j, "", "Main.java");
    expect_entry(j, "@SuppressWarnings(\"unchecked\") public class Ann {}", "Ann.java");
    expect_entry(j, "@A(X.class) public class P {}", "P.java");
    expect_entry(j, "package p.record;\nimport static x.Y.*;\npublic record Point(int x) {}",
                 "Point.java");
    expect_entry(j, "public enum Color { RED }", "Color.java");
    expect_entry(j, "/* unterminated comment public class X {}", "Main.java");
    expect_entry(j, "\"unterminated\npublic class Y {}", "Y.java");

    char out[64];
    struct moat_err err = {0};
    const char *dollar = "public class A$B {}";
    assert_int_equal(lang_entry_name(j, dollar, strlen(dollar), out, sizeof(out), &err), -EINVAL);
    char longname[200] = "public class ";
    memset(longname + strlen(longname), 'L', 100);
    assert_int_equal(lang_entry_name(j, longname, strlen(longname), out, sizeof(out), &err),
                     -ENAMETOOLONG);
    /* the code is a byte range, not a C string */
    static const char nonul[] = {'c', 'l', 'a', 's', 's', ' ', 'Q', 'q'};
    assert_int_equal(lang_entry_name(j, nonul, 7, out, sizeof(out), &err), 0);
    assert_string_equal(out, "Q.java");

    const struct lang *py = lang_find(reg, "python");
    expect_entry(py, "public class Nope {}", "main.py");
    assert_int_equal(lang_entry_name(py, "", 0, out, 5, &err), -ENAMETOOLONG);
    lang_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_words_and_placeholders),
        cmocka_unit_test(test_expand_errors),
        cmocka_unit_test(test_expand_argv_limits),
        cmocka_unit_test(test_repo_templates_expand),
        cmocka_unit_test(test_java_class_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
