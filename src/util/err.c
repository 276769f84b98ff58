/* Error detail, cleanup helpers and the always-on assertion. */
#include "moat/util.h"

static int err_vset(struct moat_err *err, int code, const char *field, const char *fmt,
                    va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    moat_strlcpy(err->field, field ? field : "", sizeof(err->field));
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int moat_err_set(struct moat_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = err_vset(err, code, NULL, fmt, ap);
    va_end(ap);
    return r;
}

int moat_err_field(struct moat_err *err, int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = err_vset(err, code, field, fmt, ap);
    va_end(ap);
    return r;
}

void moat_freep(void *p)
{
    free(*(void **)p);
}

void moat_closep(const int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        (void)close(*fd);
        errno = saved;
    }
}

void moat_fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}

void moat_assert_fail(const char *expr, const char *file, int line)
{
    (void)fprintf(stderr, "moat: assertion failed: %s at %s:%d\n", expr, file, line);
    abort();
}
