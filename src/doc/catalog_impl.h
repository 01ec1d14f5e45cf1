/*
 * catalog_impl.h: the loaded form of a catalog, shared by catalog.c (which builds and
 * validates it), action.c (which compiles actions from it) and touch.c (which names
 * what an action touches by the catalog's keys). Nothing outside doc/ includes it.
 */
#ifndef ACTIOND_CATALOG_IMPL_H
#define ACTIOND_CATALOG_IMPL_H

#include <stddef.h>
#include <json-c/json.h>

#include "doc/catalog.h"

/* JSON value classes, as a bit mask so a member may accept several ("number|null"). */
enum {
    CATALOG_T_NULL = 1u << 0,
    CATALOG_T_BOOLEAN = 1u << 1,
    CATALOG_T_INTEGER = 1u << 2,  /* a number written without fraction or exponent */
    CATALOG_T_FRACTION = 1u << 3, /* any other number */
    CATALOG_T_STRING = 1u << 4,
    CATALOG_T_OBJECT = 1u << 5,
    CATALOG_T_ARRAY = 1u << 6,
    CATALOG_T_NUMBER = CATALOG_T_INTEGER | CATALOG_T_FRACTION,
    CATALOG_T_ANY = (1u << 7) - 1
};

/*
 * The magnitude beyond which JavaScript numbers are no longer exact integers (2^53 - 1).
 * A number sent for a member declared integer or number must lie within it, so the
 * server and the browser's engine read every accepted value alike.
 */
#define CATALOG_SAFE_INTEGER 9007199254740991LL

/*
 * A member's constraints (docs/catalog.md): bounds for a member declared integer or
 * number, lengths in UTF-8 bytes for one declared string. Bounds are within
 * +-CATALOG_SAFE_INTEGER, so a double holds them and every accepted value exactly.
 */
struct catalog_bounds {
    int has_min, has_max;
    int min_exclusive, max_exclusive; /* exclusive_minimum, exclusive_maximum */
    double min, max;
    int has_min_length, has_max_length;
    size_t min_length, max_length;
};

/* One declared member of `data` or `target`. */
struct catalog_member {
    char *name;
    char *spec; /* the declared type without its "?", for messages */
    unsigned types;
    int optional;
    int numeric; /* declared integer or number: held to +-CATALOG_SAFE_INTEGER */
    struct catalog_bounds bounds;
};

/* A cross-member rule of an action: data member `first` <, or <=, data member `second`. */
enum catalog_rule_kind { CATALOG_RULE_LESS, CATALOG_RULE_LESS_OR_EQUAL };

struct catalog_rule {
    enum catalog_rule_kind kind;
    char *first;
    char *second; /* the member a broken rule points at */
};

enum catalog_schema_form {
    CATALOG_SCHEMA_NONE,   /* not declared: nothing may be sent */
    CATALOG_SCHEMA_VALUE,  /* "data": "any": one value of the given types */
    CATALOG_SCHEMA_MEMBERS /* "data": {...}: an object with exactly these members */
};

struct catalog_schema {
    enum catalog_schema_form form;
    /* CATALOG_SCHEMA_VALUE */
    char *spec;
    unsigned types;
    int optional;
    int numeric;
    /* CATALOG_SCHEMA_MEMBERS */
    size_t n;
    struct catalog_member *members;
};

/* One token of a path template: a literal member name or index, or a {selector}. */
struct catalog_seg {
    char *name; /* the literal token, or the target member a selector names */
    int selector;
};

struct catalog_path {
    char *text; /* as written in the catalog */
    size_t n;
    struct catalog_seg *seg;
};

enum catalog_op {
    CATALOG_OP_SET,
    CATALOG_OP_MERGE,
    CATALOG_OP_REMOVE,
    CATALOG_OP_INSERT_SORTED,
    CATALOG_OP_REKEY,
    CATALOG_OP_APPEND,
    CATALOG_OP_ADD_TO_SET
};

enum catalog_id_kind {
    CATALOG_ID_NONE,
    CATALOG_ID_UUID,  /* random version 4 UUID string */
    CATALOG_ID_SERIAL /* 1 + the largest integer id in the array */
};

/*
 * One step. Every step touches exactly the value at `path` (for insert_sorted,
 * append and add_to_set: the array at `path`; for rekey: the array holding the
 * selected element), which is what a future conflict check will compare.
 */
struct catalog_step {
    enum catalog_op op;
    struct catalog_path path;
    char *value_from;             /* data member written; NULL for the whole data */
    char *key;                    /* insert_sorted, rekey: the sort key member */
    enum catalog_id_kind id_kind; /* append */
    char *id_member;              /* append with an id */
    json_object *defaults;        /* append: members added when absent; or NULL */
};

struct catalog_action {
    char *name;
    enum catalog_action_kind kind;
    int needs_precondition;
    int always_merge;             /* "merge": "always" */
    struct catalog_schema target; /* always CATALOG_SCHEMA_NONE or CATALOG_SCHEMA_MEMBERS */
    struct catalog_schema data;
    size_t nrules; /* CATALOG_EDIT: checked after target and data, before the steps */
    struct catalog_rule *rules;
    size_t nsteps; /* CATALOG_EDIT */
    struct catalog_step *steps;
    size_t nfrom; /* CATALOG_TRANSITION */
    char **from;
    char *to;
};

struct catalog_type {
    char *name;
    json_object *initial;
    int any_document;
    char *initial_state; /* NULL without a state machine */
    size_t nstates;
    char **states;
    /* edits, then transitions, then verbs, each in catalog order */
    size_t nactions;
    struct catalog_action *actions;
};

struct catalog {
    size_t ntypes;
    struct catalog_type *types;
};

#endif
