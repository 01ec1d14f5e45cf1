/*
 * digest.c: SHA-256 through libcrypto's EVP interface, the one that stays supported
 * across OpenSSL versions (the low-level SHA256_* calls are deprecated in 3.0).
 */
#include "base/digest.h"

#include <openssl/evp.h>

#include "base/xalloc.h"

void
digest_sha256_hex(const void *data, size_t len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        xalloc_die();
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }
    hex[2 * n] = '\0';
}
