/* Source policies: the check and checker keys of languages.ini, the policy
 * file (which language, which rules, refused values), the built-in
 * checkers and the stdin format the checkers read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "moat/lang.h"
#include "moat/util.h"

static const char langs[] = "[python]\n"
                            "source = main.py\n"
                            "run = /usr/bin/python3 {main}\n"
                            "check = /usr/bin/python3 -I -S .moat-check .moat-rules\n"
                            "checker = python\n"
                            "[c]\n"
                            "source = main.c\n"
                            "compile = /usr/bin/gcc -o main {files}\n"
                            "run = ./main\n"
                            "check = /usr/bin/python3 -I -S .moat-check .moat-rules c\n"
                            "checker = c\n"
                            "[bash]\n"
                            "source = main.sh\n"
                            "run = /bin/bash {main}\n";

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

static void expect_parse_error(const char *text, const char *want)
{
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    assert_int_equal(lang_registry_parse(text, strlen(text), &reg, &err), -EINVAL);
    assert_null(reg);
    if (!strstr(err.msg, want))
        print_error("got '%s', want '%s'\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
}

static void test_check_keys(void **state)
{
    (void)state;
    struct lang_registry *reg = parse_ok(langs);
    const struct lang *py = lang_find(reg, "python");
    assert_string_equal(py->checker, "python");
    assert_string_equal(py->check, "/usr/bin/python3 -I -S .moat-check .moat-rules");
    assert_string_equal(py->policy, ""); /* no policy file yet: no check */
    lang_registry_free(reg);
    expect_parse_error("[x]\nsource = m\nrun = /bin/x\ncheck = /bin/x\n",
                       "needs both check and checker");
    expect_parse_error("[x]\nsource = m\nrun = /bin/x\nchecker = python\n",
                       "needs both check and checker");
    expect_parse_error("[x]\nsource = m\nrun = /bin/x\ncheck = /bin/x\nchecker = perl\n",
                       "no checker named perl");
    expect_parse_error("[x]\nsource = m\nrun = /bin/x\ncheck = x\nchecker = c\n",
                       "must start with an absolute path");
}

/* Writes text to a temporary file; its path in path. */
static void policy_file(const char *text, char *path, size_t size)
{
    (void)moat_strlcpy(path, "/tmp/moat-policy-XXXXXX", size);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, text, strlen(text)), 0);
    assert_int_equal(close(fd), 0);
}

static int load(struct lang_registry *reg, const char *text, struct moat_err *err)
{
    char path[64];
    policy_file(text, path, sizeof(path));
    int r = lang_registry_load_policy(reg, path, err);
    (void)unlink(path);
    return r;
}

static void test_policy_file(void **state)
{
    (void)state;
    struct lang_registry *reg = parse_ok(langs);
    struct moat_err err = {0};
    assert_int_equal(load(reg,
                          "[python]\nforbid_imports = os, subprocess\nforbid_calls = eval\n"
                          "[c]\nforbid_includes = sys/socket.h\n",
                          &err),
                     0);
    assert_string_equal(lang_find(reg, "python")->policy,
                        "forbid_imports=os, subprocess\nforbid_calls=eval\n");
    assert_string_equal(lang_find(reg, "c")->policy, "forbid_includes=sys/socket.h\n");
    assert_string_equal(lang_find(reg, "bash")->policy, "");
    lang_registry_free(reg);

    static const struct {
        const char *text, *want, *field;
    } bad[] = {
        {"[cobol]\nforbid_imports = os\n", "line 2: [cobol] forbid_imports: no such language",
         "forbid_imports"},
        {"[bash]\nforbid_calls = rm\n", "the language has no policy check", "forbid_calls"},
        {"[python]\nforbid_includes = x.h\n", "not a rule of this language's checker",
         "forbid_includes"},
        {"[c]\nforbid_includes = sys/socket.h;rm\n", "names separated by commas",
         "forbid_includes"},
        {"[c]\nforbid_includes = , ,\n", "names separated by commas", "forbid_includes"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        reg = parse_ok(langs);
        err = (struct moat_err){0};
        assert_int_equal(load(reg, bad[i].text, &err), -EINVAL);
        if (!strstr(err.msg, bad[i].want))
            print_error("case %zu: '%s'\n", i, err.msg);
        assert_non_null(strstr(err.msg, bad[i].want));
        assert_string_equal(err.field, bad[i].field);
        lang_registry_free(reg);
    }
    reg = parse_ok(langs);
    assert_int_equal(lang_registry_load_policy(reg, "/nonexistent/policy.ini", &err), -ENOENT);
    assert_int_equal(load(reg, "not ini\n", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "line 1"));
    lang_registry_free(reg);
}

static void test_checkers_and_stdin(void **state)
{
    (void)state;
    size_t len = 0;
    const char *py = lang_checker_source("python", &len);
    assert_non_null(py);
    assert_int_equal(strlen(py), len);
    assert_non_null(strstr(py, "import ast"));
    assert_non_null(lang_checker_source("c", NULL));
    assert_null(lang_checker_source("ruby", NULL));

    const char *names[] = {"main.py", "lib/h.py"};
    const char *data[] = {"import os\n", "x\n\0y"};
    const size_t lens[] = {10, 4};
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(lang_policy_stdin(names, data, lens, 2, &out, &n), 0);
    static const char want[] = "main.py\n10\nimport os\nlib/h.py\n4\nx\n\0y";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_policy_file),
        cmocka_unit_test(test_checkers_and_stdin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
