/*
 * jsonp.c: the strict JSON reader for request bodies and the shared JSON helpers.
 * The reader keeps an explicit stack of open containers instead of recursing, so
 * hostile nesting costs heap bounded by max_depth, never C stack.
 */
#include "doc/jsonp.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "doc/ptr.h"

const struct jsonp_limits jsonp_stored_limits = {CONFIG_STORED_DEPTH_MAX, (size_t)64 * 1024 * 1024};

/*
 * An open array or object; `key` is the member name waiting for its value (has_key).
 * A frame's key buffer stays with its depth for the whole parse, so member names cost
 * no allocation once the buffer has grown to the longest name.
 */
struct frame {
    json_object *c;
    struct sbuf key;
    unsigned long key_hash; /* json-c's hash of key, computed once per member */
    int has_key;
};

struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    size_t max_depth;
    size_t max_string;
    struct frame *stack; /* grown on demand, never beyond max_depth frames */
    size_t depth;
    size_t cap;
    struct sbuf str; /* the string being decoded */
    struct err *err;
};

/*
 * Member names seen by this process, kept for its whole life so that an object can
 * point at them instead of owning a copy (JSON_C_OBJECT_ADD_CONSTANT_KEY). A stored
 * document repeats the same few names in every element, and each copy was a malloc
 * and a free per member per request. Bounded: past NAMES_MAX names, or for a long
 * name, the object owns a copy as before, so hostile bodies cannot grow the table.
 */
#define NAMES_MAX 1024
#define NAMES_SLOTS 2048 /* a power of two, at least twice NAMES_MAX */
#define NAME_MAX_LEN 32

struct kept_name {
    char *name; /* NULL: a free slot */
    unsigned long hash;
    size_t len;
};

static struct {
    struct kept_name slot[NAMES_SLOTS];
    size_t count;
} kept_names;

/* The kept copy of name `s` of `len` bytes and json-c hash `h` (the reader refuses NUL
 * in strings), or NULL when it is not kept. */
static const char *
kept_name(const char *s, size_t len, unsigned long h)
{
    struct kept_name *k;
    size_t i;

    if (len > NAME_MAX_LEN)
        return NULL;
    for (i = h & (NAMES_SLOTS - 1);; i = (i + 1) & (NAMES_SLOTS - 1)) {
        k = &kept_names.slot[i];
        if (k->name == NULL)
            break;
        if (k->hash == h && k->len == len && memcmp(k->name, s, len) == 0)
            return k->name;
    }
    if (kept_names.count >= NAMES_MAX)
        return NULL;
    kept_names.count++;
    k->name = xstrndup(s, len);
    k->hash = h;
    k->len = len;
    return k->name;
}

/*
 * Small non-negative integers, one json-c object each for the process's life, handed
 * out by reference: a stored document is mostly such numbers (frames, coordinates,
 * sizes), each otherwise an allocation and a free per request. Sharing is safe because
 * nothing here changes a json-c scalar in place (a patch or an action replaces it).
 */
#define SHARED_INTS 4096

static json_object *shared_ints[SHARED_INTS];

/* A new reference to an integer value; the caller puts it. */
static json_object *
new_int(int64_t v)
{
    if (v < 0 || v >= SHARED_INTS)
        return json_object_new_int64(v);
    if (shared_ints[v] == NULL)
        shared_ints[v] = json_object_new_int64(v);
    return json_object_get(shared_ints[v]);
}

/* What the main loop needs next: a value, or what follows a completed value. */
enum step {
    STEP_VALUE,
    STEP_AFTER_VALUE,
};

