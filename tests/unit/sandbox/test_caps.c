/*
 * Capabilities: after sbx_drop_caps a process holds none, cannot get any
 * back, and a second call is harmless. Each case runs in a forked child
 * (capabilities are per thread and dropping them is for good); the child
 * reports failures as text over a pipe and leaves with _exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sandbox-internal.h"
#include "sbx_test.h"

static void run_child(void (*fn)(struct sbx_report *))
{
    struct sbx_report r;
    int rfd = -1;
    pid_t pid = sbx_test_fork_reporter(&r, &rfd);
    if (pid == 0) {
        fn(&r);
        _exit(r.failures ? 1 : 0);
    }
    sbx_test_wait_reporter(pid, rfd, "");
}

/* The hex value of a "CapXxx:" line of /proc/self/status, or -1. */
static long long status_caps(const char *key)
{
    char buf[4096];
    if (read_small_file_at(AT_FDCWD, "/proc/self/status", buf, sizeof(buf)) < 0)
        return -1;
    const char *line = strstr(buf, key);
    if (!line)
        return -1;
    line += strlen(key);
    while (*line == ' ' || *line == '\t')
        line++;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(line, &end, 16);
    if (errno || end == line || *end != '\n')
        return -1;
    return (long long)v;
}

static void check_no_caps(struct sbx_report *r)
{
    static const char *const keys[] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(keys); i++) {
        long long v = status_caps(keys[i]);
        sbx_check(r, v == 0, "%s is %llx after the drop", keys[i], v);
    }
    sbx_check(r, prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0,
              "CAP_SYS_ADMIN still bounded");
    sbx_check(r, prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) == 0, "CAP_SETPCAP still bounded");
    int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    int want = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    sbx_check(r, bits >= 0 && (bits & want) == want, "securebits %#x, want %#x set", bits, want);
    /* Nothing comes back: locked bits stay, ambient cannot be raised. */
    sbx_check(r, prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) < 0 && errno == EPERM,
              "securebits could be cleared");
    sbx_check(r,
              prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0) < 0 &&
                  (errno == EPERM || errno == EINVAL),
              "ambient CAP_NET_RAW could be raised");
    sbx_check(r, prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0) < 0 && errno == EPERM,
              "bounding set still changeable (CAP_SETPCAP left)");
}

static void child_drop(struct sbx_report *r)
{
    /* A file of another user, mode 0600: only CAP_DAC_OVERRIDE opens it. */
    char path[] = "/tmp/moat-caps-XXXXXX";
    int fd = mkstemp(path);
    sbx_check(r, fd >= 0 && fchown(fd, 65534, 65534) == 0 && fchmod(fd, 0600) == 0,
              "make a foreign file: %s", strerror(errno));
    if (fd >= 0)
        (void)close(fd);
    sbx_check(r, status_caps("CapEff:") > 0, "the test needs capabilities to start with");

    int e = sbx_drop_caps();
    sbx_check(r, e == 0, "sbx_drop_caps: %s", e < 0 ? strerror(-e) : "");
    check_no_caps(r);
    /* uid 0 without capabilities is an ordinary user. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    sbx_check(r, fd < 0 && errno == EACCES,
              "uid 0 without capabilities opened a foreign 0600 file");
    sbx_check(r, setuid(65534) < 0 && errno == EPERM, "setuid to another user without CAP_SETUID");
    (void)unlink(path); /* /tmp is root's: its owner may unlink in a sticky dir */
}

static void child_drop_twice(struct sbx_report *r)
{
    int e = sbx_drop_caps();
    sbx_check(r, e == 0, "first sbx_drop_caps: %s", e < 0 ? strerror(-e) : "");
    e = sbx_drop_caps();
    sbx_check(r, e == 0, "second sbx_drop_caps: %s", e < 0 ? strerror(-e) : "");
    check_no_caps(r);
}

static void test_drop(void **state)
{
    (void)state;
    run_child(child_drop);
}

static void test_drop_twice(void **state)
{
    (void)state;
    run_child(child_drop_twice);
}

int main(void)
{
    if (!moat_test_have_root("capability drop"))
        return MOAT_TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_drop_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
