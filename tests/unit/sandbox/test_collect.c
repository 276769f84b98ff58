/*
 * Files a step hands back (sbx_step.collect) against real boxes: what the
 * step made comes back with its bytes and executable bit, the step's own
 * files do not, links, fifos and directories are never returned (nor
 * followed), names the host refuses are left out and said so, and the
 * bounds hold against a hostile step: too many files, too many bytes, a
 * 1 GiB sparse file, ten thousand files, a deep tree.
 *
 * Needs root; returns 77 (skipped) without it. Its own context (uid range,
 * run directory, parent cgroup "moat-ut-col-<pid>"), removed by the group
 * teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "box-internal.h"
#include "cgroup-internal.h"
#include "sbx_test.h"

#define MiB (1ull << 20)

struct fx {
    struct sbx_test_fx x;
    struct sbx_box *box;   /* of the running test, freed by its teardown */
    struct sbx_result res; /* likewise released */
};

static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};

static const char main_c[] = "int main(void) { return 0; }\n";
static const char util_h[] = "#define X 1\n";
static const struct sbx_file sources[] = {
    {.name = "main.c", .data = main_c, .len = sizeof main_c - 1},
    {.name = "lib/util.h", .data = util_h, .len = sizeof util_h - 1},
};

static struct sbx_limits limits(void)
{
    return (struct sbx_limits){.cpu_ms = 10000,
                               .wall_ms = 20000,
                               .memory_bytes = 256 * MiB,
                               .max_procs = 32,
                               .output_bytes = 1 * MiB,
                               .file_bytes = 2048 * MiB, /* the sparse file */
                               .open_files = 64,
                               .stack_bytes = 8 * MiB};
}

/* Runs script in a fresh box with the sources and collect. */
static void run_collect(struct fx *f, const char *script, bool collect, uint64_t max_bytes)
{
    struct moat_err err = {0};
    if (!f->box) {
        int r = sbx_box_new(f->x.ctx, &f->box, &err);
        if (r < 0)
            fail_msg("sbx_box_new: %s (%d)", err.msg, r);
    }
    const char *argv[] = {"/usr/bin/sh", "-c", script, NULL};
    struct sbx_step step = {.argv = argv,
                            .envp = env,
                            .limits = limits(),
                            .files = sources,
                            .nfiles = MOAT_ARRAY_SIZE(sources),
                            .collect = collect,
                            .collect_max_bytes = max_bytes};
    sbx_result_release(&f->res);
    sbx_result_init(&f->res);
    int r = sbx_box_run(f->box, &step, &f->res, &err);
    if (r < 0)
        fail_msg("sbx_box_run: %s (%d)", err.msg, r);
    if (f->res.verdict != SBX_VERDICT_OK)
        fail_msg("verdict %s: %s (stderr %.*s)", sbx_verdict_name(f->res.verdict), f->res.message,
                 (int)f->res.err.len, f->res.err.data);
}

static const struct sbx_collected *find(const struct sbx_result *res, const char *name)
{
    for (size_t i = 0; i < res->ncollected; i++)
        if (strcmp(res->collected[i].name, name) == 0)
            return &res->collected[i];
    return NULL;
}

static void expect_file(const struct sbx_result *res, const char *name, const char *data, bool exec)
{
    const struct sbx_collected *c = find(res, name);
    if (!c) {
        fail_msg("%s was not handed back (%zu files)", name, res->ncollected);
        return;
    }
    assert_int_equal(c->len, strlen(data));
    assert_memory_equal(c->data, data, c->len);
    assert_int_equal(c->executable, exec);
}

/* ---- tests ---- */

