/* The seccomp policy compiled once, as the state of a cmocka group: the
 * fixture of the seccomp tests (test_seccomp.c loads it, test_seccomp_table.c
 * interprets it). Include after cmocka.h and sandbox-internal.h. */
#pragma once

static int seccomp_fx_setup(void **state)
{
    static struct sbx_filter filter;
    struct moat_err err = {0};
    if (sbx_seccomp_build(&filter, &err) < 0) {
        print_error("sbx_seccomp_build: %s\n", err.msg);
        return -1;
    }
    *state = &filter;
    return 0;
}

static int seccomp_fx_teardown(void **state)
{
    sbx_seccomp_release(*state);
    return 0;
}
