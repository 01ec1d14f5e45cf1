/*
 * jsonp.h: a strict, bounded JSON reader for untrusted bodies (RFC 8259), plus the
 * few JSON helpers every module shares (serialisation, equality, deep copy).
 * json-c's own tokener accepts duplicate names and cannot bound string length, so
 * request bodies are read here and only the resulting tree is json-c's.
 */
#ifndef ACTIOND_JSONP_H
#define ACTIOND_JSONP_H

#include <stddef.h>
#include <json-c/json.h>

#include "base/err.h"
#include "base/sbuf.h"
#include "base/xalloc.h"

struct jsonp_limits {
    size_t max_depth;  /* nesting of arrays/objects; the top value is depth 1 */
    size_t max_string; /* bytes of one decoded string or member name */
};

#define JSONP_DEFAULT_DEPTH 64
#define JSONP_DEFAULT_STRING (256 * 1024)

/*
 * The limits for reading back what the database holds (the store, verify's replay).
 * Everything stored was checked on the way in under tighter limits (a change may not
 * leave a document deeper than --max-document-depth, itself at most this depth), so
 * these only have to accept whatever any configuration may have let through.
 */
extern const struct jsonp_limits jsonp_stored_limits;

/*
 * Parses exactly one JSON text from buf[0..len) (whitespace around it allowed).
 * Rejects: invalid UTF-8 (raw or through \u escapes, lone surrogates), any NUL byte
 * and the escape \u0000 (PostgreSQL's jsonb cannot store it), duplicate member
 * names in one object, nesting deeper than lim->max_depth, strings longer than
 * lim->max_string, numbers that overflow a double, trailing garbage.
 * Integers that fit int64 become json_type_int; other numbers become json_type_double
 * keeping their original text so they serialise unchanged.
 *
 * Returns ERR_OK and stores a new reference in *out (the caller releases it with
 * json_object_put; NULL when the text is `null`), or ERR_BAD_REQUEST with err->detail
 * naming the problem and its byte offset. `lim` NULL means the defaults.
 */
enum err_code jsonp_parse(const char *buf, size_t len, const struct jsonp_limits *lim,
                          json_object **out, struct err *err);

/*
 * The compact serialisation of `v` (no spaces, "/" not escaped). The string is
 * owned by `v` and valid until `v` is released or serialised again. NULL gives "null".
 */
const char *jsonp_str(json_object *v);

/*
 * Appends the same text as jsonp_str to `b`, without the per-object buffer json-c
 * keeps: the hot paths (documents, answers, statement parameters) serialise straight
 * into the buffer that carries the text on. Recursion depth is the value's nesting,
 * which jsonp_parse bounds.
 */
void jsonp_write(struct sbuf *b, json_object *v);

/*
 * Appends object `obj` as jsonp_write does, with one more member `name` last whose
 * value is `json_text`, valid JSON text written as it is (a document serialised once,
 * or read from the database, is spliced in, not serialised again). `name` NULL: none.
 */
void jsonp_write_with(struct sbuf *b, json_object *obj, const char *name, const char *json_text);

/* Appends `len` bytes of `s` as a JSON string, escaped as jsonp_str escapes. */
void jsonp_write_string(struct sbuf *b, const char *s, size_t len);

/*
 * Serialises `v` with object members sorted by name at every level, into a newly
 * allocated string the caller frees. Two equal documents give identical bytes.
 */
char *jsonp_canonical(json_object *v);

/*
 * How deeply containers nest in `v` (a scalar is 0, [] is 1, [[1]] is 2), looking no
 * deeper than `cap`: a deeper value gives cap + 1. The walk never goes below cap + 1
 * levels, whatever the value.
 */
size_t jsonp_depth(json_object *v, size_t cap);

/*
 * About how many bytes `v` takes as JSON text (strings by their length, numbers as 8),
 * counting no further than `cap`: a larger value gives cap + 1. Bounded like
 * jsonp_depth, to CONFIG_STORED_DEPTH_MAX levels (deeper counts as too large).
 */
size_t jsonp_size(json_object *v, size_t cap);

/* 1 when `name` is one of the NULL-terminated `names`. */
int jsonp_name_in(const char *name, const char *const *names);

/* The first member of object `obj` whose name is not in the NULL-terminated `allowed`
 * (borrowed from obj), or NULL: bodies and catalogs refuse unknown members. */
const char *jsonp_unknown_member(json_object *obj, const char *const *allowed);

/* RFC 6902 section 4.6 equality: numbers by value (1 == 1.0), objects unordered. */
int jsonp_equal(json_object *a, json_object *b);

/* A deep copy (new reference, caller releases). NULL (JSON null) gives NULL. */
json_object *jsonp_copy(json_object *v);

/* The RFC 8259 type name of `v` ("object", "array", "string", "number", "boolean", "null"). */
const char *jsonp_type_name(json_object *v);

#endif
