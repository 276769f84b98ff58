/* Host commands: the version probe and its cache, availability, the
 * prepare step (once, atomically, under a lock), the command runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "lang-internal.h"
#include "moat/lang.h"
#include "moat/util.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    moat_strlcpy(f->dir, "/tmp/moat-lang-test-XXXXXX", sizeof(f->dir));
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {(char *)"/usr/bin/rm", (char *)"-rf", f->dir, NULL};
    char out[64];
    size_t len = 0;
    (void)lang_host_run(argv, 10000, out, sizeof(out), &len, NULL);
    free(f);
    return 0;
}

/* dir/rel into out; a test path never needs truncating */
static void join(char *out, size_t outsz, const char *dir, const char *rel)
{
    int n = snprintf(out, outsz, "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < outsz);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, text, strlen(text)), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static size_t count_lines(const char *path)
{
    char buf[4096];
    ssize_t n = read_small_file_at(AT_FDCWD, path, buf, sizeof(buf));
    if (n < 0)
        return 0;
    size_t lines = 0;
    for (ssize_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    return lines;
}

/* A registry of one language "fake" with the given extra keys. */
static struct lang_registry *fake_lang(const char *keys)
{
    char text[2048];
    (void)snprintf(text, sizeof(text), "[fake]\nsource = main.f\nrun = /usr/bin/true {main}\n%s",
                   keys);
    struct lang_registry *reg = NULL;
    struct moat_err err = {0};
    int r = lang_registry_parse(text, strlen(text), &reg, &err);
    if (r < 0)
        print_error("parse: %s\n", err.msg);
    assert_int_equal(r, 0);
    return reg;
}

/* A probe script that counts its runs and prints `version` on stderr. */
static void write_probe(const struct fixture *f, const char *path, const char *version)
{
    char script[512];
    (void)snprintf(script, sizeof(script),
                   "#!/bin/sh\necho run >> %s/count\necho 'no number here, v2 x86_64'\n"
                   "echo 'Fake %s (built 2024-01-02)' >&2\necho 'later 9.9.9'\n",
                   f->dir, version);
    write_file(path, script, 0755);
}

static void test_version_probe_and_cache(void **state)
{
    struct fixture *f = *state;
    char probe[PATH_MAX], count[PATH_MAX], cache[PATH_MAX], keys[PATH_MAX + 32];
    join(probe, sizeof(probe), f->dir, "probe.sh");
    join(count, sizeof(count), f->dir, "count");
    join(cache, sizeof(cache), f->dir, "cache");
    write_probe(f, probe, "1.2.3");
    (void)snprintf(keys, sizeof(keys), "version = %s --version\n", probe);
    struct lang_registry *reg = fake_lang(keys);
    const struct lang *l = lang_at(reg, 0);

    char v[32] = "junk";
    assert_int_equal(lang_version(l, cache, v, sizeof(v)), 0);
    assert_string_equal(v, "1.2.3"); /* stderr, first line with a dotted number */
    assert_int_equal(count_lines(count), 1);
    assert_int_equal(lang_version(l, cache, v, sizeof(v)), 0);
    assert_string_equal(v, "1.2.3");
    assert_int_equal(count_lines(count), 1); /* from the cache */

    char cached[PATH_MAX], buf[512];
    join(cached, sizeof(cached), cache, "versions/fake");
    assert_true(read_small_file_at(AT_FDCWD, cached, buf, sizeof(buf)) > 0);
    assert_true(str_has_prefix(buf, probe));
    assert_true(str_has_suffix(buf, "\n1.2.3\n"));

    /* a new binary: the key line changes and the probe runs again */
    write_probe(f, probe, "1.2.40");
    struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    assert_int_equal(utimensat(AT_FDCWD, probe, times, 0), 0);
    assert_int_equal(lang_version(l, cache, v, sizeof(v)), 0);
    assert_string_equal(v, "1.2.40");
    assert_int_equal(count_lines(count), 2);
    assert_int_equal(lang_version(l, cache, v, sizeof(v)), 0);
    assert_int_equal(count_lines(count), 2);
    /* same size, other mtime */
    times[0].tv_sec = times[1].tv_sec = 1100000000;
    assert_int_equal(utimensat(AT_FDCWD, probe, times, 0), 0);
    assert_int_equal(lang_version(l, cache, v, sizeof(v)), 0);
    assert_int_equal(count_lines(count), 3);

    /* a tampered cache entry is not believed */
    write_file(cached, "garbage\n", 0644);
    assert_int_equal(lang_version(l, cache, v, sizeof(v)), 0);
    assert_string_equal(v, "1.2.40");
    assert_int_equal(count_lines(count), 4);

    /* too small an output buffer */
    assert_int_equal(lang_version(l, NULL, v, 4), -ENAMETOOLONG);
    assert_string_equal(v, "");
    lang_registry_free(reg);
}

static void test_version_unwritable_cache(void **state)
{
    struct fixture *f = *state;
    char probe[PATH_MAX], count[PATH_MAX], cache[PATH_MAX], keys[PATH_MAX + 32];
    join(probe, sizeof(probe), f->dir, "probe.sh");
    join(count, sizeof(count), f->dir, "count");
    join(cache, sizeof(cache), f->dir, "afile/cache");
    write_probe(f, probe, "7.0");
    write_file(count, "", 0644);
    char afile[PATH_MAX];
    join(afile, sizeof(afile), f->dir, "afile");
    write_file(afile, "not a dir", 0644); /* the cache dir cannot be made, even as root */
    (void)snprintf(keys, sizeof(keys), "version = %s\n", probe);
    struct lang_registry *reg = fake_lang(keys);
    char v[32];
    for (size_t i = 1; i <= 3; i++) {
        assert_int_equal(lang_version(lang_at(reg, 0), cache, v, sizeof(v)), 0);
        assert_string_equal(v, "7.0");
        assert_int_equal(count_lines(count), i); /* probed every time */
    }
    assert_int_equal(lang_version(lang_at(reg, 0), NULL, v, sizeof(v)), 0);
    assert_int_equal(count_lines(count), 4);
    lang_registry_free(reg);
}

static void test_version_echo_and_failures(void **state)
{
    (void)state;
    char v[32];
    struct lang_registry *reg = fake_lang("version = /bin/echo node v20.20.2\n");
    assert_int_equal(lang_version(lang_at(reg, 0), NULL, v, sizeof(v)), 0);
    assert_string_equal(v, "20.20.2");
    lang_registry_free(reg);

    reg = fake_lang("version = /bin/echo no version, 2025-04-15 x86_64\n");
    assert_int_equal(lang_version(lang_at(reg, 0), NULL, v, sizeof(v)), -ENODATA);
    assert_string_equal(v, "");
    lang_registry_free(reg);

    reg = fake_lang("version = /nonexistent/bin/x --version\n");
    assert_int_equal(lang_version(lang_at(reg, 0), NULL, v, sizeof(v)), -ENOENT);
    lang_registry_free(reg);

    reg = fake_lang("version = /usr/bin/false 1.2\n");
    assert_int_equal(lang_version(lang_at(reg, 0), NULL, v, sizeof(v)), -EIO);
    lang_registry_free(reg);

    reg = fake_lang("");
    assert_int_equal(lang_version(lang_at(reg, 0), NULL, v, sizeof(v)), -ENODATA);
    lang_registry_free(reg);
}

static void test_available(void **state)
{
    (void)state;
    struct lang_registry *reg = fake_lang("");
    assert_true(lang_available(lang_at(reg, 0)));
    lang_registry_free(reg);
    reg = fake_lang("compile = /usr/bin/true {files}\n");
    assert_true(lang_available(lang_at(reg, 0)));
    lang_registry_free(reg);
    reg = fake_lang("compile = /nonexistent/cc {files}\n");
    assert_false(lang_available(lang_at(reg, 0)));
    lang_registry_free(reg);
    const char text[] = "[a]\nsource = a\nrun = /nonexistent/a\n[b]\nsource = b\nrun = ./main\n"
                        "compile = /usr/bin/true\n[d]\nsource = d\nrun = /usr/bin\n";
    assert_int_equal(lang_registry_parse(text, strlen(text), &reg, NULL), 0);
    assert_false(lang_available(lang_find(reg, "a")));
    assert_true(lang_available(lang_find(reg, "b")));
    assert_false(lang_available(lang_find(reg, "d"))); /* a directory is not a program */
    lang_registry_free(reg);
}

/* After the probe, availability is the probe's answer: a submission asks
 * it without a stat and an access of the interpreter each time. */
static void test_available_from_probe(void **state)
{
    struct fixture *f = *state;
    char prog[128], keys[512];
    join(prog, sizeof(prog), f->dir, "interp");
    write_file(prog, "#!/bin/sh\nexit 0\n", 0755);
    const char *cache = f->dir;
    int n = snprintf(
        keys, sizeof(keys),
        "[here]\nsource = h\nrun = %s {main}\n[gone]\nsource = g\nrun = %s/missing {main}\n", prog,
        f->dir);
    assert_true(n > 0 && (size_t)n < sizeof(keys));
    struct lang_registry *reg = NULL;
    assert_int_equal(lang_registry_parse(keys, strlen(keys), &reg, NULL), 0);
    struct lang *here = (struct lang *)lang_find(reg, "here");
    const struct lang *gone = lang_find(reg, "gone");
    lang_registry_probe(reg, cache);
    assert_true(here->available);
    assert_true(lang_available(here));
    assert_false(lang_available(gone));
    /* removed after the probe: still the probe's answer, no file system look-up */
    assert_int_equal(unlink(prog), 0);
    assert_true(lang_available(here));
    /* not probed: looked up now */
    here->version_probed = false;
    assert_false(lang_available(here));
    lang_registry_free(reg);
}

static void test_prepare_once(void **state)
{
    struct fixture *f = *state;
    char src[PATH_MAX], cache[PATH_MAX], keys[PATH_MAX * 2], final[PATH_MAX];
    join(src, sizeof(src), f->dir, "artifact.src");
    join(cache, sizeof(cache), f->dir, "cache");
    join(final, sizeof(final), cache, "sub/dir/art.bin");
    write_file(src, "precompiled\n", 0600);
    (void)snprintf(keys, sizeof(keys),
                   "prepare = /usr/bin/cp %s {output}\nprepare_output = sub/dir/art.bin\n", src);
    struct lang_registry *reg = fake_lang(keys);
    const struct lang *l = lang_at(reg, 0);

    mode_t old = umask(077); /* boxes read the cache as another uid */
    struct moat_err err = {0};
    int r = lang_prepare(l, cache, &err);
    (void)umask(old);
    if (r < 0)
        print_error("prepare: %s\n", err.msg);
    assert_int_equal(r, 1);
    char buf[64];
    assert_int_equal(read_small_file_at(AT_FDCWD, final, buf, sizeof(buf)), 12);
    assert_string_equal(buf, "precompiled\n");
    struct stat st;
    assert_int_equal(stat(final, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    char dir[PATH_MAX];
    join(dir, sizeof(dir), cache, "sub");
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(stat(cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);

    /* the source is gone: a second run of cp would fail, so 0 proves it did not run */
    assert_int_equal(unlink(src), 0);
    assert_int_equal(lang_prepare(l, cache, &err), 0);
    /* nothing but the artifact and its lock next to it */
    char tmp[PATH_MAX];
    char tail[64];
    (void)snprintf(tail, sizeof(tail), "sub/dir/art.bin.tmp.%ld", (long)getpid());
    join(tmp, sizeof(tmp), cache, tail);
    assert_int_equal(access(tmp, F_OK), -1);
    join(tmp, sizeof(tmp), cache, "sub/dir/art.bin.lock");
    assert_int_equal(access(tmp, F_OK), 0);

    /* once gone, it is made again; now cp fails and nothing appears */
    assert_int_equal(unlink(final), 0);
    r = lang_prepare(l, cache, &err);
    assert_int_equal(r, -EIO);
    assert_non_null(strstr(err.msg, "prepare of fake failed"));
    assert_non_null(strstr(err.msg, "No such file")); /* cp's own message */
    assert_int_equal(access(final, F_OK), -1);
    lang_registry_free(reg);

    /* no prepare: nothing to do */
    reg = fake_lang("");
    assert_int_equal(lang_prepare(lang_at(reg, 0), cache, &err), 0);
    lang_registry_free(reg);
}

static void test_prepare_must_write_output(void **state)
{
    struct fixture *f = *state;
    char cache[PATH_MAX];
    join(cache, sizeof(cache), f->dir, "cache");
    struct lang_registry *reg =
        fake_lang("prepare = /usr/bin/true {output}\nprepare_output = x.bin\n");
    /* what a killed earlier run left is swept before the next attempt */
    char stale[PATH_MAX];
    assert_int_equal(mkdir(cache, 0755), 0);
    join(stale, sizeof(stale), cache, "x.bin.tmp.999999");
    write_file(stale, "half", 0644);
    struct moat_err err = {0};
    assert_int_equal(lang_prepare(lang_at(reg, 0), cache, &err), -EIO);
    assert_non_null(strstr(err.msg, "did not write"));
    assert_int_equal(access(stale, F_OK), -1);
    char final[PATH_MAX];
    join(final, sizeof(final), cache, "x.bin");
    assert_int_equal(access(final, F_OK), -1);
    assert_int_equal(lang_prepare(lang_at(reg, 0), NULL, &err), -EINVAL);
    lang_registry_free(reg);
}

static void test_prepare_concurrent(void **state)
{
    struct fixture *f = *state;
    char script[PATH_MAX], cache[PATH_MAX], count[PATH_MAX], keys[PATH_MAX * 2],
        text[PATH_MAX + 128];
    join(script, sizeof(script), f->dir, "prep.sh");
    join(cache, sizeof(cache), f->dir, "cache");
    join(count, sizeof(count), f->dir, "count");
    /* slow enough that the others arrive while it runs */
    (void)snprintf(text, sizeof(text),
                   "#!/bin/sh\necho run >> %s\n/usr/bin/sleep 0.3\necho done > \"$1\"\n", count);
    write_file(script, text, 0755);
    (void)snprintf(keys, sizeof(keys), "prepare = %s {output}\nprepare_output = p/out\n", script);
    struct lang_registry *reg = fake_lang(keys);
    pid_t kids[4];
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(kids); i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0)
            _exit(lang_prepare(lang_at(reg, 0), cache, NULL) + 10);
    }
    int built = 0, found = 0;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(kids); i++) {
        int st = 0;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        assert_true(WIFEXITED(st));
        built += WEXITSTATUS(st) == 11;
        found += WEXITSTATUS(st) == 10;
    }
    assert_int_equal(built, 1);
    assert_int_equal(found, (int)MOAT_ARRAY_SIZE(kids) - 1);
    assert_int_equal(count_lines(count), 1);
    lang_registry_free(reg);
}

static void test_host_run(void **state)
{
    (void)state;
    char out[4096];
    size_t len = 0;
    struct moat_err err = {0};

    char *echo[] = {(char *)"/bin/echo", (char *)"hi", NULL};
    assert_int_equal(lang_host_run(echo, 5000, out, sizeof(out), &len, &err), 0);
    assert_string_equal(out, "hi\n");
    assert_int_equal(len, 3);

    /* the environment is PATH alone */
    char *env[] = {(char *)"/usr/bin/env", NULL};
    assert_int_equal(lang_host_run(env, 5000, out, sizeof(out), &len, &err), 0);
    assert_string_equal(out, "PATH=/usr/bin:/bin\n");

    /* stdin is /dev/null: cat ends at once */
    char *cat[] = {(char *)"/usr/bin/cat", NULL};
    assert_int_equal(lang_host_run(cat, 5000, out, sizeof(out), &len, &err), 0);
    assert_int_equal(len, 0);

    /* output is capped, the rest drained so that the child does not block */
    char *head[] = {(char *)"/usr/bin/head", (char *)"-c", (char *)"1000000", (char *)"/dev/zero",
                    NULL};
    assert_int_equal(lang_host_run(head, 5000, out, sizeof(out), &len, &err), 0);
    assert_int_equal(len, sizeof(out) - 1);

    char *missing[] = {(char *)"/nonexistent/prog", NULL};
    assert_int_equal(lang_host_run(missing, 5000, out, sizeof(out), &len, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "cannot execute"));

    char *fail[] = {(char *)"/usr/bin/false", NULL};
    assert_int_equal(lang_host_run(fail, 5000, out, sizeof(out), &len, &err), -EIO);
    assert_non_null(strstr(err.msg, "exited with status 1"));

    /* timeout kills the whole group, also a child that keeps the pipe open */
    char *sh[] = {(char *)"/bin/sh", (char *)"-c", (char *)"/usr/bin/sleep 30 & /usr/bin/sleep 30",
                  NULL};
    uint64_t t0 = moat_now_ns();
    assert_int_equal(lang_host_run(sh, 300, out, sizeof(out), &len, &err), -ETIMEDOUT);
    uint64_t ms = (moat_now_ns() - t0) / 1000000u;
    assert_true(ms >= 300 && ms < 5000);
    assert_non_null(strstr(err.msg, "ran longer than 300 ms"));

    /* a child that exits while a grandchild holds the pipe: bounded too */
    char *bg[] = {(char *)"/bin/sh", (char *)"-c", (char *)"/usr/bin/sleep 30 &", NULL};
    t0 = moat_now_ns();
    assert_int_equal(lang_host_run(bg, 300, out, sizeof(out), &len, &err), -ETIMEDOUT);
    assert_true((moat_now_ns() - t0) / 1000000u < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version_probe_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_unwritable_cache, setup, teardown),
        cmocka_unit_test(test_version_echo_and_failures),
        cmocka_unit_test(test_available),
        cmocka_unit_test_setup_teardown(test_available_from_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_must_write_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_concurrent, setup, teardown),
        cmocka_unit_test(test_host_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
