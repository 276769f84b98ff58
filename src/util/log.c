/* logfmt lines on stderr: one write per line so that lines never interleave. */
#include "moat/util.h"

#include <time.h>

_Atomic enum log_level moat_log_level = LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

int moat_log_level_set(const char *name)
{
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(names); i++) {
        if (strcmp(name, names[i]) == 0) {
            moat_log_level = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void moat_log(enum log_level lvl, const char *fmt, ...)
{
    if (lvl > moat_log_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    (void)write_full(STDERR_FILENO, line, len);
}
