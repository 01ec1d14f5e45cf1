/*
 * fuzz_json.c: the JSON reader (jsonp_parse, request limits) on any bytes. What it
 * accepts must serialise (jsonp_write) to text it accepts again as an equal value and
 * that serialises to the same bytes; json-c's serialiser (jsonp_str), the canonical
 * form and a deep copy must agree with it.
 */
#include "fuzz.h"

#include "base/sbuf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err err = {0};
    struct sbuf once, twice;
    json_object *v = NULL, *again = NULL, *copy;
    char *c1, *c2;

    if (jsonp_parse((const char *)data, size, NULL, &v, &err) != ERR_OK) {
        FUZZ_CHECK(err.code == ERR_BAD_REQUEST && v == NULL);
        err_clear(&err);
        return 0;
    }
    sbuf_init(&once);
    sbuf_init(&twice);
    jsonp_write(&once, v);
    FUZZ_CHECK(strcmp(jsonp_str(v), once.data) == 0);
    FUZZ_CHECK(jsonp_parse(once.data, once.len, NULL, &again, &err) == ERR_OK);
    FUZZ_CHECK(jsonp_equal(v, again) && jsonp_equal(again, v));
    jsonp_write(&twice, again);
    FUZZ_CHECK(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);

    c1 = jsonp_canonical(v);
    c2 = jsonp_canonical(again);
    FUZZ_CHECK(strcmp(c1, c2) == 0);
    copy = jsonp_copy(v);
    FUZZ_CHECK(jsonp_equal(v, copy));

    free(c1);
    free(c2);
    json_object_put(copy);
    json_object_put(again);
    json_object_put(v);
    sbuf_free(&once);
    sbuf_free(&twice);
    err_clear(&err);
    return 0;
}
