/* Bounded buffers never grow past their maximum and stay terminated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/util.h"

static void test_append_within_max(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    assert_int_equal(buf_append(&b, "world", 5), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_terminate(&b), 0);
    assert_string_equal(b.data, "helloworld");
    buf_release(&b);
}

static void test_append_past_max_changes_nothing(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "12345", 5), 0);
    assert_int_equal(buf_append(&b, "6789", 4), -ENOBUFS);
    assert_int_equal(b.len, 5);
    assert_int_equal(buf_printf(&b, "%s", "abcd"), -ENOBUFS);
    assert_int_equal(buf_printf(&b, "%d", 678), 0);
    size_t len = 0;
    char *s = buf_steal(&b, &len);
    assert_string_equal(s, "12345678");
    assert_int_equal(len, 8);
    assert_null(b.data);
    free(s);
}

static void test_size_math_overflow(void **state)
{
    (void)state;
    size_t r = 3;
    assert_false(size_add(SIZE_MAX, 1, &r));
    assert_false(size_mul(SIZE_MAX / 2 + 1, 2, &r));
    assert_int_equal(r, 3);
    assert_true(size_mul(4, 5, &r));
    assert_int_equal(r, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_within_max),
        cmocka_unit_test(test_append_past_max_changes_nothing),
        cmocka_unit_test(test_size_math_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
