/* Verdict names round-trip, every signal has a name, and every verdict but
 * ok has a sentence a person can read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>

#include "moat/job.h"
#include "moat/util.h"

static void test_verdict_names_round_trip(void **state)
{
    (void)state;
    static const char *const expected[JOB_VERDICT_MAX_] = {
        [JOB_VERDICT_OK] = "ok",
        [JOB_VERDICT_RUNTIME_ERROR] = "runtime_error",
        [JOB_VERDICT_TIME_LIMIT] = "time_limit",
        [JOB_VERDICT_MEMORY_LIMIT] = "memory_limit",
        [JOB_VERDICT_OUTPUT_LIMIT] = "output_limit",
        [JOB_VERDICT_COMPILE_ERROR] = "compile_error",
        [JOB_VERDICT_INTERNAL_ERROR] = "internal_error",
        [JOB_VERDICT_CANCELLED] = "cancelled",
        [JOB_VERDICT_WRONG_ANSWER] = "wrong_answer",
        [JOB_VERDICT_ACCEPTED] = "accepted",
        [JOB_VERDICT_SKIPPED] = "skipped",
        [JOB_VERDICT_POLICY_VIOLATION] = "policy_violation",
    };
    assert_null(job_verdict_name(JOB_VERDICT_NONE));
    for (int v = JOB_VERDICT_OK; v < JOB_VERDICT_MAX_; v++) {
        const char *name = job_verdict_name((enum job_verdict)v);
        assert_non_null(name);
        assert_string_equal(name, expected[v]);
        enum job_verdict back = JOB_VERDICT_NONE;
        assert_int_equal(job_verdict_parse(name, &back), 0);
        assert_int_equal(back, v);
    }
    assert_null(job_verdict_name(JOB_VERDICT_MAX_));
    assert_null(job_verdict_name((enum job_verdict) - 1));
}

static void test_verdict_parse_rejects_unknown(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "OK", "none", "ok ", " ok", "time-limit", "runtime", "cancelled\n", "internal_errors"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        enum job_verdict v = JOB_VERDICT_CANCELLED;
        assert_int_equal(job_verdict_parse(bad[i], &v), -EINVAL);
        assert_int_equal(v, JOB_VERDICT_CANCELLED); /* untouched on failure */
    }
    enum job_verdict v = JOB_VERDICT_OK;
    assert_int_equal(job_verdict_parse(NULL, &v), -EINVAL);
}

