/*
 * touch.h: what a change touches, semantically, and when two changes overlap
 * (docs/merge.md). A touch set is a JSON array of touches, each
 *   {"op": "w"|"r"|"add", "path": [token...], "value"?: v}   or   {"op": "w", "state": true}
 * where a token is a member name (string) or a keyed element {"key": name, "value": v}
 * of an array, so a keyframe is named by its frame, not by where it sits.
 */
#ifndef ACTIOND_TOUCH_H
#define ACTIOND_TOUCH_H

#include <json-c/json.h>

#include "doc/action.h"
#include "doc/catalog.h"

/*
 * The touches of catalog action `a` of type `t` as applied (`eff` gives generated ids).
 * A new array the caller releases.
 */
json_object *touch_action(const struct catalog_type *t, const struct action *a,
                          const struct action_effect *eff);

/*
 * The touches of a JSON Patch applied to `doc` (the document before it; may be NULL):
 * each op writes its path (a `test` reads it; `copy` reads its from, `move` writes it).
 * A position into an array stands for the whole array, so a path is cut where it
 * enters an array in `doc`, and, past what `doc` holds, at any index-like token.
 * A new array the caller releases.
 */
json_object *touch_patch(json_object *patch, json_object *doc);

/* Appends the touch of a state change to `touches`. */
void touch_add_state(json_object *touches);

/* Appends touches of the whole document and the state (a creation, a delete). */
void touch_add_all(json_object *touches);

/*
 * 1 when touch sets `ours` and `theirs` overlap: two touches overlap when one path is
 * equal to, an ancestor of or a descendant of the other, unless both only read or both
 * are set additions; state touches overlap each other. An entry with no recorded touch
 * set (NULL) overlaps everything.
 */
int touch_overlap(json_object *ours, json_object *theirs);

/*
 * One touch set indexed by path, so that testing many others against it costs time in
 * proportion to their own size (each touch of theirs walks its path once), not to the
 * product of the two: a merging request checks what it touches against every entry it
 * missed. The same rule as touch_overlap. `ours` is borrowed and must outlive the
 * index; NULL overlaps everything. Release with touch_index_free.
 */
struct touch_index;

struct touch_index *touch_index_new(json_object *ours);
int touch_index_overlaps(const struct touch_index *ix, json_object *theirs);
void touch_index_free(struct touch_index *ix);

#endif
