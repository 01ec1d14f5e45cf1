/*
 * patch.h: the document patch engine. JSON Patch (RFC 6902) with one extension,
 * `create` (like `add`, but a conflict if a value is already at the path), and JSON
 * Merge Patch (RFC 7396) expressed as an equivalent JSON Patch. Every application
 * also yields the inverse JSON Patch, which the log keeps for undo and replay.
 */
#ifndef ACTIOND_PATCH_H
#define ACTIOND_PATCH_H

#include <json-c/json.h>

#include "base/err.h"

/*
 * Applies JSON Patch `patch` (a JSON array of operation objects) to *doc.
 * All or nothing: on failure *doc holds the same JSON value as before (the operations
 * are applied in place and undone by their inverses, so an object's members may come
 * back in another order, which JSON does not distinguish). *doc may be NULL (JSON null),
 * and an operation on path "" replaces the whole document, so *doc may change
 * identity; the function takes and gives back ownership of *doc.
 *
 * On success returns ERR_OK and, when `inverse` is not NULL, stores in *inverse a new
 * JSON array (caller releases) that applied to the new document restores the old one,
 * using only concrete paths (never "-").
 *
 * Errors (err->pointer names the member of `patch`, e.g. "/2/path"):
 *   ERR_BAD_REQUEST    the patch is not an array, an operation is not an object, `op`
 *                     is missing or unknown, `path`/`from` missing or not a valid pointer,
 *                     `value` missing where required, `from` a proper prefix of `path`
 *                     in a move;
 *   ERR_UNPROCESSABLE  a path or its parent does not exist, an index is out of range,
 *                     a parent is not a container (slug "path-not-found");
 *   ERR_CONFLICT       a `test` failed (slug "test-failed") or a `create` found a
 *                     value already present (slug "already-exists").
 * Members an operation does not define are ignored, as RFC 6902 section 4 requires.
 */
enum err_code patch_apply(json_object **doc, json_object *patch, json_object **inverse,
                          struct err *err);

/*
 * What one application of a client's patch may build. Every operation that puts a value
 * (add, create, replace, move, copy) checks that the value's path and nesting stay
 * within `max_depth` (ERR_UNPROCESSABLE, slug "too-deep"), and the values it adds
 * (all but a move's) count against `max_bytes` (ERR_TOO_LARGE, slug
 * "document-too-large"): a few copies of a subtree into itself can no longer double a
 * document until memory runs out. `used_bytes` starts at 0 and is kept across calls.
 */
struct patch_budget {
    size_t max_depth;
    size_t max_bytes;
    size_t used_bytes;
};

/* patch_apply under `budget` (patch_apply is this with none). */
enum err_code patch_apply_bounded(json_object **doc, json_object *patch, json_object **inverse,
                                  struct patch_budget *budget, struct err *err);

/*
 * Translates RFC 7396 merge patch `merge` against the current *doc into the JSON Patch
 * that has the same effect, stored in *forward (new array, caller releases), then
 * applies it like patch_apply, giving *inverse. A merge patch that changes nothing
 * yields an empty *forward. Never fails on a JSON value; returns ERR_OK (under a
 * budget, its errors).
 */
enum err_code patch_merge(json_object **doc, json_object *merge, json_object **forward,
                          json_object **inverse, struct err *err);

/* patch_merge under `budget` (patch_merge is this with none). */
enum err_code patch_merge_bounded(json_object **doc, json_object *merge, json_object **forward,
                                  json_object **inverse, struct patch_budget *budget,
                                  struct err *err);

#endif
