/* Cross-field validation and the check of a request's limits against the
 * configured maxima. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/util.h"

static void expect_invalid(const struct moat_config *c, int code, const char *field,
                           const char *msg)
{
    struct moat_err err = {0};
    int r = config_validate(c, &err);
    if (r != code || strcmp(err.field, field) != 0 || !strstr(err.msg, msg))
        fail_msg("got %d field '%s' msg '%s'; want %d '%s' '%s'", r, err.field, err.msg, code,
                 field, msg);
}

static void test_default_above_max(void **state)
{
    (void)state;
    struct moat_config c;

    config_defaults(&c);
    assert_int_equal(config_validate(&c, NULL), 0);
    assert_int_equal(config_set(&c, "time-limit", "20000", NULL), 0); /* in its own range */
    expect_invalid(&c, -ERANGE, "limits.time_ms",
                   "limits.time_ms (20000) is above max_limits.time_ms (10000)");
    /* raising the maximum makes it valid */
    assert_int_equal(config_set(&c, "max-time-limit", "20000", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);

    static const struct {
        const char *flag, *value, *key, *max_key;
    } each[] = {
        {"wall-time-limit", "60001", "limits.wall_time_ms", "max_limits.wall_time_ms"},
        {"memory-limit", "1025", "limits.memory_mb", "max_limits.memory_mb"},
        {"max-processes", "257", "limits.max_processes", "max_limits.max_processes"},
        {"max-output", "16385", "limits.max_output_kb", "max_limits.max_output_kb"},
        {"max-file-size", "262145", "limits.max_file_kb", "max_limits.max_file_kb"},
        {"max-open-files", "4097", "limits.max_open_files", "max_limits.max_open_files"},
        {"stack-limit", "1048577", "limits.stack_kb", "max_limits.stack_kb"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(each); i++) {
        config_defaults(&c);
        assert_int_equal(config_set(&c, each[i].flag, each[i].value, NULL), 0);
        expect_invalid(&c, -ERANGE, each[i].key, each[i].max_key);
    }

    /* a default equal to its maximum is fine */
    config_defaults(&c);
    assert_int_equal(config_set(&c, "memory-limit", "1024", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);
}

static void test_derived_wall(void **state)
{
    (void)state;
    struct moat_config c;
    config_defaults(&c);
    /* 2 * 3000 + 1000 = 7000 */
    assert_int_equal(config_set(&c, "max-wall-time-limit", "6999", NULL), 0);
    expect_invalid(&c, -ERANGE, "limits.wall_time_ms", "= 7000");
    assert_int_equal(config_set(&c, "max-wall-time-limit", "7000", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);
    /* an explicit wall time below the derived one is fine */
    assert_int_equal(config_set(&c, "max-wall-time-limit", "5000", NULL), 0);
    assert_int_equal(config_set(&c, "wall-time-limit", "5000", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);
}

static void test_other_cross_checks(void **state)
{
    (void)state;
    struct moat_config c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "max-code", "2561", NULL), 0);
    expect_invalid(&c, -ERANGE, "server.max_code_kb", "server.max_body_kb");
    config_defaults(&c);
    assert_int_equal(config_set(&c, "max-stdin", "2561", NULL), 0);
    expect_invalid(&c, -ERANGE, "server.max_stdin_kb", "server.max_body_kb");
    config_defaults(&c);
    assert_int_equal(config_set(&c, "uid-count", "3", NULL), 0);
    assert_int_equal(config_set(&c, "workers", "4", NULL), 0);
    expect_invalid(&c, -ERANGE, "sandbox.warm_boxes", "one per worker");
    config_defaults(&c);
    assert_int_equal(config_set(&c, "uid-count", "3", NULL), 0);
    assert_int_equal(config_set(&c, "warm-boxes", "4", NULL), 0);
    expect_invalid(&c, -ERANGE, "sandbox.warm_boxes", "sandbox.uid_count");
}

/* Settings that would silently cap each other are refused: 8 executors
 * with 4 boxes ran 4 jobs at a time. Derived values follow what they
 * derive from. */
static void test_dependent_settings(void **state)
{
    (void)state;
    struct moat_config c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "workers", "8", NULL), 0);
    assert_int_equal(config_warm_boxes(&c), 8);
    assert_int_equal(config_validate(&c, NULL), 0);
    assert_int_equal(config_set(&c, "warm-boxes", "4", NULL), 0);
    expect_invalid(&c, -ERANGE, "sandbox.warm_boxes", "below server.workers");
    assert_int_equal(config_set(&c, "warm-boxes", "8", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);
    assert_int_equal(config_set(&c, "warm-boxes", "12", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0); /* more boxes than executors is fine */
    /* an API-only node runs no jobs: its boxes do not matter */
    assert_int_equal(config_set(&c, "warm-boxes", "1", NULL), 0);
    assert_int_equal(config_set(&c, "no-exec", "true", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);
    /* 0 workers: one per CPU, and as many boxes */
    config_defaults(&c);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(config_workers(&c), cpus > 0 ? (uint64_t)cpus : 1);
    assert_int_equal(config_warm_boxes(&c), config_workers(&c));
    config_defaults(&c);
    assert_int_equal(config_set(&c, "connection-reserve", "4096", NULL), 0);
    expect_invalid(&c, -ERANGE, "server.connection_reserve", "server.max_connections");
    assert_int_equal(config_set(&c, "connection-reserve", "4095", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);
}

static void test_validate_rechecks_fields(void **state)
{
    (void)state;
    /* values written into the struct directly, bypassing config_set */
    struct moat_config c;
    config_defaults(&c);
    c.limits.time_ms = 0;
    expect_invalid(&c, -ERANGE, "limits.time_ms", "out of range");
    config_defaults(&c);
    c.retry_factor = 11;
    expect_invalid(&c, -ERANGE, "retry.factor", "out of range");
    config_defaults(&c);
    moat_strlcpy(c.log_level, "loud", sizeof(c.log_level));
    expect_invalid(&c, -EINVAL, "log.level", "log.level");
    config_defaults(&c);
    moat_strlcpy(c.cgroup_name, "../x", sizeof(c.cgroup_name));
    expect_invalid(&c, -EINVAL, "sandbox.cgroup_name", "sandbox.cgroup_name");
    config_defaults(&c);
    memset(c.run_dir, 'a', sizeof(c.run_dir)); /* no NUL */
    expect_invalid(&c, -EINVAL, "sandbox.run_dir", "not terminated");
}

static void test_wall_ms(void **state)
{
    (void)state;
    struct moat_limits l = {.time_ms = 3000};
    assert_int_equal(config_wall_ms(&l), 7000);
    l.wall_time_ms = 42;
    assert_int_equal(config_wall_ms(&l), 42);
    l = (struct moat_limits){.time_ms = UINT64_MAX / 2};
    assert_true(config_wall_ms(&l) == UINT64_MAX); /* saturates */
}

static void expect_limits(const struct moat_config *c, const struct moat_limits *w, int code,
                          const char *field, const char *msg)
{
    struct moat_err err = {0};
    int r = config_check_limits(c, w, &err);
    if (r != code || strcmp(err.field, field) != 0 || (msg && strcmp(err.msg, msg) != 0))
        fail_msg("got %d field '%s' msg '%s'; want %d '%s' '%s'", r, err.field, err.msg, code,
                 field, msg ? msg : "");
}

static void test_check_limits_fields(void **state)
{
    (void)state;
    struct moat_config c;
    config_defaults(&c);
    const struct moat_limits ok = c.limits;
    struct moat_limits w;

    expect_limits(&c, &ok, 0, "", NULL);
    w = c.max_limits; /* exactly the maxima */
    expect_limits(&c, &w, 0, "", NULL);

    static const struct {
        size_t off;
        const char *field;
        uint64_t max;
    } each[] = {
        {offsetof(struct moat_limits, time_ms), "timeoutMs", 10000},
        {offsetof(struct moat_limits, wall_time_ms), "wallTimeoutMs", 60000},
        {offsetof(struct moat_limits, memory_mb), "memoryMb", 1024},
        {offsetof(struct moat_limits, max_processes), "maxProcesses", 256},
        {offsetof(struct moat_limits, max_output_kb), "maxOutputKb", 16384},
        {offsetof(struct moat_limits, max_file_kb), "maxFileKb", 262144},
        {offsetof(struct moat_limits, max_open_files), "maxOpenFiles", 4096},
        {offsetof(struct moat_limits, stack_kb), "stackKb", 1048576},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(each); i++) {
        char msg[128];
        w = ok;
        uint64_t *v = (uint64_t *)(void *)((char *)&w + each[i].off);
        *v = each[i].max + 1;
        (void)snprintf(msg, sizeof(msg), "%s must be at most %" PRIu64, each[i].field, each[i].max);
        expect_limits(&c, &w, -ERANGE, each[i].field, msg);
        *v = UINT64_MAX;
        expect_limits(&c, &w, -ERANGE, each[i].field, msg);
    }

    /* zero is refused where it makes no sense */
    static const struct {
        size_t off;
        const char *field;
    } zero[] = {
        {offsetof(struct moat_limits, time_ms), "timeoutMs"},
        {offsetof(struct moat_limits, memory_mb), "memoryMb"},
        {offsetof(struct moat_limits, max_processes), "maxProcesses"},
        {offsetof(struct moat_limits, max_output_kb), "maxOutputKb"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(zero); i++) {
        char msg[128];
        w = ok;
        *(uint64_t *)(void *)((char *)&w + zero[i].off) = 0;
        (void)snprintf(msg, sizeof(msg), "%s must be at least 1", zero[i].field);
        expect_limits(&c, &w, -EINVAL, zero[i].field, msg);
    }
    /* no file writes at all is a legitimate request; wall 0 means derived */
    w = ok;
    w.max_file_kb = 0;
    w.wall_time_ms = 0;
    expect_limits(&c, &w, 0, "", NULL);

    /* the maxima are the configured ones, not the defaults */
    assert_int_equal(config_set(&c, "max-memory-limit", "2048", NULL), 0);
    w = ok;
    w.memory_mb = 2048;
    expect_limits(&c, &w, 0, "", NULL);
    w.memory_mb = 2049;
    expect_limits(&c, &w, -ERANGE, "memoryMb", "memoryMb must be at most 2048");
}

static void test_check_limits_derived_wall(void **state)
{
    (void)state;
    struct moat_config c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "max-wall-time-limit", "8000", NULL), 0);
    struct moat_limits w = c.limits;
    w.time_ms = 3500; /* derives 8000 */
    expect_limits(&c, &w, 0, "", NULL);
    w.time_ms = 3501; /* derives 8002 */
    expect_limits(&c, &w, -ERANGE, "wallTimeoutMs", NULL);
    w.wall_time_ms = 8000; /* asking explicitly is fine */
    expect_limits(&c, &w, 0, "", NULL);
}

/* The backends: the names moat knows and the URL schemes it speaks; a
 * password never reaches a log line. */
static void test_backends(void **state)
{
    (void)state;
    struct moat_config c;
    config_defaults(&c);
    assert_true(config_store_embedded(&c));
    assert_true(config_queue_local(&c));
    static const char *const good_stores[] = {"sqlite", "postgres://moat@db/moat",
                                              "postgresql://h:5432/x?sslmode=require"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(good_stores); i++) {
        assert_int_equal(config_set(&c, "store", good_stores[i], NULL), 0);
        assert_int_equal(config_validate(&c, NULL), 0);
        assert_int_equal(config_store_embedded(&c), i == 0);
    }
    static const char *const bad_stores[] = {"SQLite", "mysql://db", "postgres:/x", "redis://"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad_stores); i++) {
        config_defaults(&c);
        assert_int_equal(config_set(&c, "store", bad_stores[i], NULL), 0);
        expect_invalid(&c, -EINVAL, "server.store", "sqlite or a postgres:// URL");
    }
    config_defaults(&c);
    assert_int_equal(config_set(&c, "queue", "nats://a:4222,nats://b:4222", NULL), 0);
    assert_int_equal(config_validate(&c, NULL), 0);
    assert_false(config_queue_local(&c));
    assert_int_equal(config_set(&c, "queue", "redis://q", NULL), 0);
    expect_invalid(&c, -EINVAL, "server.queue", "local or a nats:// URL");
    assert_int_equal(config_set(&c, "queue", "", NULL), -EINVAL); /* never empty */

    static const struct {
        const char *in, *out;
    } redact[] = {
        {"postgres://moat:s3cret@db:5432/moat", "postgres://moat:***@db:5432/moat"},
        {"postgres://moat@db/moat", "postgres://moat@db/moat"},
        {"nats://user:pw@n1:4222", "nats://user:***@n1:4222"},
        {"sqlite", "sqlite"},
        {"postgres://db/moat?password=x", "postgres://db/moat?password=***"},
        {"postgres://db/m?sslmode=require&password=x&user=u",
         "postgres://db/m?sslmode=require&password=***&user=u"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(redact); i++) {
        char out[128];
        config_redact_url(redact[i].in, out, sizeof(out));
        assert_string_equal(out, redact[i].out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_above_max),
        cmocka_unit_test(test_derived_wall),
        cmocka_unit_test(test_other_cross_checks),
        cmocka_unit_test(test_dependent_settings),
        cmocka_unit_test(test_validate_rechecks_fields),
        cmocka_unit_test(test_wall_ms),
        cmocka_unit_test(test_check_limits_fields),
        cmocka_unit_test(test_check_limits_derived_wall),
        cmocka_unit_test(test_backends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
