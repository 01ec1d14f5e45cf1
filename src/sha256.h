/*
 * sha256.h: SHA-256 (FIPS 180-4) of a byte string. actiond stores and looks up bearer
 * tokens by this digest, so the database never holds a token that could be replayed.
 */
#ifndef ACTIOND_SHA256_H
#define ACTIOND_SHA256_H

#include <stddef.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_SIZE 65 /* 64 lowercase hex digits and a NUL */

/* Writes the 32-byte digest of data[0..len) to `out`. Cannot fail. */
void sha256(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LEN]);

/*
 * Writes the digest of data[0..len) as 64 lowercase hex digits and a NUL to `out`,
 * the form PostgreSQL's encode(sha256(...), 'hex') gives. Cannot fail.
 */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_SIZE]);

#endif
