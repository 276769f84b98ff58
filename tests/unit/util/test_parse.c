/* Strict parsing: the whole string, in range, or an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/util.h"

static void test_u64_accepts_plain_decimal(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(parse_u64("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
}

static void test_u64_rejects_junk(void **state)
{
    (void)state;
    uint64_t v = 7;
    const char *bad[] = {"", " 1", "+1", "-1", "1 ", "1x", "0x10", "1e3", "١"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++)
        assert_int_equal(parse_u64(bad[i], 0, 100, &v), -EINVAL);
    assert_int_equal(v, 7); /* unchanged on failure */
}

static void test_u64_range(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(parse_u64("11", 0, 10, &v), -ERANGE);
    assert_int_equal(parse_u64("4", 5, 10, &v), -ERANGE);
    assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
    assert_int_equal(v, 7);
}

static void test_i64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(parse_i64("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(parse_i64("-", -10, 10, &v), -EINVAL);
    assert_int_equal(parse_i64("-11", -10, 10, &v), -ERANGE);
}

static void test_bool(void **state)
{
    (void)state;
    bool b = false;
    assert_int_equal(parse_bool("TRUE", &b), 0);
    assert_true(b);
    assert_int_equal(parse_bool("off", &b), 0);
    assert_false(b);
    assert_int_equal(parse_bool("maybe", &b), -EINVAL);
}

/* The server lists of a NATS URL setting: commas, blanks, empty items. */
static void test_str_split(void **state)
{
    (void)state;
    char buf[64];
    const char *items[3];
    assert_int_equal(
        str_split(" nats://a:1 ,, nats://b:2,\tnats://c:3 ", ',', buf, sizeof(buf), items, 3), 3);
    assert_string_equal(items[0], "nats://a:1");
    assert_string_equal(items[1], "nats://b:2");
    assert_string_equal(items[2], "nats://c:3");
    assert_int_equal(str_split("x", ',', buf, sizeof(buf), items, 3), 1);
    assert_string_equal(items[0], "x");
    assert_int_equal(str_split(" , ,", ',', buf, sizeof(buf), items, 3), -EINVAL);
    assert_int_equal(str_split("a,b,c,d", ',', buf, sizeof(buf), items, 3), -E2BIG);
    assert_int_equal(str_split("0123456789", ',', buf, 8, items, 3), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_accepts_plain_decimal),
        cmocka_unit_test(test_u64_rejects_junk),
        cmocka_unit_test(test_u64_range),
        cmocka_unit_test(test_i64),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_str_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
