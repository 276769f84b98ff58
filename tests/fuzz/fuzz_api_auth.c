/*
 * The lists auth.c reads from settings and compares request headers with
 * (auth.cors_origins against Origin, a key's languages against a job's),
 * the listen address it classifies, and the jobs-per-minute bucket. Input:
 * "LIST\nITEM\n..." (cut at the first NUL). Checked:
 *  - no crash on any list, item, address or Authorization header (the
 *    first line); a Bearer token found is non-empty, spaceless, inside;
 *  - an item that is a clean entry of its own list (no comma, no space at
 *    its ends, not empty) is allowed by it, as an origin and a language;
 *    "*" allows any origin and no language;
 *  - at one instant, a bucket of n per minute takes exactly n.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/auth.h"

#include "fuzz.h"

static bool clean_entry(const char *s)
{
    size_t n = strlen(s);
    return n && !strchr(s, ',') && s[0] != ' ' && s[n - 1] != ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    const char *list = text, *item = "";
    if (nl) {
        *nl = '\0';
        item = nl + 1;
        char *end = strchr(nl + 1, '\n');
        if (end)
            *end = '\0';
    }
    (void)api_origin_allowed(list, item);
    (void)api_language_allowed(list, item);
    (void)api_listen_loopback(list);
    (void)api_listen_loopback(item);
    (void)api_open_path(item);
    const char *token = api_bearer_token(list);
    if (token) {
        CHECK(token > list && token <= list + strlen(list) && *token && !strchr(token, ' '));
        CHECK(strncasecmp(list, "bearer ", 7) == 0);
    }
    if (clean_entry(item)) {
        CHECK(api_origin_allowed(item, item));
        CHECK(api_language_allowed(item, item));
        CHECK(api_origin_allowed("*", item));
        CHECK(strcmp(item, "*") == 0 || !api_language_allowed("*", item));
    }
    uint64_t per_minute = size ? (uint64_t)data[0] * 4 + 1 : 1;
    int64_t tat = 0, now = size > 1 ? (int64_t)data[1] * 1000003 : 0;
    struct api_rate r;
    uint64_t taken = 0;
    for (uint64_t i = 0; i < per_minute + 3; i++)
        taken += api_rate_take(&tat, per_minute, now, &r);
    CHECK(taken == per_minute);
    CHECK(r.retry_after_s >= 1 && r.retry_after_s <= 60 && r.remaining == 0);
    free(text);
    return 0;
}
