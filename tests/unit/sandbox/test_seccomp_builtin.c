/* The BPF program compiled at build time is the policy table's, instruction
 * for instruction: editing seccomp.c without rebuilding cannot go unnoticed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sandbox-internal.h"

static void test_builtin_equals_fresh_build(void **state)
{
    (void)state;
    struct sbx_filter fresh, builtin;
    struct moat_err err = {0};
    assert_int_equal(sbx_seccomp_build(&fresh, &err), 0);
    assert_int_equal(sbx_seccomp_builtin(&builtin), 0);
    assert_int_equal(fresh.len, builtin.len);
    assert_true(fresh.len > 100);
    assert_memory_equal(fresh.insns, builtin.insns, sizeof(fresh.insns[0]) * fresh.len);
    sbx_seccomp_release(&fresh);
    sbx_seccomp_release(&builtin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_equals_fresh_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
