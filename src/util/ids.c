/*
 * UUIDv7 (RFC 9562 section 5.7) with the sub-millisecond fraction in rand_a
 * (section 6.2, method 3): ids made by one process sort by creation time
 * without a shared counter, so moat_uuid7 needs no lock and no state.
 */
#include "moat/util.h"

#include <sys/random.h>
#include <time.h>

static void fill_random(void *p, size_t len)
{
    unsigned char *b = p;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(b + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        /* getrandom cannot fail on Linux >= 3.17 once the pool is ready:
         * an id without entropy would be guessable, so fail closed. */
        MOAT_ASSERT(n > 0);
        got += (size_t)n;
    }
}

void moat_uuid7(char out[MOAT_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    /* 12 bits of the fraction of the current millisecond: 4096 steps of
     * about 244 ns each, increasing with time. */
    uint64_t frac = (((uint64_t)ts.tv_nsec % 1000000u) << 12) / 1000000u;

    unsigned char u[16];
    fill_random(u + 8, 8);
    for (int i = 0; i < 6; i++)
        u[i] = (unsigned char)(ms >> (40 - 8 * i));
    u[6] = (unsigned char)(0x70u | (frac >> 8)); /* version 7 */
    u[7] = (unsigned char)(frac & 0xffu);
    u[8] = (unsigned char)(0x80u | (u[8] & 0x3fu)); /* variant 10 */

    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 0xfu];
    }
    out[o] = '\0';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool moat_uuid_valid(const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < MOAT_UUID_LEN; i++) {
        /* A NUL before the end fails both tests below. */
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!is_hex(s[i])) {
            return false;
        }
    }
    return s[MOAT_UUID_LEN] == '\0';
}
