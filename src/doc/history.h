/*
 * history.h: undo and redo compiled from log entries, and the rule that decides when
 * an undo would overwrite someone else's later change. Pure functions over JSON
 * Patches and store_logent records: no SQL, no HTTP.
 */
#ifndef ACTIOND_HISTORY_H
#define ACTIOND_HISTORY_H

#include <stddef.h>
#include <json-c/json.h>

#include "store/store.h"

/*
 * 1 when a path that JSON Patch `theirs` writes overlaps a path that JSON Patch `ours`
 * reads or writes. Paths overlap when they are equal or one is an ancestor of the
 * other. A path into an array by position stands for the whole array (positions shift
 * when others insert or remove), so it is cut at its first index token ("0", "17", "-").
 */
int history_patches_overlap(json_object *ours, json_object *theirs);

/*
 * The patches of an undo of the unit unit[0..n) (entries in version order):
 * *forward is their inverses in reverse order, *inverse their forwards in order.
 * New arrays; the caller releases both.
 */
void history_undo_patches(const struct store_logent *unit, size_t n, json_object **forward,
                          json_object **inverse);

/*
 * Among later[0..n) (the entries after the one being reverted, in version order and
 * without gaps), the first that still has an effect on the document and writes where
 * `ours` works, or NULL. An undo or redo whose target is also in `later` cancels it:
 * neither has an effect left.
 */
const struct store_logent *history_first_conflict(const struct store_logent *later, size_t n,
                                                  json_object *ours);

#endif
