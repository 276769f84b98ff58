/* Loading: defaults < moat.ini < MOAT_* environment < config_set, and the
 * errors of each source naming the setting and where it came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "moat/config.h"
#include "moat/util.h"

/* envp entries are char *; the loader never writes them */
#define E(s) ((char *)(s))

struct fixture {
    char dir[64]; /* a fresh working directory: no stray ./moat.ini */
    char oldcwd[PATH_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    moat_strlcpy(f->dir, "/tmp/moat-config-test-XXXXXX", sizeof(f->dir));
    if (!mkdtemp(f->dir) || !getcwd(f->oldcwd, sizeof(f->oldcwd)) || chdir(f->dir) < 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    (void)unlink("moat.ini");
    (void)unlink("other.ini");
    (void)unlink("big.ini");
    (void)unlink("dir.ini/x");
    (void)rmdir("dir.ini");
    if (chdir(f->oldcwd) < 0)
        return -1;
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, text, strlen(text)), 0);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static void test_defaults(void **state)
{
    (void)state;
    struct moat_config c;
    struct moat_err err = {0};
    char *env[] = {NULL};
    memset(&c, 0xa5, sizeof(c));
    assert_int_equal(config_load(&c, NULL, env, &err), 0);
    assert_int_equal(c.limits.time_ms, 3000);
    assert_int_equal(c.limits.wall_time_ms, 0);
    assert_int_equal(c.limits.memory_mb, 128);
    assert_int_equal(c.limits.max_processes, 64);
    assert_int_equal(c.limits.max_output_kb, 64);
    assert_int_equal(c.limits.max_file_kb, 16384);
    assert_int_equal(c.limits.max_open_files, 256);
    assert_int_equal(c.limits.stack_kb, 65536);
    assert_int_equal(c.max_limits.time_ms, 10000);
    assert_int_equal(c.max_limits.wall_time_ms, 60000);
    assert_int_equal(c.max_limits.memory_mb, 1024);
    assert_int_equal(c.max_limits.max_processes, 256);
    assert_int_equal(c.max_limits.max_output_kb, 16384);
    assert_int_equal(c.max_limits.max_file_kb, 262144);
    assert_int_equal(c.max_limits.max_open_files, 4096);
    assert_int_equal(c.max_limits.stack_kb, 1048576);
    assert_int_equal(c.compile_limits.time_ms, 10000);
    assert_int_equal(c.compile_limits.wall_time_ms, 20000);
    assert_int_equal(c.compile_limits.memory_mb, 512);
    assert_int_equal(c.compile_limits.max_processes, 128);
    assert_int_equal(c.compile_limits.max_output_kb, 64);
    assert_int_equal(c.compile_limits.max_file_kb, 262144);
    assert_int_equal(c.compile_limits.max_open_files, 512);
    assert_int_equal(c.compile_limits.stack_kb, 65536);
    assert_int_equal(c.first_uid, 3000000);
    assert_int_equal(c.uid_count, 1024);
    assert_string_equal(c.run_dir, "/run/moat");
    assert_string_equal(c.cgroup_name, "moat");
    assert_int_equal(c.box_tmpfs_mb, 64);
    assert_int_equal(c.tmp_tmpfs_mb, 64);
    assert_true(c.landlock);
    assert_int_equal(c.warm_boxes, 0);
    assert_int_equal(c.netns_pool, 4);
    assert_int_equal(c.spawner_nice, 10);
    assert_string_equal(c.languages_file, "");
    assert_string_equal(c.cache_dir, "/var/cache/moat");
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.data_dir, "./moat-data");
    assert_int_equal(c.workers, 0);
    assert_int_equal(c.max_queue, 10000);
    assert_int_equal(c.max_wait_ms, 30000);
    assert_int_equal(c.max_body_kb, 2560);
    assert_int_equal(c.max_code_kb, 1024);
    assert_int_equal(c.request_timeout_s, 20);
    assert_int_equal(c.max_connections_per_ip, 512);
    assert_int_equal(c.connection_reserve, 64);
    assert_int_equal(c.max_refused_body_mb, 128);
    assert_int_equal(c.max_inline_output_kb, 256);
    assert_int_equal(c.max_stdin_kb, 1024);
    assert_int_equal(c.compile_cache_mb, 256);
    assert_false(c.no_exec);
    assert_int_equal(c.retry_attempts, 3);
    assert_int_equal(c.retry_base_ms, 1000);
    assert_int_equal(c.retry_factor, 2);
    assert_string_equal(c.log_level, "info");
    assert_int_equal(config_validate(&c, &err), 0);