static void test_made_files_come_back(void **state)
{
    struct fx *f = *state;
    run_collect(f,
                "printf '\\177ELF\\000bin' > a.out && chmod 755 a.out && "
                "mkdir -p obj/deep && printf 'o' > obj/deep/x.o && chmod 644 obj/deep/x.o && "
                "printf 'g' > grp && chmod 654 grp && : > empty && "
                "cat main.c > copy.txt && echo changed > main.c",
                true, 1 * MiB);
    const struct sbx_result *res = &f->res;
    assert_false(res->collect_overflow);
    assert_false(res->collect_skipped);
    assert_int_equal(res->ncollected, 5);
    const struct sbx_collected *aout = find(res, "a.out");
    assert_non_null(aout);
    assert_int_equal(aout->len, 8);
    assert_memory_equal(aout->data, "\177ELF\0bin", 8);
    assert_true(aout->executable);
    expect_file(res, "obj/deep/x.o", "o", false);
    expect_file(res, "grp", "g", false); /* group x only: not the owner's */
    expect_file(res, "empty", "", false);
    expect_file(res, "copy.txt", main_c, false);
    /* the step's own files, even changed, are not handed back */
    assert_null(find(res, "main.c"));
    assert_null(find(res, "lib/util.h"));
}

static void test_without_collect_nothing(void **state)
{
    struct fx *f = *state;
    run_collect(f, "echo x > made && ln -s made link", false, 1 * MiB);
    assert_int_equal(f->res.ncollected, 0);
    assert_null(f->res.collected);
    assert_false(f->res.collect_overflow);
    assert_false(f->res.collect_skipped);
}

static void test_links_fifos_dirs_skipped(void **state)
{
    struct fx *f = *state;
    run_collect(f,
                "ln -s /etc/passwd passwd && ln -s main.c srclink && ln -s /proc/1/root root && "
                "mkdir -p empty/dir lnk && ln -s /etc lnk/etc && mkfifo fifo && "
                "mkdir d && echo hi > d/f && ln main.c hard",
                true, 1 * MiB);
    const struct sbx_result *res = &f->res;
    assert_false(res->collect_overflow);
    assert_true(res->collect_skipped); /* something was left out */
    /* a hard link is a regular file of its own name */
    assert_int_equal(res->ncollected, 2);
    expect_file(res, "d/f", "hi\n", false);
    expect_file(res, "hard", main_c, false);
    assert_null(find(res, "passwd"));
    assert_null(find(res, "srclink"));
    assert_null(find(res, "fifo"));
    assert_null(find(res, "lnk/etc/passwd")); /* never followed */
}

static void test_refused_names_skipped(void **state)
{
    struct fx *f = *state;
    run_collect(f,
                "echo 1 > 'sp ace' && echo 2 > 'a*b.class' && mkdir 'bad dir' && "
                "echo 3 > 'bad dir/f' && echo 4 > ok.class && echo 5 > \"$(printf 'x\\ny')\" && "
                "echo 6 > 'Main$1.class'",
                true, 1 * MiB);
    const struct sbx_result *res = &f->res;
    assert_false(res->collect_overflow);
    assert_true(res->collect_skipped);
    assert_int_equal(res->ncollected, 2);
    expect_file(res, "ok.class", "4\n", false);
    expect_file(res, "Main$1.class", "6\n", false); /* the JVM's nested classes */
}

static void test_count_bound(void **state)
{
    struct fx *f = *state;
    /* exactly the limit */
    run_collect(f, "i=0; while [ $i -lt 64 ]; do echo $i > f$i; i=$((i+1)); done", true, 1 * MiB);
    assert_false(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, SBX_COLLECT_MAX_FILES);
    expect_file(&f->res, "f63", "63\n", false);
    sbx_box_free(f->box);
    f->box = NULL;
    /* one more: overflow and nothing */
    run_collect(f, "i=0; while [ $i -lt 65 ]; do echo $i > f$i; i=$((i+1)); done", true, 1 * MiB);
    assert_true(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 0);
    assert_null(f->res.collected);
}

static void test_size_bound(void **state)
{
    struct fx *f = *state;
    /* 60 + 40 bytes: exactly the bound */
    run_collect(f, "head -c 60 /dev/zero > a && head -c 40 /dev/zero > b", true, 100);
    assert_false(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 2);
    sbx_box_free(f->box);
    f->box = NULL;
    run_collect(f, "head -c 60 /dev/zero > a && head -c 41 /dev/zero > b", true, 100);
    assert_true(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 0);
    sbx_box_free(f->box);
    f->box = NULL;
    /* a bound of 0 takes empty files only */
    run_collect(f, ": > a", true, 0);
    assert_false(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 1);
}

