/*
 * replay.h: rebuilding one resource from its action log and comparing the result
 * with the stored row, for `actionctl verify` (docs/database.md). Entries are fed one at
 * a time in version order, so a history of any length replays in the memory of one
 * document. Pure: no SQL; the caller reads the rows and the recomputed hashes.
 */
#ifndef ACTIOND_REPLAY_H
#define ACTIOND_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* One log entry as read from action_log. Everything is borrowed from the caller. */
struct replay_entry {
    int64_t version;
    const char *action;
    const char *actor;
    const char *applied_at; /* as text, for messages */
    const char *state;      /* the resource's state after the entry; NULL: none recorded */
    const char *forward;    /* the JSON Patch the entry applied, as JSON text */
    size_t forward_len;
    const char *data; /* the entry's data as JSON text; NULL when it has none */
    size_t data_len;
    const char *prev_hash; /* as stored; NULL when missing */
    const char *hash;      /* as stored; NULL when missing */
    /* the row's hash recomputed over its stored columns by the function its hash_version
     * names (sql/009); NULL when there is no such function */
    const char *content_hash;
    int hash_version;
};

/* The stored resource row the replay must arrive at. Borrowed. */
struct replay_stored {
    int64_t version;
    const char *data; /* the document, as JSON text */
    size_t data_len;
    const char *state; /* NULL for types without a state machine */
    int deleted;       /* deleted_at is set */
    const char *owner;
    const char *access; /* the grants as JSON text; NULL when there are none */
    size_t access_len;
};

/* The replay of one resource. Fields are read-only for the caller. */
struct replay {
    char *genesis;       /* what version 1's prev_hash must be */
    json_object *doc;    /* the document rebuilt so far; NULL is JSON null */
    char *state;         /* the last state an entry recorded; NULL while none did */
    int64_t version;     /* the last version applied; 0 before the first */
    int64_t deleted_by;  /* the version of the 'delete' entry; 0 when none */
    char *owner;         /* version 1's actor, then each transfer's new owner */
    json_object *access; /* the grants the entries made: creation, share, unshare, transfer */
    char *last_hash;     /* the stored hash of `version` */
    char *why;           /* the first divergence, NULL while there is none */
};

/*
 * Starts the replay of one resource from nothing (JSON null, no state, not deleted).
 * `genesis` (copied) is the hash version 1 must chain to, action_log_genesis_hash().
 * Release with replay_clear, also after a divergence.
 */
void replay_begin(struct replay *r, const char *genesis);

/*
 * Checks entry `e` and applies it, in this order: its version follows the previous one
 * (version 1 first, no gap); its prev_hash is the previous entry's hash (the genesis
 * value for version 1); its hash equals its content hash (a NULL content hash: its
 * hash version is one no function computes); its forward patch applies to
 * the document rebuilt so far. Then records its state (when not NULL), for an action
 * named "delete" the deletion, and who owns and may reach the resource: version 1's
 * actor owns it with the grants its data names ({"access": {...}}, else none); "share"
 * ({"actor", "role"}) and "unshare" ({"actor"}) change a grant; "transfer" ({"owner"})
 * changes the owner, dropping the new owner's grant.
 *
 * Returns 1 while the log is consistent, 0 at the first divergence, which r->why
 * then describes ("version 7 (update_crop_keyframe by alice at ...): hash does not
 * match its content (hash version 2)"). After a divergence further entries are ignored
 * and 0 returned.
 */
int replay_step(struct replay *r, const struct replay_entry *e);

/*
 * Compares the replay with the stored row: the log has at least one entry; the stored
 * version is the last log version; the documents are equal (RFC 6902 section 4.6:
 * numbers by value, members unordered); the states are equal (both NULL counts as
 * equal); deleted_at is set exactly when the log has a delete; the owners are the same,
 * and so are the grants (none and an empty set alike).
 * Returns 1 when everything matches, else 0 with r->why describing the first mismatch
 * (for documents, the first differing JSON Pointer with both values).
 */
int replay_end(struct replay *r, const struct replay_stored *s);

/* Releases everything `r` holds and zeroes it. Accepts NULL. */
void replay_clear(struct replay *r);

/*
 * Where `stored` and `replayed` first differ, members visited in byte order of their
 * names and array elements by index: "at /crop_keyframes/3/x: stored 60, replayed 50",
 * with "(absent)" for a side that has no value there and long values shortened.
 * A new string the caller frees, or NULL when the two are equal.
 */
char *replay_diff(json_object *stored, json_object *replayed);

#endif
