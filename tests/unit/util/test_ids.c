/* UUIDv7 layout and order, SHA-256 and strict base64 against the RFC
 * vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <time.h>

#include "moat/util.h"

static unsigned hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    return (unsigned)(c - 'a' + 10);
}

static void test_uuid7_layout(void **state)
{
    (void)state;
    char id[MOAT_UUID_LEN + 1];
    uint64_t before = moat_realtime_ms();
    moat_uuid7(id);
    uint64_t after = moat_realtime_ms();
    assert_int_equal(strlen(id), MOAT_UUID_LEN);
    assert_true(moat_uuid_valid(id));
    for (size_t i = 0; i < MOAT_UUID_LEN; i++)
        if (id[i] != '-')
            assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
    assert_int_equal(id[14], '7');               /* version */
    assert_true(strchr("89ab", id[19]) != NULL); /* variant 10 */
    uint64_t ms = 0;
    for (size_t i = 0; i < 13; i++) {
        if (id[i] == '-')
            continue;
        ms = ms << 4 | hexval(id[i]);
    }
    assert_true(ms >= before && ms <= after);
}

static void test_uuid7_order_and_uniqueness(void **state)
{
    (void)state;
    enum { N = 20000 };
    static char ids[N][MOAT_UUID_LEN + 1];
    for (size_t i = 0; i < N; i++)
        moat_uuid7(ids[i]);
    for (size_t i = 1; i < N; i++) {
        /* time and sub-millisecond fraction: "xxxxxxxx-xxxx-7xxx" never
         * goes back; the random rest may order either way within one
         * 244 ns step */
        assert_true(memcmp(ids[i - 1], ids[i], 18) <= 0);
        assert_string_not_equal(ids[i - 1], ids[i]);
    }
    /* ids of two different milliseconds are ordered whole */
    char a[MOAT_UUID_LEN + 1], b[MOAT_UUID_LEN + 1];
    moat_uuid7(a);
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    moat_uuid7(b);
    assert_true(strcmp(a, b) < 0);
}

static void test_uuid_valid(void **state)
{
    (void)state;
    assert_true(moat_uuid_valid("0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f"));
    assert_true(moat_uuid_valid("0193E3C2-7B1A-7C3E-9F00-2A5B8D1C4E6F"));
    static const char *const bad[] = {
        "",
        "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6",   /* short */
        "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f0", /* long */
        "0193e3c2-7b1a-7c3e-9f00_2a5b8d1c4e6f",  /* separator */
        "0193e3c27-b1a-7c3e-9f00-2a5b8d1c4e6f",  /* hyphen moved */
        "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6g",  /* not hex */
        "../../../../../../../../../etc/passwd",
        "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6 ",
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++)
        assert_false(moat_uuid_valid(bad[i]));
    assert_false(moat_uuid_valid(NULL));
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    char out[MOAT_SHA256_HEX_LEN + 1];
    moat_sha256_hex(NULL, 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    moat_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    moat_sha256_hex(two, strlen(two), out);
    assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* bytes after a NUL count */
    char a[MOAT_SHA256_HEX_LEN + 1];
    moat_sha256_hex("a\0b", 3, a);
    moat_sha256_hex("a\0c", 3, out);
    assert_string_not_equal(a, out);
}

static const struct {
    const char *plain, *b64;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(rfc4648); i++) {
        size_t plen = strlen(rfc4648[i].plain), blen = strlen(rfc4648[i].b64);
        size_t n = 99;
        char *enc = moat_base64_encode(rfc4648[i].plain, plen, &n);
        assert_non_null(enc);
        assert_string_equal(enc, rfc4648[i].b64);
        assert_int_equal(n, blen);
        free(enc);
        char *dec = NULL;
        assert_int_equal(moat_base64_decode(rfc4648[i].b64, blen, &dec, &n), 0);
        assert_int_equal(n, plen);
        assert_memory_equal(dec, rfc4648[i].plain, plen);
        assert_int_equal(dec[n], '\0');
        free(dec);
    }
}

static void test_base64_binary_round_trip(void **state)
{
    (void)state;
    unsigned char bytes[256];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(255 - i);
    for (size_t len = 0; len <= sizeof(bytes); len += 37) {
        size_t n = 0;
        char *enc = moat_base64_encode(bytes, len, &n);
        assert_non_null(enc);
        assert_int_equal(n % 4, 0);
        char *dec = NULL;
        size_t dlen = 0;
        assert_int_equal(moat_base64_decode(enc, n, &dec, &dlen), 0);
        assert_int_equal(dlen, len);
        assert_memory_equal(dec, bytes, len);
        free(enc);
        free(dec);
    }
    /* the whole alphabet decodes */
    const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *dec = NULL;
    size_t dlen = 0;
    assert_int_equal(moat_base64_decode(all, 64, &dec, &dlen), 0);
    assert_int_equal(dlen, 48);
    free(dec);
}

static void test_base64_rejects_bad_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg",       /* wrong length, padding missing */
        "Zg=",      /* wrong length */
        "Zm9vY",    /* wrong length */
        "Zg==Zg==", /* padding in the middle */
        "Z===",     /* too much padding */
        "====",     /* only padding */
        "Zm9v\n",   /* line break */
        "Zm 9",     /* space */
        " Zm9",     /* leading space */
        "Zm9-",     /* base64url alphabet */
        "Zm9_",     /* base64url alphabet */
        "Zm*v",     /* not in any alphabet */
        "Zh==",     /* non-zero bits under the padding */
        "Zm9=",     /* ... and with one '=' */
        "Zm=v",     /* '=' before a data character */
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad); i++) {
        char *out = (char *)0x1;
        size_t n = 77;
        assert_int_equal(moat_base64_decode(bad[i], strlen(bad[i]), &out, &n), -EINVAL);
        assert_ptr_equal(out, (char *)0x1); /* untouched */
        assert_int_equal(n, 77);
    }
    /* a NUL inside the declared length is a bad character */
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(moat_base64_decode("Zm\0v", 4, &out, &n), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid7_layout),
        cmocka_unit_test(test_uuid7_order_and_uniqueness),
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_binary_round_trip),
        cmocka_unit_test(test_base64_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
