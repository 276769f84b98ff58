/*
 * What a callback may reach. A callback makes moat a client of a URL its
 * submitter chose: without these rules it is a way into the network moat
 * runs in (Judge0's SSRF lesson: cloud metadata, an admin port on
 * loopback, a database on a private address). Every address a host name
 * resolves to is classified, and IPv6 forms that carry an IPv4 address
 * (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4
 * 2002::/16) are classified by that IPv4 address, so that ::ffff:127.0.0.1
 * is loopback.
 */
#include <arpa/inet.h>
#include <ctype.h>

#include "moat/notify.h"
#include "moat/util.h"

static const char *const class_names[NOTIFY_ADDR_CLASS_MAX_] = {
    [NOTIFY_ADDR_OK] = "",
    [NOTIFY_ADDR_UNSPECIFIED] = "unspecified",
    [NOTIFY_ADDR_LOOPBACK] = "loopback",
    [NOTIFY_ADDR_PRIVATE] = "private",
    [NOTIFY_ADDR_LINK_LOCAL] = "link-local",
    [NOTIFY_ADDR_METADATA] = "cloud metadata",
    [NOTIFY_ADDR_CGNAT] = "shared (CGNAT)",
    [NOTIFY_ADDR_MULTICAST] = "multicast",
    [NOTIFY_ADDR_RESERVED] = "reserved",
};

const char *notify_addr_class_name(enum notify_addr_class c)
{
    return (unsigned)c < (unsigned)NOTIFY_ADDR_CLASS_MAX_ ? class_names[c] : "";
}

static enum notify_addr_class classify4(const uint8_t *b)
{
    if (b[0] == 169 && b[1] == 254 && b[2] == 169 && b[3] == 254)
        return NOTIFY_ADDR_METADATA;
    if (b[0] == 0)
        return NOTIFY_ADDR_UNSPECIFIED;
    if (b[0] == 127)
        return NOTIFY_ADDR_LOOPBACK;
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168))
        return NOTIFY_ADDR_PRIVATE;
    if (b[0] == 169 && b[1] == 254)
        return NOTIFY_ADDR_LINK_LOCAL;
    if (b[0] == 100 && (b[1] & 0xc0) == 64)
        return NOTIFY_ADDR_CGNAT;
    if ((b[0] & 0xf0) == 224)
        return NOTIFY_ADDR_MULTICAST;
    if ((b[0] & 0xf0) == 240) /* 240/4, 255.255.255.255 among them */
        return NOTIFY_ADDR_RESERVED;
    return NOTIFY_ADDR_OK;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* The IPv4 address an IPv6 address carries, or NULL. */
static const uint8_t *embedded4(const uint8_t *b)
{
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    if (all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff)
        return b + 12; /* ::ffff:a.b.c.d */
    if (all_zero(b, 12) && !all_zero(b + 12, 3))
        return b + 12; /* ::a.b.c.d (deprecated compatible form; ::1 excluded) */
    if (memcmp(b, nat64, sizeof(nat64)) == 0)
        return b + 12; /* 64:ff9b::a.b.c.d */
    if (b[0] == 0x20 && b[1] == 0x02)
        return b + 2; /* 2002:aabb:ccdd::/48 */
    return NULL;
}

enum notify_addr_class notify_addr_classify(const struct notify_addr *a)
{
    const uint8_t *b = a->b;
    if (!a->v6)
        return classify4(b);
    static const uint8_t ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02};
    if (memcmp(b, ec2, sizeof(ec2)) == 0)
        return NOTIFY_ADDR_METADATA;
    if (all_zero(b, 16))
        return NOTIFY_ADDR_UNSPECIFIED;
    if (all_zero(b, 15) && b[15] == 1)
        return NOTIFY_ADDR_LOOPBACK;
    const uint8_t *v4 = embedded4(b);
    if (v4)
        return classify4(v4);
    if ((b[0] & 0xfe) == 0xfc)
        return NOTIFY_ADDR_PRIVATE;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return NOTIFY_ADDR_LINK_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* site-local, deprecated: private */
        return NOTIFY_ADDR_PRIVATE;
    if (b[0] == 0xff)
        return NOTIFY_ADDR_MULTICAST;
    return NOTIFY_ADDR_OK;
}

int notify_addr_parse(const char *text, struct notify_addr *out)
{
    struct notify_addr a = {0};
    if (!text)
        return -EINVAL;
    if (inet_pton(AF_INET, text, a.b) == 1) {
        *out = a;
        return 0;
    }
    a.v6 = true;
    if (inet_pton(AF_INET6, text, a.b) == 1) {
        *out = a;
        return 0;
    }
    return -EINVAL;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* One "addr[/n]" entry of the list, trimmed, into the list. */
static int allow_add(struct notify_allow *al, const char *entry, struct moat_err *err)
{
    char text[64];
    if (strlen(entry) >= sizeof(text))
        return moat_err_field(err, -EINVAL, "webhooks.allow", "bad CIDR \"%.40s...\"", entry);
    moat_strlcpy(text, entry, sizeof(text));
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    struct notify_addr net;
    if (notify_addr_parse(text, &net) < 0)
        return moat_err_field(err, -EINVAL, "webhooks.allow", "bad CIDR \"%s\": not an address",
                              entry);
    unsigned max = net.v6 ? 128 : 32, prefix = max;
    if (slash) {
        uint64_t v;
        if (parse_u64(slash + 1, 0, max, &v) < 0)
            return moat_err_field(err, -EINVAL, "webhooks.allow",
                                  "bad CIDR \"%s\": the prefix must be 0..%u", entry, max);
        prefix = (unsigned)v;
    }
    if (al->n >= NOTIFY_ALLOW_MAX)
        return moat_err_field(err, -E2BIG, "webhooks.allow", "more than %d CIDRs",
                              NOTIFY_ALLOW_MAX);
    al->cidr[al->n].net = net;
    al->cidr[al->n].prefix = prefix;
    al->n++;
    return 0;
}

int notify_allow_parse(const char *text, struct notify_allow *out, struct moat_err *err)
{
    struct notify_allow al = {0};
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ')
            end++;
        if (end > p) {
            char entry[128];
            size_t n = (size_t)(end - p);
            if (n >= sizeof(entry))
                n = sizeof(entry) - 1;
            memcpy(entry, p, n);
            entry[n] = '\0';
            int r = allow_add(&al, entry, err);
            if (r < 0)
                return r;
        }
        p = end;
    }
    *out = al;
    return 0;
}

bool notify_allow_has(const struct notify_allow *al, const struct notify_addr *a)
{
    if (!al)
        return false;
    const uint8_t *v4 = NULL;
    if (a->v6 && all_zero(a->b, 10) && a->b[10] == 0xff && a->b[11] == 0xff)
        v4 = a->b + 12;
    for (size_t i = 0; i < al->n; i++) {
        const struct notify_addr *net = &al->cidr[i].net;
        if (net->v6 == a->v6 && prefix_match(a->b, net->b, al->cidr[i].prefix))
            return true;
        if (!net->v6 && v4 && prefix_match(v4, net->b, al->cidr[i].prefix))
            return true;
    }
    return false;
}

enum notify_addr_class notify_addr_check(const struct notify_allow *al, const struct notify_addr *a)
{
    if (notify_allow_has(al, a))
        return NOTIFY_ADDR_OK;
    return notify_addr_classify(a);
}
