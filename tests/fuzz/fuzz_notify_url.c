/*
 * A callbackUrl comes from any client and webhooks.allow from the
 * operator's file: their checks must answer, never crash, for any bytes.
 * The input, cut at its first NUL, is checked as a URL (with an allow-list
 * of loopback) and parsed as an allow-list:
 *  - a URL accepted is at most JOB_CALLBACK_URL_MAX bytes, http or https,
 *    with a host, a port in 1..65535, and, when its host is a literal
 *    address, one the check lets through (so never a refused range other
 *    than the allowed loopback);
 *  - a URL refused says why, naming callbackUrl;
 *  - an allow-list either parses (at most NOTIFY_ALLOW_MAX entries, each a
 *    valid prefix) or fails naming webhooks.allow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "moat/notify.h"
#include "moat/util.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = moat_memdup0(data, size);
    if (!text)
        return 0;
    struct notify_allow lo, al;
    struct moat_err err = {0};
    CHECK(notify_allow_parse("127.0.0.1/32,::1/128", &lo, &err) == 0);

    struct notify_url u;
    memset(&u, 0x5a, sizeof(u));
    err = (struct moat_err){0};
    int r = notify_url_check(text, &lo, &u, &err);
    if (r == 0) {
        CHECK(strlen(text) <= JOB_CALLBACK_URL_MAX);
        CHECK(strncasecmp(text, "http", 4) == 0);
        CHECK(memchr(u.host, '\0', sizeof(u.host)) && u.host[0]);
        CHECK(u.port >= 1 && u.port <= 65535);
        if (u.literal)
            CHECK(notify_addr_check(&lo, &u.addr) == NOTIFY_ADDR_OK);
    } else {
        CHECK(r == -EINVAL || r == -ENOMEM);
        CHECK(r == -ENOMEM || strcmp(err.field, "callbackUrl") == 0);
        CHECK(err.msg[0]);
    }

    err = (struct moat_err){0};
    r = notify_allow_parse(text, &al, &err);
    if (r == 0) {
        CHECK(al.n <= NOTIFY_ALLOW_MAX);
        for (size_t i = 0; i < al.n; i++)
            CHECK(al.cidr[i].prefix <= (al.cidr[i].net.v6 ? 128u : 32u));
    } else {
        CHECK(r == -EINVAL || r == -E2BIG);
        CHECK(strcmp(err.field, "webhooks.allow") == 0);
    }
    free(text);
    return 0;
}