    /* config_defaults is the same thing without reading anything */
    struct moat_config d;
    memset(&d, 0x5a, sizeof(d));
    config_defaults(&d);
    assert_memory_equal(&c, &d, sizeof(c));
}

static const char sample_ini[] = "; a comment\n"
                                 "# another\n"
                                 "[limits]\n"
                                 "time_ms = 5000 ; inline comment\n"
                                 "memory_mb=256\n"
                                 "\n"
                                 "[sandbox]\n"
                                 "landlock = off\n"
                                 "cgroup_name = judge_1\n"
                                 "[server]\n"
                                 "listen = [::1]:9000\r\n"
                                 "[log]\n"
                                 "level = debug\n";

static void test_ini_overrides_defaults(void **state)
{
    (void)state;
    struct moat_config c;
    struct moat_err err = {0};
    write_text("moat.ini", sample_ini, 0644);
    assert_int_equal(config_load(&c, NULL, NULL, &err), 0);
    assert_int_equal(c.limits.time_ms, 5000);
    assert_int_equal(c.limits.memory_mb, 256);
    assert_int_equal(c.limits.max_processes, 64); /* untouched */
    assert_false(c.landlock);
    assert_string_equal(c.cgroup_name, "judge_1");
    assert_string_equal(c.listen, "[::1]:9000");
    assert_string_equal(c.log_level, "debug");
}

