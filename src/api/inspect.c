/*
 * What a request's line and headers may carry before any route sees them.
 *
 * C reads a name up to its first NUL: "?language=py%00thon" would be read
 * as "py", "/v1/jobs/<id>%00junk" as the job's own path (and a DELETE of it
 * would act on the real job). Every decoded path, query name and value and
 * every header value with a control byte is refused whole, naming the field
 * at fault. A Transfer-Encoding other than chunked leaves the body without
 * an end libmicrohttpd could find: refused at once (501, as RFC 9112 says),
 * instead of a connection that waits for ever.
 */
#include <strings.h>

#include "server-internal.h"

/* A control byte (NUL included), or DEL; tab only where allowed. */
static bool has_control(const char *s, size_t n, bool tab_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f)
            return true;
    }
    return false;
}

struct finding {
    bool found;
    char field[64];
};

/* The name of a field as it may be quoted back: printable, bounded. */
static void name_field(struct finding *f, const char *prefix, const char *key, size_t n)
{
    size_t w = (size_t)snprintf(f->field, sizeof(f->field), "%s", prefix);
    for (size_t i = 0; i < n && w + 1 < sizeof(f->field); i++) {
        unsigned char c = (unsigned char)key[i];
        f->field[w++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    f->field[w < sizeof(f->field) ? w : sizeof(f->field) - 1] = '\0';
    f->found = true;
}

static enum MHD_Result check_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct finding *f = cls;
    if (has_control(key, key_size, false) || (value && has_control(value, value_size, false))) {
        name_field(f, "", key, key_size);
        return MHD_NO; /* stop at the first */
    }
    return MHD_YES;
}

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct finding *f = cls;
    if (has_control(key, key_size, false) || (value && has_control(value, value_size, true))) {
        name_field(f, "", key, key_size);
        return MHD_NO;
    }
    return MHD_YES;
}

bool api_inspect_request(struct api_req *rq, const char *url)
{
    struct MHD_Connection *c = rq->conn;
    struct finding f = {0};
    (void)MHD_get_connection_values_n(c, MHD_HEADER_KIND, check_header, &f);
    if (f.found) {
        api_reply_fail(rq, 400, "bad_request", f.field,
                       "the header %s holds a control character", f.field);
        return false;
    }
    /* A query or path escape that decoded to a control byte (the guard's
     * unescape saw it): the query names the field when it is there. */
    if (api_guard_bad_escape(c) || has_control(url, strlen(url), false)) {
        (void)MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, check_argument, &f);
        if (!f.found)
            moat_strlcpy(f.field, "path", sizeof(f.field));
        api_reply_fail(rq, 400, "bad_request", f.field,
                       "the %s%s holds a control character (such as %%00)",
                       f.found ? "query argument " : "", f.field);
        return false;
    }
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "chunked") != 0) {
        rq->answer_now = true; /* no way to tell where the body ends */
        api_reply_fail(rq, 501, "unsupported_transfer_encoding", "Transfer-Encoding",
                       "Transfer-Encoding %.40s is not supported; send the body as is or "
                       "chunked",
                       te);
        return false;
    }
    return true;
}
