/*
 * ptr.h: JSON Pointer (RFC 6901): parsing into reference tokens, resolving against a
 * json-c tree, and building escaped pointers for error messages and patches.
 */
#ifndef ACTIOND_PTR_H
#define ACTIOND_PTR_H

#include <stddef.h>
#include <json-c/json.h>

#include "base/err.h"

/* A parsed pointer: `n` unescaped reference tokens. "" has n == 0 (the whole document). */
struct ptr {
    size_t n;
    char **tok;
};

/*
 * Parses `s` (must be "" or start with "/"; "~" must be followed by 0 or 1).
 * Returns ERR_OK and fills *out (release with ptr_free), or ERR_BAD_REQUEST.
 */
enum err_code ptr_parse(const char *s, struct ptr *out, struct err *err);

/* Releases the tokens; accepts NULL and a zeroed struct. */
void ptr_free(struct ptr *p);

/*
 * Parses an array index token per RFC 6901: "0" or digits without a leading zero.
 * Returns 1 and stores the value in *idx, or 0 when the token is not an index.
 */
int ptr_index(const char *tok, size_t *idx);

/*
 * Resolves the first `depth` tokens of `p` against `doc`. Returns 1 and stores a
 * borrowed reference in *out (NULL for a JSON null), or 0 when a member or index is
 * missing or a token descends into a scalar.
 */
int ptr_resolve(json_object *doc, const struct ptr *p, size_t depth, json_object **out);

/* Appends one escaped token to `base` ("/a" + "b/c" -> "/a/b~1c"); caller frees. */
char *ptr_join(const char *base, const char *token);

/* Like ptr_join for an array index. Caller frees. */
char *ptr_join_index(const char *base, size_t idx);

#endif
