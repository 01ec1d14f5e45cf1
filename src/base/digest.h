/*
 * digest.h: SHA-256 as lowercase hex, from OpenSSL's libcrypto. Bearer tokens are
 * stored and looked up by this digest (the database never holds a token that could
 * be replayed), and an idempotency key's request is fingerprinted with it.
 */
#ifndef ACTIOND_DIGEST_H
#define ACTIOND_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_HEX_LEN 64

/*
 * Writes the SHA-256 of `len` bytes at `data` to `hex` as 64 lowercase hex digits and
 * a NUL (room for DIGEST_SHA256_HEX_LEN + 1). Aborts if libcrypto fails: with the
 * built-in provider it fails only when it cannot allocate (xalloc.h's policy).
 */
void digest_sha256_hex(const void *data, size_t len, char *hex);

#endif
