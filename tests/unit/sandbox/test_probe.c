/*
 * sbx_probe_favordynmods: whether a cgroup or cgroup2 mount of a mountinfo
 * carries favordynmods among its super options, read from files written
 * here (v1, v2 and hybrid layouts; the option elsewhere on a line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>

#include "box-internal.h"

static bool probe_text(const char *text)
{
    char path[] = "/tmp/moat-ut-probe-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, text, strlen(text)), 0);
    (void)close(fd);
    bool set = sbx_probe_favordynmods(path);
    assert_int_equal(unlink(path), 0);
    return set;
}

#define HYBRID_V1                                                                                  \
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"                          \
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"

static void test_v2_set_and_not(void **state)
{
    (void)state;
    assert_true(probe_text("30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 "
                           "rw,nsdelegate,favordynmods,memory_recursiveprot\n"));
    assert_false(probe_text("30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 "
                            "rw,nsdelegate,memory_recursiveprot\n"));
}

static void test_hybrid(void **state)
{
    (void)state;
    /* the controller-less v2 hierarchy of a hybrid host carries it */
    assert_true(probe_text(HYBRID_V1 "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 "
                                     "cgroup2 rw,favordynmods\n"));
    /* a v1 hierarchy carries it */
    assert_true(probe_text("36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup "
                           "rw,pids,favordynmods\n" HYBRID_V1));
    assert_false(probe_text(HYBRID_V1 "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 "
                                      "cgroup2 rw\n"));
}

static void test_elsewhere_on_the_line(void **state)
{
    (void)state;
    /* not a cgroup mount; in a mount point or a source; a longer word */
    assert_false(probe_text("50 23 0:40 / /mnt rw - tmpfs tmpfs rw,favordynmods\n"));
    assert_false(probe_text("51 23 0:41 / /favordynmods rw - cgroup2 favordynmods rw\n"));
    assert_false(probe_text("52 23 0:42 / /x rw - cgroup2 cgroup2 rw,nofavordynmods\n"));
    assert_false(probe_text("malformed line without a separator favordynmods\n"));
    assert_false(probe_text(""));
    assert_false(sbx_probe_favordynmods("/nonexistent/mountinfo"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_set_and_not),
        cmocka_unit_test(test_hybrid),
        cmocka_unit_test(test_elsewhere_on_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
