/*
 * What differs between two configurations, by key: a reload (SIGHUP) tells
 * which of the changed settings it applied and which wait for a restart.
 */
#include "config-internal.h"

size_t config_changed(const struct moat_config *a, const struct moat_config *b,
                      const char **keys, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < config_n_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        const char *pa = (const char *)a + s->offset;
        const char *pb = (const char *)b + s->offset;
        bool same = s->type == CONFIG_STRING ? strncmp(pa, pb, s->size) == 0
                                             : memcmp(pa, pb, s->size) == 0;
        if (same)
            continue;
        if (n < max)
            keys[n] = s->key;
        n++;
    }
    return n;
}