static void test_signal_names(void **state)
{
    (void)state;
    /* The numbers are those of Linux x86_64, spelled out on purpose. */
    static const struct {
        int sig;
        const char *name;
    } cases[] = {
        {1, "SIGHUP"},        {2, "SIGINT"},     {3, "SIGQUIT"},     {4, "SIGILL"},
        {5, "SIGTRAP"},       {6, "SIGABRT"},    {7, "SIGBUS"},      {8, "SIGFPE"},
        {9, "SIGKILL"},       {10, "SIGUSR1"},   {11, "SIGSEGV"},    {12, "SIGUSR2"},
        {13, "SIGPIPE"},      {14, "SIGALRM"},   {15, "SIGTERM"},    {16, "SIGSTKFLT"},
        {17, "SIGCHLD"},      {18, "SIGCONT"},   {19, "SIGSTOP"},    {20, "SIGTSTP"},
        {21, "SIGTTIN"},      {22, "SIGTTOU"},   {23, "SIGURG"},     {24, "SIGXCPU"},
        {25, "SIGXFSZ"},      {26, "SIGVTALRM"}, {27, "SIGPROF"},    {28, "SIGWINCH"},
        {29, "SIGIO"},        {30, "SIGPWR"},    {31, "SIGSYS"},     {32, "SIG32"},
        {33, "SIG33"},        {34, "SIGRTMIN"},  {35, "SIGRTMIN+1"}, {49, "SIGRTMIN+15"},
        {64, "SIGRTMIN+30"},  {0, "SIG0"},       {65, "SIGUNKNOWN"}, {-1, "SIGUNKNOWN"},
        {1000, "SIGUNKNOWN"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(cases); i++)
        assert_string_equal(job_signal_name(cases[i].sig), cases[i].name);
    /* Cross-check against the C library's own numbering. */
    assert_string_equal(job_signal_name(SIGSEGV), "SIGSEGV");
    assert_string_equal(job_signal_name(SIGRTMIN), "SIGRTMIN");
    assert_string_equal(job_signal_name(SIGRTMAX), "SIGRTMIN+30");
    /* Every number in range has a distinct name starting with SIG. */
    for (int a = 0; a <= 64; a++) {
        const char *na = job_signal_name(a);
        assert_non_null(na);
        assert_true(str_has_prefix(na, "SIG"));
        for (int b = a + 1; b <= 64; b++)
            assert_string_not_equal(na, job_signal_name(b));
    }
}

struct scratch {
    char buf[512];
};

static const char *sentence_into(struct scratch *sc, enum job_verdict v, int exit_code, int sig,
                                 const char *msg)
{
    char *buf = sc->buf;
    struct job_step s = {.verdict = v, .exit_code = exit_code, .signal = sig};
    if (msg)
        (void)moat_strlcpy(s.message, msg, sizeof(s.message));
    return job_error_sentence(&s, buf, sizeof(sc->buf));
}

static void test_sentences(void **state)
{
    (void)state;
    struct scratch sc;
#define sentence(...) sentence_into(&sc, __VA_ARGS__)
    assert_null(sentence(JOB_VERDICT_OK, 0, 0, NULL));
    assert_null(sentence(JOB_VERDICT_NONE, 0, 0, NULL));
    assert_string_equal(sentence(JOB_VERDICT_TIME_LIMIT, 124, 0, NULL),
                        "Time Limit Exceeded (program ran too long)");
    assert_string_equal(sentence(JOB_VERDICT_MEMORY_LIMIT, 137, 9, NULL),
                        "Memory Limit Exceeded (program used too much memory)");
    assert_string_equal(sentence(JOB_VERDICT_OUTPUT_LIMIT, 0, 0, NULL),
                        "Output Limit Exceeded (program printed too much)");
    assert_string_equal(sentence(JOB_VERDICT_COMPILE_ERROR, 1, 0, NULL), "Compilation Error");
    assert_string_equal(sentence(JOB_VERDICT_CANCELLED, 0, 0, NULL), "Cancelled");
    assert_string_equal(sentence(JOB_VERDICT_RUNTIME_ERROR, 139, SIGSEGV, NULL),
                        "Runtime Error (SIGSEGV: segmentation fault)");
    assert_string_equal(sentence(JOB_VERDICT_RUNTIME_ERROR, 134, SIGABRT, NULL),
                        "Runtime Error (SIGABRT: aborted)");
    assert_string_equal(sentence(JOB_VERDICT_RUNTIME_ERROR, 136, SIGFPE, NULL),
                        "Runtime Error (SIGFPE: arithmetic error, such as division by zero)");
    assert_string_equal(sentence(JOB_VERDICT_RUNTIME_ERROR, 159, SIGSYS, NULL),
                        "Runtime Error (SIGSYS: system call not allowed)");
    assert_string_equal(sentence(JOB_VERDICT_RUNTIME_ERROR, 138, SIGUSR1, NULL),
                        "Runtime Error (SIGUSR1)");
    assert_string_equal(sentence(JOB_VERDICT_RUNTIME_ERROR, 3, 0, NULL),
                        "Runtime Error (exit code 3)");
    assert_string_equal(sentence(JOB_VERDICT_RUNTIME_ERROR, -1, 0, NULL),
                        "Runtime Error (exit code -1)");
    assert_string_equal(sentence(JOB_VERDICT_INTERNAL_ERROR, 0, 0, "cgroup vanished"),
                        "Internal Error (cgroup vanished)");
    assert_string_equal(sentence(JOB_VERDICT_INTERNAL_ERROR, 0, 0, NULL), "Internal Error");
    /* Out-of-range verdicts (a corrupt row) still get a sentence. */
    assert_string_equal(sentence(JOB_VERDICT_MAX_, 0, 0, NULL), "Internal Error (unknown verdict)");
#undef sentence
}

static void test_sentence_buffers(void **state)
{
    (void)state;
    struct job_step s = {.verdict = JOB_VERDICT_RUNTIME_ERROR, .signal = SIGSEGV};
    /* Without a buffer the sentence loses its detail, never its meaning. */
    assert_string_equal(job_error_sentence(&s, NULL, 0), "Runtime Error");
    char small[16];
    assert_string_equal(job_error_sentence(&s, small, sizeof(small)), "Runtime Error (");

    /* A message that fills the whole field, unterminated, is bounded. */
    struct job_step t = {.verdict = JOB_VERDICT_INTERNAL_ERROR};
    memset(t.message, 'x', sizeof(t.message));
    char buf[sizeof(t.message) + 64];
    const char *got = job_error_sentence(&t, buf, sizeof(buf));
    assert_ptr_equal(got, buf);
    assert_int_equal(strlen(got), strlen("Internal Error ()") + sizeof(t.message));
    assert_true(str_has_suffix(got, "xx)"));
}

static void test_step_release(void **state)
{
    (void)state;
    struct job_step s = {.verdict = JOB_VERDICT_OK, .exit_code = 1, .signal = 2};
    s.out = moat_strdup("out");
    s.out_len = 3;
    s.err = moat_strdup("err");
    s.err_len = 3;
    s.cached = true;
    (void)moat_strlcpy(s.message, "m", sizeof(s.message));
    job_step_release(&s);
    assert_null(s.out);
    assert_null(s.err);
    assert_int_equal(s.out_len, 0);
    assert_int_equal(s.err_len, 0);
    assert_int_equal(s.verdict, JOB_VERDICT_NONE);
    assert_int_equal(s.exit_code, 0);
    assert_false(s.cached);
    assert_string_equal(s.message, "");
    job_step_release(&s); /* twice is harmless */
    job_step_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict_names_round_trip),
        cmocka_unit_test(test_verdict_parse_rejects_unknown),
        cmocka_unit_test(test_signal_names),
        cmocka_unit_test(test_sentences),
        cmocka_unit_test(test_sentence_buffers),
        cmocka_unit_test(test_step_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
