/*
 * The error body of API.md. Messages and fields may quote what a client
 * sent (a key, a language name) cut to a fixed size, so they can hold
 * invalid UTF-8 (a sequence cut in half): they go through job_json_bytes,
 * which repairs them, instead of json_string, which would refuse them and
 * turn a 400 into an allocation failure.
 */
#include <stdarg.h>
#include <stdio.h>

#include "api-internal.h"
#include "moat/util.h"

void api_error_set(struct api_error *e, unsigned status, const char *code, const char *field,
                   const char *fmt, ...)
{
    e->status = status;
    e->code = code;
    moat_strlcpy(e->field, field ? field : "", sizeof(e->field));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    if (n < 0)
        moat_strlcpy(e->message, code, sizeof(e->message));
}

json_t *api_error_json(const struct api_error *e)
{
    json_t *inner = json_object();
    json_t *outer = json_object();
    if (!inner || !outer)
        goto out;
    const char *code = e->code ? e->code : "internal";
    size_t mlen = strnlen(e->message, sizeof(e->message));
    size_t flen = strnlen(e->field, sizeof(e->field));
    /* set_new steals even on failure, so a NULL value only fails the call */
    if (json_object_set_new_nocheck(inner, "code", json_string(code)) < 0 ||
        json_object_set_new_nocheck(inner, "message", job_json_bytes(e->message, mlen)) < 0)
        goto out;
    if (flen > 0 && json_object_set_new_nocheck(inner, "field", job_json_bytes(e->field, flen)) < 0)
        goto out;
    if (json_object_set_new_nocheck(outer, "error", inner) < 0) {
        inner = NULL; /* stolen */
        goto out;
    }
    return outer;
out:
    json_decref(inner);
    json_decref(outer);
    return NULL;
}
