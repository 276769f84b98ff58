/*
 * The keys of a JSON object in dump order, joined by "," (the shape checks
 * of the job and API renderers). Static inline; include after <cmocka.h>,
 * <jansson.h> and moat/util.h.
 */
#ifndef MOAT_TEST_JSON_KEYS_H
#define MOAT_TEST_JSON_KEYS_H

static inline void keys_of(const json_t *obj, char *out, size_t outsz)
{
    struct buf b;
    buf_init(&b, outsz - 1);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        assert_int_equal(buf_printf(&b, "%s%s", b.len ? "," : "", key), 0);
    }
    assert_int_equal(buf_terminate(&b), 0);
    (void)moat_strlcpy(out, b.data, outsz);
    buf_release(&b);
}

#endif