static void test_ini_path_sources(void **state)
{
    (void)state;
    struct moat_config c;
    struct moat_err err = {0};
    write_text("moat.ini", "[limits]\ntime_ms = 1111\n", 0644);
    write_text("other.ini", "[limits]\ntime_ms = 2222\n", 0644);
    char *env[] = {E("MOAT_CONFIG=other.ini"), NULL};

    /* $MOAT_CONFIG beats ./moat.ini */
    assert_int_equal(config_load(&c, NULL, env, &err), 0);
    assert_int_equal(c.limits.time_ms, 2222);
    /* a named path beats $MOAT_CONFIG */
    assert_int_equal(config_load(&c, "moat.ini", env, &err), 0);
    assert_int_equal(c.limits.time_ms, 1111);

    /* a missing named file is an error, a missing ./moat.ini is not */
    memset(&err, 0, sizeof(err));
    c.limits.time_ms = 42;
    assert_int_equal(config_load(&c, "nope.ini", NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nope.ini"));
    assert_int_equal(c.limits.time_ms, 42); /* not written on failure */
    char *env_missing[] = {E("MOAT_CONFIG=/nonexistent/moat.ini"), NULL};
    assert_int_equal(config_load(&c, NULL, env_missing, &err), -ENOENT);
    assert_int_equal(unlink("moat.ini"), 0);
    assert_int_equal(config_load(&c, NULL, NULL, &err), 0);
    assert_int_equal(c.limits.time_ms, 3000);
}

static void test_ini_file_refused(void **state)
{
    (void)state;
    struct moat_config c;
    struct moat_err err = {0};

    write_text("moat.ini", "[limits]\ntime_ms = 1111\n", 0646);
    assert_int_equal(config_load(&c, NULL, NULL, &err), -EPERM);
    assert_non_null(strstr(err.msg, "moat.ini"));

    assert_int_equal(mkdir("dir.ini", 0755), 0);
    assert_int_equal(config_load(&c, "dir.ini", NULL, &err), -EINVAL);

    /* over 1 MiB of comments */
    int fd = open("big.ini", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    char line[1024];
    memset(line, ';', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    for (int i = 0; i < 1025; i++)
        assert_int_equal(write_full(fd, line, sizeof(line)), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(config_load(&c, "big.ini", NULL, &err), -EFBIG);

    /* a NUL would hide the rest of the file from the parser */
    fd = open("other.ini", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, "[limits]\n\0time_ms = 1\n", 22), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(config_load(&c, "other.ini", NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "NUL"));
}

static void test_env_overrides_ini(void **state)
{
    (void)state;
    struct moat_config c;
    struct moat_err err = {0};
    write_text("moat.ini", "[limits]\ntime_ms = 5000\nmemory_mb = 256\n", 0644);
    char *env[] = {E("PATH=/usr/bin"),
                   E("MOAT_TIME_LIMIT=7000"),
                   E("MOAT_NO_EXEC=yes"),
                   E("MOAT_DATA_DIR=/srv/moat"),
                   E("MOAT_UNKNOWN_THING=whatever"), /* not a setting: ignored */
                   E("MOAT_TEST_DATA=/x"),
                   E("MOAT_NOEQUALS"),
                   NULL};
    assert_int_equal(config_load(&c, NULL, env, &err), 0);
    assert_int_equal(c.limits.time_ms, 7000);
    assert_int_equal(c.limits.memory_mb, 256); /* the ini's, env says nothing */
    assert_true(c.no_exec);
    assert_string_equal(c.data_dir, "/srv/moat");
}

static void test_set_overrides_env(void **state)
{
    (void)state;
    struct moat_config c;
    struct moat_err err = {0};
    char *env[] = {E("MOAT_TIME_LIMIT=7000"), E("MOAT_LOG_LEVEL=warn"), NULL};
    assert_int_equal(config_load(&c, NULL, env, &err), 0);
    assert_int_equal(config_set(&c, "time-limit", "8000", &err), 0);
    assert_int_equal(c.limits.time_ms, 8000);
    assert_int_equal(config_set(&c, "log.level", "error", &err), 0); /* by key */
    assert_string_equal(c.log_level, "error");
    assert_int_equal(config_set(&c, "max-time-limit", "20000", &err), 0);
    assert_int_equal(c.max_limits.time_ms, 20000);
    assert_int_equal(config_set(&c, "no-exec", "true", &err), 0);
    assert_true(c.no_exec);
    assert_int_equal(config_set(&c, "landlock", "false", &err), 0);
    assert_int_equal(config_set(&c, "landlock", NULL, &err), 0); /* bare --landlock */
    assert_true(c.landlock);
    assert_int_equal(config_set(&c, "time-limit", NULL, &err), -EINVAL);
    assert_string_equal(err.field, "limits.time_ms");
    assert_int_equal(c.limits.time_ms, 8000);

    memset(&err, 0, sizeof(err));
    assert_int_equal(config_set(&c, "time-limt", "1", &err), -ENOENT);
    assert_non_null(strstr(err.msg, "time-limt"));

    /* a bad value leaves the setting as it was and names flag and key */
    memset(&err, 0, sizeof(err));
    assert_int_equal(config_set(&c, "time-limit", "fast", &err), -EINVAL);
    assert_int_equal(c.limits.time_ms, 8000);
    assert_string_equal(err.field, "limits.time_ms");
    assert_non_null(strstr(err.msg, "--time-limit"));
    assert_non_null(strstr(err.msg, "fast"));

    bool is_bool = false;
    unsigned scope = 0;
    assert_int_equal(config_lookup("no-exec", &scope, &is_bool), 0);
    assert_true(is_bool);
    assert_int_equal(scope, CONFIG_SCOPE_SERVE);
    assert_int_equal(config_lookup("limits.time_ms", &scope, &is_bool), 0);
    assert_false(is_bool);
    assert_int_equal(scope, CONFIG_SCOPE_RUN | CONFIG_SCOPE_SERVE);
    assert_int_equal(config_lookup("bogus", NULL, NULL), -ENOENT);
}

struct bad_value {
    const char *name; /* flag or key for config_set */
    const char *value;
    int code;
    const char *key; /* expected err.field */
};

static void test_bad_values_named(void **state)
{
    (void)state;
    static const struct bad_value bad[] = {
        {"time-limit", "0", -ERANGE, "limits.time_ms"},
        {"time-limit", "600001", -ERANGE, "limits.time_ms"},
        {"time-limit", "-1", -EINVAL, "limits.time_ms"},
        {"time-limit", " 5", -EINVAL, "limits.time_ms"},
        {"time-limit", "5ms", -EINVAL, "limits.time_ms"},
        {"time-limit", "", -EINVAL, "limits.time_ms"},
        {"time-limit", "99999999999999999999999", -ERANGE, "limits.time_ms"},
        {"memory-limit", "65537", -ERANGE, "limits.memory_mb"},
        {"max-processes", "0", -ERANGE, "limits.max_processes"},
        {"max-output", "0", -ERANGE, "limits.max_output_kb"},
        {"max-time-limit", "600001", -ERANGE, "max_limits.time_ms"},
        {"max-wall-time-limit", "3600001", -ERANGE, "max_limits.wall_time_ms"},
        {"max-memory-limit", "65537", -ERANGE, "max_limits.memory_mb"},
        {"max-processes-limit", "4097", -ERANGE, "max_limits.max_processes"},
        {"max-output-limit", "1048577", -ERANGE, "max_limits.max_output_kb"},
        {"max-file-size-limit", "4194305", -ERANGE, "max_limits.max_file_kb"},
        {"max-open-files-limit", "65537", -ERANGE, "max_limits.max_open_files"},
        {"max-stack-limit", "4194305", -ERANGE, "max_limits.stack_kb"},
        {"first-uid", "999", -ERANGE, "sandbox.first_uid"},
        {"first-uid", "4000000001", -ERANGE, "sandbox.first_uid"},
        {"uid-count", "65537", -ERANGE, "sandbox.uid_count"},
        {"warm-boxes", "1025", -ERANGE, "sandbox.warm_boxes"},
        {"landlock", "maybe", -EINVAL, "sandbox.landlock"},
        {"cgroup-name", "a/b", -EINVAL, "sandbox.cgroup_name"},
        {"cgroup-name", "..", -EINVAL, "sandbox.cgroup_name"},
        {"cgroup-name", "", -EINVAL, "sandbox.cgroup_name"},
        {"cgroup-name", "0123456789012345678901234567890123456789012345678901234567890123", -EINVAL,
         "sandbox.cgroup_name"},
        {"run-dir", "run/moat", -EINVAL, "sandbox.run_dir"},
        {"run-dir", "/run/../etc", -EINVAL, "sandbox.run_dir"},
        {"run-dir", "/run/x\n", -EINVAL, "sandbox.run_dir"},
        {"listen", "8080", -EINVAL, "server.listen"},
        {"listen", "host:65536", -EINVAL, "server.listen"},
        {"listen", ":80", -EINVAL, "server.listen"},
        {"data-dir", "", -EINVAL, "server.data_dir"},
        {"workers", "1025", -ERANGE, "server.workers"},
        {"max-queue", "0", -ERANGE, "server.max_queue"},
        {"max-wait", "600001", -ERANGE, "server.max_wait_ms"},
        {"no-exec", "2", -EINVAL, "server.no_exec"},
        {"retry-attempts", "0", -ERANGE, "retry.attempts"},
        {"retry-attempts", "101", -ERANGE, "retry.attempts"},
        {"retry-factor", "11", -ERANGE, "retry.factor"},
        {"log-level", "verbose", -EINVAL, "log.level"},
        {"log-level", "INFO", -EINVAL, "log.level"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        struct moat_config c, before;
        struct moat_err err = {0};
        config_defaults(&c);
        before = c;
        int r = config_set(&c, bad[i].name, bad[i].value, &err);
        if (r != bad[i].code || strcmp(err.field, bad[i].key) != 0)
            fail_msg("%s=%s: got %d field '%s' (%s)", bad[i].name, bad[i].value, r, err.field,
                     err.msg);
        assert_memory_equal(&c, &before, sizeof(c));
        assert_non_null(strstr(err.msg, bad[i].key));
    }
}

static void test_ranges_accept_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value;
    } ok[] = {
        {"time-limit", "1"},         {"time-limit", "600000"},  {"wall-time-limit", "0"},
        {"max-file-size", "0"},      {"first-uid", "1000"},     {"first-uid", "4000000000"},
        {"uid-count", "65536"},      {"warm-boxes", "0"},       {"workers", "1024"},
        {"max-wait", "0"},           {"retry-attempts", "100"}, {"retry-factor", "1"},
        {"cgroup-name", "Moat-2_x"}, {"listen", "0.0.0.0:0"},   {"listen", "localhost:65535"},
        {"languages", ""},           {"landlock", "No"},        {"log-level", "warn"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(ok); i++) {
        struct moat_config c;
        struct moat_err err = {0};
        config_defaults(&c);
        if (config_set(&c, ok[i].name, ok[i].value, &err) != 0)
            fail_msg("%s=%s refused: %s", ok[i].name, ok[i].value, err.msg);
    }
    struct moat_config c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "first-uid", "4000000000", NULL), 0);
    assert_true(c.first_uid == 4000000000u);
    /* a string of exactly the field's capacity fits, one more does not */
    char name[64];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(config_set(&c, "cgroup-name", name, NULL), 0);
    assert_int_equal(strlen(c.cgroup_name), 63);
}

static void expect_ini_error(const char *text, int code, const char *field, const char *msg)
{
    struct moat_config c;
    struct moat_err err = {0};
    config_defaults(&c);
    int r = config_apply_ini(&c, text, "test.ini", &err);
    if (r != code || strcmp(err.field, field) != 0 || !strstr(err.msg, msg))
        fail_msg("got %d field '%s' msg '%s'; want %d '%s' '%s'", r, err.field, err.msg, code,
                 field, msg);
}

static void test_ini_errors(void **state)
{
    (void)state;
    expect_ini_error("[limits]\ntime_ms = 5\n\ntim_ms = 4\n", -EINVAL, "limits.tim_ms",
                     "test.ini:4: unknown key 'tim_ms' in section [limits]");
    expect_ini_error("[limts]\ntime_ms = 5\n", -EINVAL, "limts.time_ms",
                     "test.ini:2: unknown section [limts]");
    expect_ini_error("time_ms = 5\n", -EINVAL, "time_ms", "test.ini:1: key 'time_ms' outside");
    expect_ini_error("[limits]\nTime_ms = 5\n", -EINVAL, "limits.Time_ms", "test.ini:2:");
    expect_ini_error("[limits]\ntime_ms = 0\n", -ERANGE, "limits.time_ms",
                     "test.ini:2: limits.time_ms: '0' is out of range 1..600000");
    expect_ini_error("[limits]\nmemory_mb = lots\n", -EINVAL, "limits.memory_mb",
                     "test.ini:2: limits.memory_mb: 'lots' is not a whole number");
    expect_ini_error("[limits]\ntime_ms = 5\n[sandbox]\n[limits]\ntime_ms = 6\n", -EINVAL,
                     "limits.time_ms", "test.ini:5: limits.time_ms given twice (first on line 2)");
    /* an indented line continues the value in inih: refused, not appended */
    expect_ini_error("[limits]\ntime_ms = 5\n  6\n", -EINVAL, "limits.time_ms", "test.ini:3:");
    expect_ini_error("[limits]\ntime_ms = 5\nthis is not ini\n[log]\nlevel = loud\n", -EINVAL, "",
                     "test.ini:3: syntax error");
    expect_ini_error("[limits\ntime_ms = 5\n", -EINVAL, "", "test.ini:1: syntax error");
    expect_ini_error("[log]\nlevel = loud\nnot ini\n", -EINVAL, "log.level",
                     "test.ini:2: log.level: 'loud' is not one of error|warn|info|debug");

    /* a line longer than inih's buffer is refused, not split into two */
    char text[400];
    int n = snprintf(text, sizeof(text), "[sandbox]\nrun_dir = /");
    memset(text + n, 'x', 250);
    memcpy(text + n + 250, "\n", 2);
    expect_ini_error(text, -EINVAL, "", "test.ini:2: line longer than 197 characters");

    /* the longest line accepted: 197 characters and its newline */
    struct moat_config c;
    config_defaults(&c);
    n = snprintf(text, sizeof(text), "[sandbox]\nrun_dir = /");
    memset(text + n, 'y', 197 - 11);
    memcpy(text + n + 197 - 11, "\r\n", 3);
    assert_int_equal(config_apply_ini(&c, text, "test.ini", NULL), 0);
    assert_int_equal(strlen(c.run_dir), 197 - 10);

    /* empty text and comment-only text change nothing */
    struct moat_config d;
    config_defaults(&d);
    config_defaults(&c);
    assert_int_equal(config_apply_ini(&c, "", "empty.ini", NULL), 0);
    assert_int_equal(config_apply_ini(&c, "; nothing\n\n# here\n", "c.ini", NULL), 0);
    assert_memory_equal(&c, &d, sizeof(c));
}

static void test_env_errors(void **state)
{
    (void)state;
    struct moat_config c;
    struct moat_err err = {0};
    char *env[] = {E("MOAT_TIME_LIMIT=5000"), E("MOAT_MEMORY_LIMIT=12x"), NULL};
    c.limits.time_ms = 1;
    assert_int_equal(config_load(&c, NULL, env, &err), -EINVAL);
    assert_string_equal(err.field, "limits.memory_mb");
    assert_non_null(strstr(err.msg, "MOAT_MEMORY_LIMIT"));
    assert_non_null(strstr(err.msg, "12x"));
    assert_int_equal(c.limits.time_ms, 1); /* config_load wrote nothing */

    /* control characters of a hostile value never reach the message */
    char *env2[] = {E("MOAT_LOG_LEVEL=\x1b[31mred\nfake=line"), NULL};
    assert_int_equal(config_load(&c, NULL, env2, &err), -EINVAL);
    assert_null(strchr(err.msg, '\x1b'));
    assert_null(strchr(err.msg, '\n'));

    /* a bad ini value stops the load before the environment is read */
    write_text("moat.ini", "[limits]\nstack_kb = 0\n", 0644);
    assert_int_equal(config_load(&c, NULL, NULL, &err), -ERANGE);
    assert_string_equal(err.field, "limits.stack_kb");
    assert_non_null(strstr(err.msg, "moat.ini:2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ini_overrides_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ini_path_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ini_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides_ini, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_overrides_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_accept_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ini_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
