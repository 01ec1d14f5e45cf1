/*
 * catalog_impl.h: the loaded form of a catalog, shared by catalog.c (which builds and
 * validates it) and action.c (which compiles actions from it). Nothing else includes it.
 */
#ifndef ACTIOND_CATALOG_IMPL_H
#define ACTIOND_CATALOG_IMPL_H

#include <stddef.h>
#include <json-c/json.h>

#include "catalog.h"

/* JSON value classes, as a bit mask so a member may accept several ("number|null"). */
enum {
    CAT_T_NULL = 1u << 0,
    CAT_T_BOOLEAN = 1u << 1,
    CAT_T_INTEGER = 1u << 2,  /* a number written without fraction or exponent */
    CAT_T_FRACTION = 1u << 3, /* any other number */
    CAT_T_STRING = 1u << 4,
    CAT_T_OBJECT = 1u << 5,
    CAT_T_ARRAY = 1u << 6,
    CAT_T_NUMBER = CAT_T_INTEGER | CAT_T_FRACTION,
    CAT_T_ANY = (1u << 7) - 1
};

/* One declared member of `data` or `target`. */
struct cat_member {
    char *name;
    char *spec; /* the declared type without its "?", for messages */
    unsigned types;
    int optional;
};

enum cat_schema_form {
    CAT_SCHEMA_NONE,   /* not declared: nothing may be sent */
    CAT_SCHEMA_VALUE,  /* "data": "any": one value of the given types */
    CAT_SCHEMA_MEMBERS /* "data": {...}: an object with exactly these members */
};

struct cat_schema {
    enum cat_schema_form form;
    /* CAT_SCHEMA_VALUE */
    char *spec;
    unsigned types;
    int optional;
    /* CAT_SCHEMA_MEMBERS */
    size_t n;
    struct cat_member *members;
};

/* One token of a path template: a literal member name or index, or a {selector}. */
struct cat_seg {
    char *name; /* the literal token, or the target member a selector names */
    int selector;
};

struct cat_path {
    char *text; /* as written in the catalog */
    size_t n;
    struct cat_seg *seg;
};

enum cat_op {
    CAT_OP_SET,
    CAT_OP_MERGE,
    CAT_OP_REMOVE,
    CAT_OP_INSERT_SORTED,
    CAT_OP_REKEY,
    CAT_OP_APPEND,
    CAT_OP_ADD_TO_SET
};

enum cat_id_kind {
    CAT_ID_NONE,
    CAT_ID_UUID,  /* random version 4 UUID string */
    CAT_ID_SERIAL /* 1 + the largest integer id in the array */
};

/*
 * One step. Every step touches exactly the value at `path` (for insert_sorted,
 * append and add_to_set: the array at `path`; for rekey: the array holding the
 * selected element), which is what a future conflict check will compare.
 */
struct cat_step {
    enum cat_op op;
    struct cat_path path;
    char *value_from;         /* data member written; NULL for the whole data */
    char *key;                /* insert_sorted, rekey: the sort key member */
    enum cat_id_kind id_kind; /* append */
    char *id_member;          /* append with an id */
    json_object *defaults;    /* append: members added when absent; or NULL */
};

struct cat_action {
    char *name;
    enum cat_action_kind kind;
    int needs_precondition;
    int always_merge;         /* "merge": "always" */
    struct cat_schema target; /* always CAT_SCHEMA_NONE or CAT_SCHEMA_MEMBERS */
    struct cat_schema data;
    size_t nsteps; /* CAT_EDIT */
    struct cat_step *steps;
    size_t nfrom; /* CAT_TRANSITION */
    char **from;
    char *to;
};

struct cat_type {
    char *name;
    json_object *initial;
    int any_document;
    char *initial_state; /* NULL without a state machine */
    size_t nstates;
    char **states;
    /* edits, then transitions, then verbs, each in catalog order */
    size_t nactions;
    struct cat_action *actions;
};

struct catalog {
    size_t ntypes;
    struct cat_type *types;
};

#endif
