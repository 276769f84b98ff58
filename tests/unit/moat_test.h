#pragma once
/*
 * What every unit test binary shares about skipping and waiting. Static
 * inline: include it (after <cmocka.h> when the test uses cmocka) and use
 * what is needed.
 *
 * Skipping. ctest tells a skip from a pass by the exit code alone (77, the
 * SKIP_RETURN_CODE of the registration), and cmocka's skip() counts a case
 * as passed in the exit code, so no test calls it (the registration fails
 * any output with cmocka's "[  SKIPPED ]" marker). Instead:
 *   - a binary that can run nothing here returns moat_test_skip(...) or
 *     leaves through moat_test_have_root() from main;
 *   - a case that cannot run notes why with moat_test_skip_case() and
 *     returns; main returns moat_test_result(), which turns "everything
 *     else passed" into 77 and a "SKIPPED:" line, never into 0.
 * Either way stderr gets lines starting "SKIPPED:" that say why.
 * Running as root is how CI runs: there, something a test needs and does
 * not find (a cgroup mount, a box) is a failure with a message saying what
 * is missing, never a skip. Only a kernel that lacks a feature outright
 * (no Landlock in its LSM list, no cgroup2 filesystem, an older Landlock
 * ABI) skips as root.
 *
 * Waiting. Tests wait for the event itself, never for a fixed time: poll
 * the condition under a deadline and fail with what was seen when it
 * passes,
 *
 *     uint64_t dl = moat_test_deadline_ms(10000);
 *     while (!cond() && moat_test_before(dl))
 *         ;
 *     if (!cond())
 *         fail_msg(...);
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "moat/util.h"

/* The exit code that means "skipped" (SKIP_RETURN_CODE in tests.cmake). */
#define MOAT_TEST_SKIPPED 77

/* The cases skipped so far and the first one's reason. One per binary
 * (each test binary is one translation unit). */
struct moat_test__skips {
    unsigned n;
    char first[256];
};

static inline struct moat_test__skips *moat_test__skips(void)
{
    static struct moat_test__skips skips;
    return &skips;
}

/* Prints "SKIPPED: <why>" on stderr and returns 77, for main to return
 * when the binary can run nothing on this host. */
__attribute__((format(printf, 1, 2))) static inline int moat_test_skip(const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    (void)fprintf(stderr, "SKIPPED: %s\n", why);
    return MOAT_TEST_SKIPPED;
}

/* true as root. Otherwise prints "SKIPPED: the <what> test needs root" and
 * returns false: main then returns MOAT_TEST_SKIPPED. */
static inline bool moat_test_have_root(const char *what)
{
    if (geteuid() == 0)
        return true;
    (void)moat_test_skip("the %s test needs root (euid %d)", what, (int)geteuid());
    return false;
}

/* Notes that one case (or a part of one) could not run here, and why, on
 * stderr at once. The caller returns from the case; moat_test_result then
 * reports the binary as skipped: what did not run is never a pass. */
__attribute__((format(printf, 1, 2))) static inline void moat_test_skip_case(const char *fmt, ...)
{
    struct moat_test__skips *s = moat_test__skips();
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    (void)moat_test_skip("%s", why);
    if (s->n++ == 0)
        (void)moat_strlcpy(s->first, why, sizeof s->first);
}

/* What main returns once cmocka ran its groups (failed: the sum of what
 * cmocka_run_group_tests returned): 1 on any failure (a count could be 77,
 * or wrap to 0 past 255), else 77 with a "SKIPPED:" line when a case was
 * skipped, else 0. */
static inline int moat_test_result(int failed)
{
    if (failed != 0)
        return 1;
    const struct moat_test__skips *s = moat_test__skips();
    if (s->n == 0)
        return 0;
    return moat_test_skip("%u part(s) of this test did not run, the first because: %s", s->n,
                          s->first);
}

/* CLOCK_REALTIME timeout_ms from now, for pthread_cond_timedwait on a
 * condition variable with the default clock. */
static inline struct timespec moat_test_abstime_ms(int timeout_ms)
{
    struct timespec until;
    (void)clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    return until;
}

/* A deadline timeout_ms from now, for moat_test_before. */
static inline uint64_t moat_test_deadline_ms(unsigned timeout_ms)
{
    return moat_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* false once the deadline has passed; else sleeps a millisecond (the
 * polling interval) and returns true: `while (!cond && before(dl));`. */
static inline bool moat_test_before(uint64_t deadline_ns)
{
    if (moat_now_ns() >= deadline_ns)
        return false;
    (void)usleep(1000);
    return true;
}