static enum err_code fail_at(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The JSON Pointer (RFC 6901) of the value being read when parsing failed: the member
 * or element each open container is reading. Malloc'd; "" at the top level.
 */
static char *
location(const struct parser *p)
{
    char *where = xstrdup(""), *next;
    size_t i;

    for (i = 0; i < p->depth; i++) {
        const struct frame *f = &p->stack[i];
        if (json_object_is_type(f->c, json_type_array))
            next = ptr_join_index(where, json_object_array_length(f->c));
        else if (f->has_key)
            next = ptr_join(where, f->key.data);
        else
            break;
        free(where);
        where = next;
    }
    return where;
}

static enum err_code
fail_at(struct parser *p, size_t at, const char *fmt, ...)
{
    char what[ERR_DETAIL_MAX];
    char *where = location(p);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    err_fail(p->err, ERR_BAD_REQUEST, where, "invalid JSON at byte %zu: %s", at, what);
    free(where);
    return ERR_BAD_REQUEST;
}

/* Names the byte at the cursor without ever copying a non-ASCII byte into the detail. */
static enum err_code
unexpected(struct parser *p)
{
    unsigned char c;

    if (p->pos >= p->len)
        return fail_at(p, p->pos, "unexpected end of input");
    c = p->s[p->pos];
    if (c == 0)
        return fail_at(p, p->pos, "NUL byte");
    if (c > 0x20 && c < 0x7f)
        return fail_at(p, p->pos, "unexpected character '%c'", c);
    return fail_at(p, p->pos, "unexpected byte 0x%02x", c);
}

/* RFC 8259 section 2: only space, tab, LF and CR are insignificant whitespace. */
static void
skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int
peek_is(struct parser *p, unsigned char c)
{
    return p->pos < p->len && p->s[p->pos] == c;
}

/*
 * The length of the well-formed UTF-8 sequence at s (RFC 3629 section 4), or 0.
 * The second-byte ranges exclude overlong forms, UTF-16 surrogates (ED A0..BF) and
 * code points above U+10FFFF; a sequence cut short by the end of input is invalid.
 */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t need, i;

    if (c < 0x80)
        return 1;
    if (c < 0xc2)
        return 0;
    if (c < 0xe0) {
        need = 2;
    } else if (c < 0xf0) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c < 0xf5) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < 2 || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < need; i++)
        if (i >= avail || (s[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

static void
add_utf8(struct sbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sbuf_add(b, u, n);
}

/* Reads the 4 hex digits of a \u escape at p->pos; -1 when they are not there. */
static long
hex4(struct parser *p)
{
    long v = 0;
    size_t i;

    if (p->len - p->pos < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos + i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    p->pos += 4;
    return v;
}

/*
 * Decodes the \u escape whose backslash is at `at` (p->pos is past the 'u'), per
 * RFC 8259 section 7: a high surrogate must be followed at once by an escaped low
 * surrogate, and the pair is one code point.
 */
static enum err_code
unicode_escape(struct parser *p, size_t at)
{
    long hi, lo;

    hi = hex4(p);
    if (hi < 0)
        return fail_at(p, at, "\\u must be followed by 4 hex digits");
    if (hi == 0)
        return fail_at(p, at, "\\u0000 is not allowed");
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return fail_at(p, at, "unpaired low surrogate \\u%04lx", hi);
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return fail_at(p, at, "unpaired high surrogate \\u%04lx", hi);
        p->pos += 2;
        lo = hex4(p);
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail_at(p, at, "unpaired high surrogate \\u%04lx", hi);
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    add_utf8(&p->str, (uint32_t)hi);
    return ERR_OK;
}

/*
 * Decodes the string whose opening quote is at p->pos into p->str, leaving p->pos
 * past the closing quote. Runs of plain bytes are copied at once.
 */
static enum err_code
parse_string(struct parser *p)
{
    size_t start = p->pos, run, n;
    enum err_code rc;

    sbuf_reset(&p->str);
    p->pos++;
    for (;;) {
        run = p->pos;
        while (p->pos < p->len) {
            unsigned char c = p->s[p->pos];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            n = utf8_seq(p->s + p->pos, p->len - p->pos);
            if (n == 0)
                return fail_at(p, p->pos, "invalid UTF-8 byte 0x%02x in string", c);
            p->pos += n;
        }
        sbuf_add(&p->str, (const char *)p->s + run, p->pos - run);
        if (p->str.len > p->max_string)
            return fail_at(p, start, "string longer than %zu bytes", p->max_string);
        if (p->pos >= p->len)
            return fail_at(p, start, "unterminated string");
        switch (p->s[p->pos]) {
        case '"':
            p->pos++;
            return ERR_OK;
        case '\\':
            break;
        case 0:
            return fail_at(p, p->pos, "NUL byte in string");
        default:
            return fail_at(p, p->pos, "unescaped control character 0x%02x in string", p->s[p->pos]);
        }
        run = p->pos++;
        if (p->pos >= p->len)
            return fail_at(p, start, "unterminated string");
        switch (p->s[p->pos++]) {
        case '"':
            sbuf_adds(&p->str, "\"");
            break;
        case '\\':
            sbuf_adds(&p->str, "\\");
            break;
        case '/':
            sbuf_adds(&p->str, "/");
            break;
        case 'b':
            sbuf_adds(&p->str, "\b");
            break;
        case 'f':
            sbuf_adds(&p->str, "\f");
            break;
        case 'n':
            sbuf_adds(&p->str, "\n");
            break;
        case 'r':
            sbuf_adds(&p->str, "\r");
            break;
        case 't':
            sbuf_adds(&p->str, "\t");
            break;
        case 'u':
            rc = unicode_escape(p, run);
            if (rc != ERR_OK)
                return rc;
            break;
        default:
            return fail_at(p, run, "invalid escape sequence");
        }
        if (p->str.len > p->max_string)
            return fail_at(p, start, "string longer than %zu bytes", p->max_string);
    }
}

static int
is_digit(struct parser *p)
{
    return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

/*
 * The most digits after the decimal point, and the largest decimal exponent, of a
 * number the database can hold: every number ends up in a jsonb column of the log,
 * whose numeric type has these limits (NUMERIC_DSCALE_MAX, and NUMERIC_WEIGHT_MAX
 * base-10000 digits), so a number beyond them is refused here, where the client learns
 * which one, instead of failing the transaction.
 */
#define JSONP_NUMBER_SCALE_MAX 16383
#define JSONP_NUMBER_EXPONENT_MAX 131072

/*
 * RFC 8259 section 6. An integer that fits int64 stays exact; anything else becomes a
 * double that keeps its text, so 123456789012345678901234567890 is written back as
 * sent. The worker never calls setlocale, so strtod reads '.' as the decimal point.
 */
static enum err_code
parse_number(struct parser *p, json_object **out)
{
    size_t start = p->pos, len, digits = 0, fraction = 0;
    long exponent = 0;
    int integral = 1, negative = 0, exponent_sign = 1;
    uint64_t magnitude = 0;
    long long ll;
    double d;
    char small[32], *text;
    enum err_code rc = ERR_OK;

    if (peek_is(p, '-')) {
        p->pos++;
        negative = 1;
    }
    if (peek_is(p, '0')) {
        p->pos++;
    } else if (is_digit(p)) {
        for (; is_digit(p); p->pos++, digits++)
            magnitude = magnitude * 10 + (uint64_t)(p->s[p->pos] - '0');
    } else {
        return unexpected(p);
    }
    if (peek_is(p, '.')) {
        p->pos++;
        integral = 0;
        if (!is_digit(p))
            return unexpected(p);
        for (; is_digit(p); p->pos++)
            fraction++;
    }
    if (peek_is(p, 'e') || peek_is(p, 'E')) {
        p->pos++;
        integral = 0;
        if (peek_is(p, '+') || peek_is(p, '-'))
            exponent_sign = p->s[p->pos++] == '-' ? -1 : 1;
        if (!is_digit(p))
            return unexpected(p);
        /* saturated: any exponent past the limits is refused alike */
        for (; is_digit(p); p->pos++)
            if (exponent <= JSONP_NUMBER_EXPONENT_MAX)
                exponent = exponent * 10 + (p->s[p->pos] - '0');
    }
    exponent *= exponent_sign;
    if (exponent > JSONP_NUMBER_EXPONENT_MAX || (long)fraction - exponent > JSONP_NUMBER_SCALE_MAX)
        return fail_at(p, start,
                       "number cannot be stored: at most %d digits after the decimal point "
                       "and an exponent of at most %d",
                       JSONP_NUMBER_SCALE_MAX, JSONP_NUMBER_EXPONENT_MAX);
    /* up to 18 digits cannot overflow: the common case needs neither a copy nor strtoll */
    if (integral && digits <= 18) {
        *out = new_int(negative ? -(int64_t)magnitude : (int64_t)magnitude);
        return ERR_OK;
    }
    /* strtoll and strtod need a terminated copy; short ones stay on the stack */
    len = p->pos - start;
    text = len < sizeof(small) ? small : xmalloc(len + 1);
    memcpy(text, p->s + start, len);
    text[len] = '\0';
    if (integral) {
        errno = 0;
        ll = strtoll(text, NULL, 10);
        if (errno == 0) {
            *out = json_object_new_int64(ll);
            goto cleanup;
        }
    }
    d = strtod(text, NULL);
    if (isinf(d)) {
        rc = fail_at(p, start, "number out of range");
        goto cleanup;
    }
    *out = json_object_new_double_s(d, text);
cleanup:
    if (text != small)
        free(text);
    return rc;
}

static enum err_code
parse_literal(struct parser *p, const char *word, json_object *v, json_object **out)
{
    size_t n = strlen(word);

    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        json_object_put(v);
        return unexpected(p);
    }
    p->pos += n;
    *out = v;
    return ERR_OK;
}

static enum err_code
parse_scalar(struct parser *p, json_object **out)
{
    switch (p->s[p->pos]) {
    case '"': {
        enum err_code rc = parse_string(p);
        if (rc != ERR_OK)
            return rc;
        *out = json_object_new_string_len(p->str.data, (int)p->str.len);
        return ERR_OK;
    }
    case 't':
        return parse_literal(p, "true", json_object_new_boolean(1), out);
    case 'f':
        return parse_literal(p, "false", json_object_new_boolean(0), out);
    case 'n':
        return parse_literal(p, "null", NULL, out);
    default:
        return parse_number(p, out);
    }
}

/* The longest prefix of s, at most max bytes, that does not split a UTF-8 sequence. */
static int
clip(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return (int)len;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return (int)max;
}

/*
 * Reads `"name" :` for the object on top of the stack. RFC 8259 section 4 only says
 * names SHOULD be unique; we refuse duplicates because which one wins differs between
 * parsers, and a patch must mean the same thing to every reader.
 */
static enum err_code
parse_member_name(struct parser *p)
{
    struct frame *top = &p->stack[p->depth - 1];
    size_t at;
    enum err_code rc;

    skip_ws(p);
    if (!peek_is(p, '"'))
        return unexpected(p);
    at = p->pos;
    rc = parse_string(p);
    if (rc != ERR_OK)
        return rc;
    /* the name is the member being read from here on, and where a duplicate is */
    sbuf_reset(&top->key);
    sbuf_add(&top->key, p->str.data, p->str.len);
    top->has_key = 1;
    /* one hash per member, for the duplicate check and the insertion (linkhash.h) */
    top->key_hash = lh_get_hash(json_object_get_object(top->c), top->key.data);
    if (lh_table_lookup_entry_w_hash(json_object_get_object(top->c), top->key.data,
                                     top->key_hash) != NULL)
        return fail_at(p, at, "duplicate member name \"%.*s\"", clip(p->str.data, p->str.len, 64),
                       p->str.data);
    skip_ws(p);
    if (!peek_is(p, ':'))
        return unexpected(p);
    p->pos++;
    return ERR_OK;
}

/*
 * Opens the array or object at p->pos. An empty container is complete at once and
 * goes to *done; otherwise *done stays NULL and its first value is next.
 */
static enum err_code
open_container(struct parser *p, json_object **done)
{
    int is_array = p->s[p->pos] == '[';

    if (p->depth >= p->max_depth)
        return fail_at(p, p->pos, "nesting deeper than %zu levels", p->max_depth);
    if (p->depth == p->cap) {
        size_t i = p->cap;
        p->cap = p->cap ? p->cap * 2 : 16;
        p->stack = xrealloc(p->stack, p->cap * sizeof(*p->stack));
        for (; i < p->cap; i++)
            sbuf_init(&p->stack[i].key);
    }
    p->stack[p->depth].c = is_array ? json_object_new_array() : json_object_new_object();
    p->stack[p->depth].has_key = 0;
    p->depth++;
    p->pos++;
    skip_ws(p);
    if (peek_is(p, is_array ? ']' : '}')) {
        p->pos++;
        *done = p->stack[--p->depth].c;
        return ERR_OK;
    }
    *done = NULL;
    return is_array ? ERR_OK : parse_member_name(p);
}

/*
 * Stores the completed value `v` (ownership passes) in the container on top of the
 * stack, then reads ',' or the closing bracket. When the container closes it becomes
 * the completed value in *v; *more says whether another value is expected.
 */
static enum err_code
after_value(struct parser *p, json_object **v, int *more)
{
    struct frame *top = &p->stack[p->depth - 1];
    int is_array = json_object_is_type(top->c, json_type_array);

    if (is_array) {
        json_object_array_add(top->c, *v);
    } else {
        const char *kept = kept_name(top->key.data, top->key.len, top->key_hash);
        /* what json_object_object_add_ex does for a new key, with the hash already known */
        if (lh_table_insert_w_hash(json_object_get_object(top->c),
                                   kept != NULL ? kept : xstrdup(top->key.data), *v, top->key_hash,
                                   kept != NULL ? JSON_C_OBJECT_ADD_CONSTANT_KEY : 0) != 0)
            xalloc_die(); /* it fails only when it cannot grow the table */
        top->has_key = 0;
    }
    *v = NULL;
    skip_ws(p);
    if (peek_is(p, ',')) {
        p->pos++;
        *more = 1;
        return is_array ? ERR_OK : parse_member_name(p);
    }
    if (!peek_is(p, is_array ? ']' : '}'))
        return unexpected(p);
    p->pos++;
    *v = top->c;
    p->depth--;
    *more = 0;
    return ERR_OK;
}

enum err_code
jsonp_parse(const char *buf, size_t len, const struct jsonp_limits *lim, json_object **out,
            struct err *err)
{
    struct parser p = {
        .s = (const unsigned char *)buf,
        .len = len,
        .max_depth = lim ? lim->max_depth : JSONP_DEFAULT_DEPTH,
        .max_string = lim ? lim->max_string : JSONP_DEFAULT_STRING,
        .err = err,
    };
    enum step step = STEP_VALUE;
    json_object *v = NULL;
    enum err_code rc = ERR_OK;
    int more;
    size_t i;

    *out = NULL;
    sbuf_init(&p.str);
    for (;;) {
        if (step == STEP_VALUE) {
            skip_ws(&p);
            if (p.pos >= p.len) {
                rc = unexpected(&p);
                goto cleanup;
            }
            if (p.s[p.pos] == '[' || p.s[p.pos] == '{') {
                rc = open_container(&p, &v);
                if (rc != ERR_OK)
                    goto cleanup;
                if (v != NULL)
                    step = STEP_AFTER_VALUE;
                continue;
            }
            rc = parse_scalar(&p, &v);
            if (rc != ERR_OK)
                goto cleanup;
            step = STEP_AFTER_VALUE;
            continue;
        }
        if (p.depth == 0)
            break;
        rc = after_value(&p, &v, &more);
        if (rc != ERR_OK)
            goto cleanup;
        if (more)
            step = STEP_VALUE;
    }
    skip_ws(&p);
    if (p.pos < p.len) {
        rc = unexpected(&p);
        goto cleanup;
    }
    *out = v;
    v = NULL;

cleanup:
    /* Containers join their parent only when complete, so each open frame owns its own. */
    while (p.depth > 0)
        json_object_put(p.stack[--p.depth].c);
    for (i = 0; i < p.cap; i++)
        sbuf_free(&p.stack[i].key);
    json_object_put(v);
    free(p.stack);
    sbuf_free(&p.str);
    return rc;
}

const char *
jsonp_str(json_object *v)
{
    if (v == NULL)
        return "null";
    return json_object_to_json_string_ext(v,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

void
jsonp_write_string(struct sbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0, i;
    char esc[6];

    sbuf_add(b, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep;
        size_t n = 2;
        switch (c) {
        case '"':
            rep = "\\\"";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case '\b':
            rep = "\\b";
            break;
        case '\f':
            rep = "\\f";
            break;
        case '\n':
            rep = "\\n";
            break;
        case '\r':
            rep = "\\r";
            break;
        case '\t':
            rep = "\\t";
            break;
        default:
            if (c >= 0x20)
                continue;
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            rep = esc;
            n = 6;
        }
        sbuf_add(b, s + run, i - run);
        sbuf_add(b, rep, n);
        run = i + 1;
    }
    sbuf_add(b, s + run, len - run);
    sbuf_add(b, "\"", 1);
}

void
jsonp_write(struct sbuf *b, json_object *v)
{
    size_t i, n;
    int64_t i64;
    int first = 1;

    switch (json_object_get_type(v)) {
    case json_type_null:
        sbuf_add(b, "null", 4);
        break;
    case json_type_boolean:
        sbuf_adds(b, json_object_get_boolean(v) ? "true" : "false");
        break;
    case json_type_int:
        /* json-c keeps values above INT64_MAX as uint64 and clamps the int64 view */
        i64 = json_object_get_int64(v);
        if (i64 == INT64_MAX)
            sbuf_add_decimal(b, json_object_get_uint64(v), 0);
        else
            sbuf_add_int64(b, i64);
        break;
    case json_type_double:
        /* the text a number was read as, or json-c's own formatting */
        sbuf_adds(b, jsonp_str(v));
        break;
    case json_type_string:
        jsonp_write_string(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array:
        sbuf_add(b, "[", 1);
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            if (i > 0)
                sbuf_add(b, ",", 1);
            jsonp_write(b, json_object_array_get_idx(v, i));
        }
        sbuf_add(b, "]", 1);
        break;
    case json_type_object:
        sbuf_add(b, "{", 1);
        json_object_object_foreach(v, name, member)
        {
            if (!first)
                sbuf_add(b, ",", 1);
            first = 0;
            jsonp_write_string(b, name, strlen(name));
            sbuf_add(b, ":", 1);
            jsonp_write(b, member);
        }
        sbuf_add(b, "}", 1);
        break;
    }
}

void
jsonp_write_with(struct sbuf *b, json_object *obj, const char *name, const char *json_text)
{
    jsonp_write(b, obj);
    if (name == NULL)
        return;
    /* reopen "{...}" before its closing brace */
    b->len--;
    if (b->data[b->len - 1] != '{')
        sbuf_add(b, ",", 1);
    jsonp_write_string(b, name, strlen(name));
    sbuf_add(b, ":", 1);
    sbuf_adds(b, json_text);
    sbuf_add(b, "}", 1);
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canonical(struct sbuf *b, json_object *v);

/* Members in strcmp order of their UTF-8 names, i.e. by code point. */
static void
canonical_object(struct sbuf *b, json_object *v)
{
    size_t n = (size_t)json_object_object_length(v), i = 0;
    const char **names = xcalloc(n, sizeof(*names));

    json_object_object_foreach(v, name, member)
    {
        names[i++] = name;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    sbuf_adds(b, "{");
    for (i = 0; i < n; i++) {
        if (i > 0)
            sbuf_adds(b, ",");
        jsonp_write_string(b, names[i], strlen(names[i]));
        sbuf_adds(b, ":");
        canonical(b, json_object_object_get(v, names[i]));
    }
    sbuf_adds(b, "}");
    free(names);
}

static void
canonical(struct sbuf *b, json_object *v)
{
    size_t n, i;

    switch (json_object_get_type(v)) {
    case json_type_object:
        canonical_object(b, v);
        break;
    case json_type_array:
        n = json_object_array_length(v);
        sbuf_adds(b, "[");
        for (i = 0; i < n; i++) {
            if (i > 0)
                sbuf_adds(b, ",");
            canonical(b, json_object_array_get_idx(v, i));
        }
        sbuf_adds(b, "]");
        break;
    default:
        jsonp_write(b, v);
        break;
    }
}

char *
jsonp_canonical(json_object *v)
{
    struct sbuf b;

    sbuf_init(&b);
    canonical(&b, v);
    return b.data;
}

/*
 * json-c keeps uint64 values above INT64_MAX in the same type as int64 and clamps
 * each getter, so two integers are equal only when both views agree.
 */
static int
int_equal(json_object *a, json_object *b)
{
    return json_object_get_int64(a) == json_object_get_int64(b) &&
           json_object_get_uint64(a) == json_object_get_uint64(b);
}

/* A number's decimal value as written: its sign, its significant digits and the
 * power of ten of the first of them (0.d1d2... x 10^point). Zero has no digits. */
struct decimal {
    int negative;
    const char *digits; /* into the text: the first significant digit */
    size_t n;           /* significant digits, '.' skipped when counting */
    long point;
};

static void
decimal_of(const char *text, struct decimal *d)
{
    const char *p = text, *last = NULL;
    long before = 0, exponent = 0, sign = 1;
    int seen_point = 0;

    memset(d, 0, sizeof(*d));
    if (*p == '-') {
        d->negative = 1;
        p++;
    }
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        if (d->digits == NULL && *p == '0') {
            if (seen_point)
                before--; /* a leading zero after the point */
            continue;
        }
        if (d->digits == NULL)
            d->digits = p;
        if (!seen_point)
            before++;
        if (*p != '0')
            last = p;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            sign = *p++ == '-' ? -1 : 1;
        for (; *p >= '0' && *p <= '9' && exponent < 1000000; p++)
            exponent = exponent * 10 + (*p - '0');
    }
    if (last == NULL) {
        d->digits = NULL; /* zero: every representation is equal */
        return;
    }
    for (p = d->digits; p <= last; p++)
        d->n += *p != '.';
    d->point = before + sign * exponent;
}

/* The digit at position i of a decimal, the point skipped. */
static char
decimal_digit(const struct decimal *d, size_t i)
{
    const char *p = d->digits;

    for (;; p++)
        if (*p != '.' && i-- == 0)
            return *p;
}

/*
 * RFC 6902 section 4.6 compares numbers by value. Two integers json-c holds exactly
 * compare as integers; otherwise the decimal values as written compare digit by digit,
 * so 1, 1.0 and 10e-1 are equal while two 30-digit integers a double cannot tell apart
 * are not (and a change from one to the other is never mistaken for no change).
 */
static int
number_equal(json_object *a, json_object *b)
{
    struct decimal x, y;
    size_t i;

    if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
        return int_equal(a, b);
    decimal_of(json_object_get_string(a), &x);
    decimal_of(json_object_get_string(b), &y);
    if (x.digits == NULL || y.digits == NULL)
        return x.digits == y.digits;
    if (x.negative != y.negative || x.n != y.n || x.point != y.point)
        return 0;
    for (i = 0; i < x.n; i++)
        if (decimal_digit(&x, i) != decimal_digit(&y, i))
            return 0;
    return 1;
}

static int
is_number(json_type t)
{
    return t == json_type_int || t == json_type_double;
}

/* Same member names with equal values, in any order. */
static int
object_equal(json_object *a, json_object *b)
{
    if (json_object_object_length(a) != json_object_object_length(b))
        return 0;
    json_object_object_foreach(a, name, av)
    {
        json_object *bv;
        if (!json_object_object_get_ex(b, name, &bv) || !jsonp_equal(av, bv))
            return 0;
    }
    return 1;
}

int
jsonp_equal(json_object *a, json_object *b)
{
    json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    size_t n, i;

    if (a == b)
        return 1;
    if (is_number(ta) && is_number(tb))
        return number_equal(a, b);
    if (ta != tb)
        return 0;
    switch (ta) {
    case json_type_boolean:
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_string:
        return json_object_get_string_len(a) == json_object_get_string_len(b) &&
               memcmp(json_object_get_string(a), json_object_get_string(b),
                      (size_t)json_object_get_string_len(a)) == 0;
    case json_type_array:
        n = json_object_array_length(a);
        if (n != json_object_array_length(b))
            return 0;
        for (i = 0; i < n; i++)
            if (!jsonp_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                return 0;
        return 1;
    case json_type_object:
        return object_equal(a, b);
    default:
        return 1; /* null equals null */
    }
}

/*
 * json-c's deep copy duplicates the text kept by json_object_new_double_s, so big or
 * fractional numbers still serialise as they were written. It fails only when it
 * cannot allocate (every tree here uses json-c's own serialisers), and the
 * out-of-memory policy in xalloc.h is to abort.
 */
json_object *
jsonp_copy(json_object *v)
{
    json_object *copy = NULL;

    if (v == NULL)
        return NULL;
    if (json_object_deep_copy(v, &copy, NULL) != 0)
        abort();
    return copy;
}

const char *
jsonp_type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_object:
        return "object";
    case json_type_array:
        return "array";
    case json_type_string:
        return "string";
    case json_type_int:
    case json_type_double:
        return "number";
    case json_type_boolean:
        return "boolean";
    default:
        return "null";
    }
}

int
jsonp_name_in(const char *name, const char *const *names)
{
    for (; *names != NULL; names++)
        if (strcmp(name, *names) == 0)
            return 1;
    return 0;
}

const char *
jsonp_unknown_member(json_object *obj, const char *const *allowed)
{
    struct json_object_iter it;

    json_object_object_foreachC(obj, it)
    {
        if (!jsonp_name_in(it.key, allowed))
            return it.key;
    }
    return NULL;
}

size_t
jsonp_depth(json_object *v, size_t cap)
{
    size_t deepest = 0, d, i, n;

    if (!json_object_is_type(v, json_type_array) && !json_object_is_type(v, json_type_object))
        return 0;
    if (cap == 0)
        return 1;
    if (json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        for (i = 0; i < n && deepest < cap; i++) {
            d = jsonp_depth(json_object_array_get_idx(v, i), cap - 1);
            if (d > deepest)
                deepest = d;
        }
    } else {
        json_object_object_foreach(v, name, member)
        {
            (void)name;
            d = jsonp_depth(member, cap - 1);
            if (d > deepest)
                deepest = d;
            if (deepest >= cap)
                break;
        }
    }
    return deepest + 1;
}

/* jsonp_size's walk, `levels` containers down. */
static size_t
size_within(json_object *v, size_t cap, size_t levels)
{
    size_t total = 0, i, n;

    switch (json_object_get_type(v)) {
    case json_type_null:
        return 4;
    case json_type_boolean:
        return 5;
    case json_type_int:
    case json_type_double:
        return 8;
    case json_type_string:
        return (size_t)json_object_get_string_len(v) + 2;
    default:
        break;
    }
    if (levels >= CONFIG_STORED_DEPTH_MAX)
        return cap + 1;
    if (json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        for (i = 0; i < n && total <= cap; i++)
            total += size_within(json_object_array_get_idx(v, i), cap - total, levels + 1) + 1;
    } else {
        json_object_object_foreach(v, name, member)
        {
            total += strlen(name) + 4 + size_within(member, cap, levels + 1);
            if (total > cap)
                break;
        }
    }
    total += 2;
    return total > cap ? cap + 1 : total;
}

size_t
jsonp_size(json_object *v, size_t cap)
{
    return size_within(v, cap, 0);
}