static void test_hostile_sparse_file(void **state)
{
    struct fx *f = *state;
    /* 1 GiB that takes no memory in the box: refused by its size, before
     * a byte of it is read, and nothing comes back */
    run_collect(f, "truncate -s 1G big && echo x > small", true, 64 * MiB);
    assert_true(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 0);
    assert_null(f->res.collected);
    sbx_box_free(f->box);
    f->box = NULL;
    /* the bound holds for a box that asks for more than a result carries */
    run_collect(f, "truncate -s 1G big", true, UINT64_MAX);
    assert_true(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 0);
}

static void test_hostile_many_files(void **state)
{
    struct fx *f = *state;
    run_collect(f,
                "i=0; while [ $i -lt 10000 ]; do : > f$i; i=$((i+1)); done; "
                "mkdir x; j=0; while [ $j -lt 100 ]; do ln -s /etc/passwd x/l$j; j=$((j+1)); done",
                true, 64 * MiB);
    assert_true(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 0);
    sbx_box_free(f->box);
    f->box = NULL;
    /* ten thousand entries that are no files at all: still bounded. Made
     * by one process: ten thousand forks of ln took 10-20 s, past the
     * wall limit on a loaded host, and the bound under test is collect's */
    run_collect(
        f, "/usr/bin/python3 -c 'import os\nfor i in range(10000): os.symlink(\"/\", \"l%d\" % i)'",
        true, 64 * MiB);
    assert_true(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 0);
}

static void test_hostile_deep_tree(void **state)
{
    struct fx *f = *state;
    run_collect(f,
                "d=.; i=0; while [ $i -lt 40 ]; do d=$d/d; i=$((i+1)); done; "
                "mkdir -p $d && echo deep > $d/f",
                true, 1 * MiB);
    assert_true(f->res.collect_overflow);
    assert_int_equal(f->res.ncollected, 0);
}

static void test_box_goes_on(void **state)
{
    struct fx *f = *state;
    /* a second step in the same box: collecting leaves /box as it was */
    run_collect(f, "echo one > made && chmod 700 made", true, 1 * MiB);
    expect_file(&f->res, "made", "one\n", true);
    struct moat_err err = {0};
    const char *argv[] = {"/usr/bin/cat", "made", NULL};
    struct sbx_step step = {.argv = argv, .envp = env, .limits = limits(), .last = true};
    sbx_result_release(&f->res);
    sbx_result_init(&f->res);
    assert_int_equal(sbx_box_run(f->box, &step, &f->res, &err), 0);
    assert_int_equal(f->res.verdict, SBX_VERDICT_OK);
    assert_int_equal(f->res.out.len, 4);
    assert_memory_equal(f->res.out.data, "one\n", 4);
    assert_int_equal(f->res.ncollected, 0);
}

/* ---- fixture ---- */

static int test_teardown(void **state)
{
    struct fx *f = *state;
    sbx_box_free(f->box);
    f->box = NULL;
    sbx_result_release(&f->res);
    sbx_result_init(&f->res);
    return 0;
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sbx_test_fx_init(&f->x, "col", 3920000, 8);
    f->x.cfg.tmp_tmpfs_bytes = 16 * MiB;
    if (sbx_test_fx_start(&f->x) < 0) {
        free(f);
        return -1;
    }
    sbx_result_init(&f->res);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0; /* group_setup failed, and said so (cmocka still calls this) */
    sbx_box_free(f->box);
    sbx_result_release(&f->res);
    int ret = sbx_test_fx_stop(&f->x);
    free(f);
    return ret;
}

int main(void)
{
    if (!sbx_test_have_root("collect"))
        return MOAT_TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_made_files_come_back, test_teardown),
        cmocka_unit_test_teardown(test_without_collect_nothing, test_teardown),
        cmocka_unit_test_teardown(test_links_fifos_dirs_skipped, test_teardown),
        cmocka_unit_test_teardown(test_refused_names_skipped, test_teardown),
        cmocka_unit_test_teardown(test_count_bound, test_teardown),
        cmocka_unit_test_teardown(test_size_bound, test_teardown),
        cmocka_unit_test_teardown(test_hostile_sparse_file, test_teardown),
        cmocka_unit_test_teardown(test_hostile_many_files, test_teardown),
        cmocka_unit_test_teardown(test_hostile_deep_tree, test_teardown),
        cmocka_unit_test_teardown(test_box_goes_on, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
