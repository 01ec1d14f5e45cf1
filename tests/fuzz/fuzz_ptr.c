/*
 * fuzz_ptr.c: JSON Pointer (RFC 6901) on any text: ptr_parse, then ptr_resolve of every
 * prefix against a fixed document with objects, arrays, escapes and scalars. The tokens
 * of a parsed pointer, escaped again with ptr_join, must give back the same text.
 */
#include "fuzz.h"

#include "doc/ptr.h"

static const char doc_text[] =
    "{\"a\":{\"b\":[10,{\"c\":null},[true,false]],\"\":{\"\":1}},\"m~n\":{\"x/y\":\"s\"},"
    "\"list\":[0,1,2,3,4,5,6,7,8,9,10],\"0\":{\"00\":[]},\"-\":[\"-\"],\"e\":{}}";
static json_object *doc;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!fuzz_json(doc_text, sizeof(doc_text) - 1, &doc))
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ptr p = {0}, back = {0};
    struct err err = {0};
    json_object *out;
    char *text, *joined, *next;
    size_t i, idx;

    /* a pointer arrives as a JSON string: NUL-terminated, and NUL cannot be in it */
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (ptr_parse(text, &p, &err) != ERR_OK) {
        FUZZ_CHECK(err.code == ERR_BAD_REQUEST && p.n == 0);
        goto cleanup;
    }
    joined = strdup("");
    for (i = 0; i <= p.n; i++) {
        if (ptr_resolve(doc, &p, i, &out) && i < p.n && json_object_is_type(out, json_type_array))
            (void)ptr_index(p.tok[i], &idx);
        if (i < p.n) {
            next = ptr_join(joined, p.tok[i]);
            free(joined);
            joined = next;
        }
    }
    /* escaping is canonical: "~0" and "~1" are the only spellings of '~' and '/' */
    FUZZ_CHECK(strcmp(joined, text) == 0);
    FUZZ_CHECK(ptr_parse(joined, &back, &err) == ERR_OK);
    FUZZ_CHECK(back.n == p.n);
    for (i = 0; i < p.n; i++)
        FUZZ_CHECK(strcmp(back.tok[i], p.tok[i]) == 0);
    free(joined);
    next = ptr_join_index("", p.n);
    free(next);

cleanup:
    ptr_free(&p);
    ptr_free(&back);
    err_clear(&err);
    free(text);
    return 0;
}
