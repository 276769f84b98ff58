/* Judging an output: each comparison mode on the cases that tell them
 * apart, Judge0's trim rule as its own code states it, bytes that are not
 * text, and the names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "moat/job.h"

static bool match(enum job_compare mode, const char *got, const char *want)
{
    struct job_compare_opts o = {.mode = mode, .abs_tol = 1e-6, .rel_tol = 1e-9};
    return job_output_matches(got, strlen(got), want, strlen(want), &o);
}

static void test_exact(void **state)
{
    (void)state;
    assert_true(match(JOB_COMPARE_EXACT, "4\n", "4\n"));
    assert_false(match(JOB_COMPARE_EXACT, "4", "4\n"));
    assert_false(match(JOB_COMPARE_EXACT, "4 \n", "4\n"));
    assert_true(match(JOB_COMPARE_EXACT, "", ""));
    struct job_compare_opts o = {.mode = JOB_COMPARE_EXACT};
    assert_true(job_output_matches(NULL, 0, "", 0, &o));
    assert_true(job_output_matches("a\0b", 3, "a\0b", 3, &o));
    assert_false(job_output_matches("a\0b", 3, "a\0c", 3, &o));
}

/* Judge0: output.split("\n").collect(&:rstrip).join("\n").rstrip on both */
static void test_trim_is_judge0s(void **state)
{
    (void)state;
    assert_true(match(JOB_COMPARE_TRIM, "4", "4\n"));
    assert_true(match(JOB_COMPARE_TRIM, "4  \t\r\n\n\n", "4"));
    assert_true(match(JOB_COMPARE_TRIM, "a \nb\t\n", "a\nb"));
    assert_true(match(JOB_COMPARE_TRIM, "a\r\nb\r\n", "a\nb\n"));
    assert_true(match(JOB_COMPARE_TRIM, "\n\n", ""));
    assert_true(match(JOB_COMPARE_TRIM, "a\n \nb", "a\n\nb"));
    /* leading blanks and blank lines inside count */
    assert_false(match(JOB_COMPARE_TRIM, " 4", "4"));
    assert_false(match(JOB_COMPARE_TRIM, "\n4", "4"));
    assert_false(match(JOB_COMPARE_TRIM, "a\n\nb", "a\nb"));
    assert_false(match(JOB_COMPARE_TRIM, "a b", "a  b"));
    assert_false(match(JOB_COMPARE_TRIM, "4\n5", "4"));
    assert_false(match(JOB_COMPARE_TRIM, "", "x"));
    /* Ruby's rstrip takes trailing NULs too */
    struct job_compare_opts o = {.mode = JOB_COMPARE_TRIM};
    assert_true(job_output_matches("4\0\n", 3, "4", 1, &o));
    assert_false(job_output_matches("4\0x", 3, "4", 1, &o));
}

static void test_tokens(void **state)
{
    (void)state;
    assert_true(match(JOB_COMPARE_TOKENS, "1 2\n3", "1\n2   3\n"));
    assert_true(match(JOB_COMPARE_TOKENS, "  \n", ""));
    assert_false(match(JOB_COMPARE_TOKENS, "1 2", "1 2 3"));
    assert_false(match(JOB_COMPARE_TOKENS, "12", "1 2"));
    assert_false(match(JOB_COMPARE_TOKENS, "1.0", "1"));
    assert_false(match(JOB_COMPARE_TOKENS, "a", "A"));
}

static void test_float(void **state)
{
    (void)state;
    assert_true(match(JOB_COMPARE_FLOAT, "1.0000001 2", "1 2"));
    assert_true(match(JOB_COMPARE_FLOAT, "3.14159265\n", "3.141592653589793"));
    assert_true(match(JOB_COMPARE_FLOAT, "1e9", "1000000000.0000001"));
    assert_true(match(JOB_COMPARE_FLOAT, "yes 0.5", "yes 5e-1"));
    assert_false(match(JOB_COMPARE_FLOAT, "1.01", "1"));
    assert_false(match(JOB_COMPARE_FLOAT, "nan", "1"));
    assert_false(match(JOB_COMPARE_FLOAT, "inf", "1e308"));
    assert_false(match(JOB_COMPARE_FLOAT, "no", "yes"));
    assert_false(match(JOB_COMPARE_FLOAT, "1", "1 2"));
    assert_false(match(JOB_COMPARE_FLOAT, "1x", "1"));
    /* the relative tolerance scales with the expected value */
    struct job_compare_opts o = {.mode = JOB_COMPARE_FLOAT, .abs_tol = 0, .rel_tol = 1e-3};
    assert_true(job_output_matches("1000.9", 6, "1000", 4, &o));
    assert_false(job_output_matches("1.9", 3, "1", 1, &o));
    /* a token too long to be a number is compared as text */
    char big[200];
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_true(match(JOB_COMPARE_FLOAT, big, big));
    char other[200];
    memcpy(other, big, sizeof(big));
    other[150] = '2';
    assert_false(match(JOB_COMPARE_FLOAT, big, other));
}

/* Only a run that ended ok is judged; a match gives the caller's verdict. */
static void test_step_judge(void **state)
{
    (void)state;
    struct job_compare_opts o = {.mode = JOB_COMPARE_TRIM};
    char out[] = "3\n";
    struct job_step s = {.verdict = JOB_VERDICT_OK, .out = out, .out_len = 2};
    job_step_judge(&s, "3", 1, &o, JOB_VERDICT_ACCEPTED);
    assert_int_equal(s.verdict, JOB_VERDICT_ACCEPTED);
    s.verdict = JOB_VERDICT_OK;
    job_step_judge(&s, "4", 1, &o, JOB_VERDICT_OK);
    assert_int_equal(s.verdict, JOB_VERDICT_WRONG_ANSWER);
    s.verdict = JOB_VERDICT_RUNTIME_ERROR;
    job_step_judge(&s, "4", 1, &o, JOB_VERDICT_OK);
    assert_int_equal(s.verdict, JOB_VERDICT_RUNTIME_ERROR);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const names[] = {"exact", "trim", "tokens", "float"};
    for (int i = 0; i < JOB_COMPARE_MAX_; i++) {
        assert_string_equal(job_compare_name((enum job_compare)i), names[i]);
        enum job_compare c = JOB_COMPARE_MAX_;
        assert_int_equal(job_compare_parse(names[i], &c), 0);
        assert_int_equal(c, i);
    }
    enum job_compare c = JOB_COMPARE_TRIM;
    assert_int_equal(job_compare_parse("Exact", &c), -EINVAL);
    assert_int_equal(job_compare_parse(NULL, &c), -EINVAL);
    assert_int_equal(c, JOB_COMPARE_TRIM);
    assert_null(job_compare_name(JOB_COMPARE_MAX_));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),  cmocka_unit_test(test_trim_is_judge0s),
        cmocka_unit_test(test_tokens), cmocka_unit_test(test_float),
        cmocka_unit_test(test_step_judge), cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
