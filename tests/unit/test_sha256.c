/*
 * test_sha256.c: SHA-256 against the FIPS 180-2 appendix B examples, messages whose
 * length sits on either side of each padding boundary, and PostgreSQL's own digest
 * of a token (what the token lookup relies on).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static void
expect_hex(const void *msg, size_t len, const char *want)
{
    char hex[SHA256_HEX_SIZE];

    sha256_hex(msg, len, hex);
    cr_assert_str_eq(hex, want, "length %zu", len);
}

Test(sha256, empty_message)
{
    expect_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, fips_one_block_abc)
{
    expect_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, fips_two_block_448_bits)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    cr_assert_eq(strlen(m), 56);
    expect_hex(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, fips_one_million_a)
{
    size_t n = 1000000;
    char *m = malloc(n);

    cr_assert_not_null(m);
    memset(m, 'a', n);
    expect_hex(m, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

/* Lengths around 55/56 (where the length field stops fitting the last block) and
 * 64 (a whole block), with the bytes (7i + 1) mod 256; values from sha256sum. */
Test(sha256, padding_boundaries)
{
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "16fa57a0a3423a715d594516339f36189d6b5f93754a9714fef202616a9fabfe"},
        {56, "c37b44e5f1b18554b36966f4f8e08bfbf3164c4b6c10374d12d89850892073c5"},
        {63, "bbba992d2c85af960fb2987a1fd05e0aa82a3db3c740dd8982a9e273b75e36a3"},
        {64, "66bd4633ed6f71c4ecfa4763bf7ba1c8ec7612de9aa6c0578a7b675207c71e0b"},
        {65, "9f7dc47107b750a1f3d35db5d9547f24ef40da5b731b9540d4f43710a154f6c9"},
        {119, "a3ed307b730fa77c07531300c6e4a282330011d4d4caf6bb7b63ae05950f4b66"},
        {120, "8e3b15d9fea7472655aa069620b7f8c2e55ee1499f763200a7515fe826e99d20"},
    };
    unsigned char m[128];
    size_t i;

    for (i = 0; i < sizeof(m); i++)
        m[i] = (unsigned char)(i * 7 + 1);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_hex(m, cases[i].len, cases[i].hex);
}

Test(sha256, raw_digest_matches_hex)
{
    unsigned char d[SHA256_DIGEST_LEN];

    sha256("abc", 3, d);
    cr_assert_eq(d[0], 0xba);
    cr_assert_eq(d[31], 0xad);
}

/* SELECT encode(sha256('adt_3f1c...0f'::bytea), 'hex') on PostgreSQL 15. */
Test(sha256, agrees_with_postgresql)
{
    const char *token = "adt_3f1c9a0b7e2d4c6f8a1b3c5d7e9f0a2b4c6d8e0f";

    expect_hex(token, strlen(token),
               "91808ab75bd9792fa4c5764018726bcf6c267b6828c8e10410d7fdba05bfb921");
}
