/* docs/configuration.md and moat.ini.example are generated from the settings
 * table; this keeps the checked-in files equal to what the code prints.
 * After changing the table, MOAT_UPDATE_DOCS=1 ./unit_config_doc rewrites them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>

#include "moat/config.h"
#include "moat/util.h"

static char *capture(void (*print)(FILE *), size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    assert_non_null(f);
    print(f);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* MOAT_TEST_DATA is tests/unit/config; the repository is three levels up. */
static void repo_path(const char *rel, char *out, size_t outsz)
{
    const char *data = getenv("MOAT_TEST_DATA");
    if (!data)
        fail_msg("MOAT_TEST_DATA is not set (run through ctest)");
    int n = snprintf(out, outsz, "%s/../../../%s", data, rel);
    assert_true(n > 0 && (size_t)n < outsz);
}

static char *slurp(const char *path, size_t *len)
{
    struct buf b;
    char chunk[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("%s: %s", path, strerror(errno));
    buf_init(&b, 4 * 1024 * 1024);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_int_equal(buf_append(&b, chunk, (size_t)n), 0);
    }
    (void)close(fd);
    return buf_steal(&b, len);
}

static void update(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, text, len), 0);
    assert_int_equal(close(fd), 0);
}

/* rel must hold want (len bytes); MOAT_UPDATE_DOCS=1 writes it first.
 * Frees want. */
static void check_text(const char *rel, char *want, size_t want_len)
{
    char path[PATH_MAX];
    size_t have_len;
    repo_path(rel, path, sizeof(path));
    const char *upd = getenv("MOAT_UPDATE_DOCS");
    if (upd && strcmp(upd, "1") == 0)
        update(path, want, want_len);
    char *have = slurp(path, &have_len);
    if (have_len != want_len || memcmp(have, want, want_len) != 0) {
        size_t i = 0;
        while (i < have_len && i < want_len && have[i] == want[i])
            i++;
        fail_msg("%s is out of date at byte %zu; regenerate it with MOAT_UPDATE_DOCS=1 "
                 "unit_config_doc",
                 rel, i);
    }
    free(have);
    free(want);
}

static void check_file(const char *rel, void (*print)(FILE *))
{
    size_t len;
    char *want = capture(print, &len);
    check_text(rel, want, len);
}

/* docs/man/: every page config_print_man makes, and only those (moat.1 is
 * written by hand). */
static void test_man_pages_up_to_date(void **state)
{
    (void)state;
    size_t n = 0;
    for (const char *page; (page = config_man_page(n)) != NULL; n++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        assert_int_equal(config_print_man(f, page), 0);
        assert_int_equal(fclose(f), 0);
        assert_non_null(strstr(text, ".TH "));
        char rel[128];
        (void)snprintf(rel, sizeof(rel), "docs/man/%s", page);
        check_text(rel, text, len);
    }
    assert_int_equal(n, 4);
    FILE *f = fopen("/dev/null", "w");
    assert_non_null(f);
    assert_int_equal(config_print_man(f, "moat.1"), -ENOENT);
    (void)fclose(f);
}

static void test_markdown_up_to_date(void **state)
{
    (void)state;
    check_file("docs/configuration.md", config_print_markdown);
}

static void test_ini_example_up_to_date(void **state)
{
    (void)state;
    check_file("moat.ini.example", config_print_ini_example);
}

/* The example parses, as it is and with every key uncommented, to the
 * defaults: what it says the defaults are is true. */
static void test_ini_example_is_the_defaults(void **state)
{
    (void)state;
    size_t len;
    char *text = capture(config_print_ini_example, &len);
    struct moat_config defaults, c;
    struct moat_err err = {0};
    config_defaults(&defaults);

    config_defaults(&c);
    assert_int_equal(config_apply_ini(&c, text, "moat.ini.example", &err), 0);
    assert_memory_equal(&c, &defaults, sizeof(c));

    /* ";key = value" lines lose their ';'; comment lines start with "; " */
    struct buf b;
    buf_init(&b, len + 1);
    size_t keys = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (line[0] == ';' && line[1] != ' ' && line[1] != '\n') {
            line++;
            n--;
            keys++;
        }
        assert_int_equal(buf_append(&b, line, n), 0);
        line += n;
    }
    assert_int_equal(buf_terminate(&b), 0);

    /* every key of the table is in the example */
    config_defaults(&c);
    if (config_apply_ini(&c, b.data, "uncommented", &err) != 0)
        fail_msg("%s", err.msg);
    assert_memory_equal(&c, &defaults, sizeof(c));
    assert_true(keys > 40);
    for (size_t i = 0; i < 2; i++) {
        /* a key given twice proves each line was really parsed */
        char *twice = NULL;
        size_t tlen = 0;
        FILE *f = open_memstream(&twice, &tlen);
        assert_non_null(f);
        (void)fprintf(f, "%s%s", b.data, i ? "[log]\nlevel = info\n" : "[limits]\ntime_ms = 5\n");
        assert_int_equal(fclose(f), 0);
        config_defaults(&c);
        assert_int_equal(config_apply_ini(&c, twice, "twice", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "given twice"));
        free(twice);
    }
    buf_release(&b);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_up_to_date),
        cmocka_unit_test(test_ini_example_up_to_date),
        cmocka_unit_test(test_man_pages_up_to_date),
        cmocka_unit_test(test_ini_example_is_the_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
