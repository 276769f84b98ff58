/* SHA-256 through OpenSSL's EVP one-shot digest (hashes of code and output). */
#include "moat/util.h"

#include <openssl/evp.h>
#include <pthread.h>

/* The implementation, fetched from the default provider once: EVP_sha256()
 * makes EVP_Digest fetch it again (a lock and a provider look-up) on every
 * call, and every submission hashes its code. Written once under
 * pthread_once, read-only after; never freed (it lives as long as the
 * process, as OpenSSL's own tables). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void moat_sha256_hex(const void *data, size_t len, char out[MOAT_SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    (void)pthread_once(&sha256_once, sha256_fetch);
    /* EVP_Digest fails only on allocation failure or a broken provider;
     * an empty or wrong hash would be silently trusted later, so abort. */
    int ok =
        EVP_Digest(len ? data : "", len, md, &mdlen, sha256_md ? sha256_md : EVP_sha256(), NULL);
    MOAT_ASSERT(ok == 1 && mdlen == 32);
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xfu];
    }
    out[MOAT_SHA256_HEX_LEN] = '\0';
}
