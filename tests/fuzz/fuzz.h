/*
 * fuzz.h: what the libFuzzer harnesses of tests/fuzz share: libFuzzer's entry points
 * (it has no C header), the split of one input into parts, JSON from bytes, and a
 * check that turns a broken property into a crash libFuzzer records.
 */
#ifndef ACTIOND_FUZZ_H
#define ACTIOND_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc/jsonp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The largest input part a harness reads as JSON: enough for every shape, and it keeps
 * one run from spending its time in a single huge value. */
#define FUZZ_MAX_JSON 8192

/*
 * Cuts data[0..size) at the first NUL: *part is what comes before it, and data/size
 * move past it (to nothing when there is no NUL). Every harness splits its input this
 * way, so a seed is its parts joined with NUL bytes.
 */
static inline void
fuzz_take(const uint8_t **data, size_t *size, const char **part, size_t *len)
{
    const uint8_t *nul = memchr(*data, 0, *size);

    *part = (const char *)*data;
    *len = nul != NULL ? (size_t)(nul - *data) : *size;
    *data += *len;
    *size -= *len;
    if (nul != NULL) {
        (*data)++;
        (*size)--;
    }
}

/*
 * Parses s[0..len) with the request limits into *out (a new reference, NULL for
 * `null`). Returns 0 when the text is not accepted, as actiond would answer 400.
 */
static inline int
fuzz_json(const char *s, size_t len, json_object **out)
{
    struct err err = {0};
    enum err_code rc;

    *out = NULL;
    if (len > FUZZ_MAX_JSON)
        return 0;
    rc = jsonp_parse(s, len, NULL, out, &err);
    err_clear(&err);
    return rc == ERR_OK;
}

/*
 * `copy` doubles a document each time it copies the root into it, so a short patch can
 * ask for more memory than a run has (docs/fuzzing.md). Harnesses skip a patch with
 * more copies than this.
 */
#define FUZZ_MAX_COPIES 6

static inline int
fuzz_too_many_copies(json_object *patch)
{
    size_t i, n, copies = 0;
    json_object *op;

    if (!json_object_is_type(patch, json_type_array))
        return 0;
    n = json_object_array_length(patch);
    for (i = 0; i < n; i++)
        if (json_object_object_get_ex(json_object_array_get_idx(patch, i), "op", &op) &&
            json_object_is_type(op, json_type_string) &&
            strcmp(json_object_get_string(op), "copy") == 0)
            copies++;
    return copies > FUZZ_MAX_COPIES;
}

/* A property that must hold: when it does not, say which and abort (a libFuzzer crash). */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
