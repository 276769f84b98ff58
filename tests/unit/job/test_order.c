/* job_step_interleave: the streams in the order recorded, trusted no
 * further than the bytes the step holds; always every byte of both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "moat/job.h"

/* Little-endian entries: E(n) n stdout bytes, R(n) n stderr bytes. */
#define E(n) (char)(n), 0, 0, 0
#define R(n) (char)(n), 0, 0, (char)0x80

static void expect(const char *out, const char *err, const char *order, size_t order_len,
                   const char *want)
{
    struct job_step s = {.out = (char *)out,
                         .out_len = strlen(out),
                         .err = (char *)err,
                         .err_len = strlen(err),
                         .order = (char *)order,
                         .order_len = order_len};
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(job_step_interleave(&s, &got, &len), 0);
    assert_int_equal(len, strlen(want));
    if (len)
        assert_memory_equal(got, want, len);
    free(got);
}

static void test_interleave(void **state)
{
    (void)state;
    /* no order: stdout, then stderr */
    expect("ab", "xy", NULL, 0, "abxy");
    expect("", "", NULL, 0, "");
    /* in the order written */
    static const char alt[] = {E(1), R(1), E(1), R(1)};
    expect("ab", "xy", alt, sizeof(alt), "axby");
    static const char err_first[] = {R(2), E(2)};
    expect("ab", "xy", err_first, sizeof(err_first), "xyab");
    /* an order cut short (SBX_ORDER_MAX reached): the rest after */
    static const char short_order[] = {R(1), E(1)};
    expect("abc", "xyz", short_order, sizeof(short_order), "xabcyz");
    /* an order counting more than the streams hold (a clipped view): no
     * entry takes more than is left */
    static const char long_order[] = {E(5), R(9), E(7)};
    expect("ab", "x", long_order, sizeof(long_order), "abx");
    /* a partial entry at the end is ignored */
    static const char partial[] = {R(1), 1, 0};
    expect("ab", "xy", partial, sizeof(partial), "xaby");
    /* binary bytes and NULs kept */
    static char out[] = "\0\xff", err[] = "";
    struct job_step s = {.out = out, .out_len = 2, .err = err, .err_len = 1};
    static const char bin[] = {E(1), R(1), E(1)};
    s.order = (char *)bin;
    s.order_len = sizeof(bin);
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(job_step_interleave(&s, &got, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "\0\0\xff", 3);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
