/*
 * pointer.js: JSON Pointer (RFC 6901) as the C engine reads it: parsing into unescaped
 * tokens, array indices, resolving, and joining escaped tokens into pointers.
 */
import { hasOwn, isObject } from './json.js';

/*
 * The unescaped tokens of pointer `s`, or null when it is not a pointer: it must be
 * "" or start with "/", and "~" must be followed by "0" or "1" (section 3).
 */
export function parsePointer(s) {
  if (s !== '' && s[0] !== '/') return null;
  if (/~(?![01])/.test(s)) return null;
  if (s === '') return [];
  return s
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const SIZE_MAX = '18446744073709551615';

/*
 * The array index token `tok` names (section 4: "0" or digits without a leading zero),
 * or -1. Like the server, a number beyond its 64-bit size type is no index at all.
 */
export function arrayIndex(tok) {
  if (!/^(0|[1-9][0-9]*)$/.test(tok)) return -1;
  if (tok.length > SIZE_MAX.length || (tok.length === SIZE_MAX.length && tok > SIZE_MAX)) {
    return -1;
  }
  return Number(tok);
}

/*
 * Follows the first `depth` tokens from `doc`. Returns {value} or null when a member
 * or index is missing or a token descends into a scalar ("-" names nothing here).
 */
export function resolve(doc, tokens, depth) {
  let cur = doc;
  for (let i = 0; i < depth; i++) {
    const tok = tokens[i];
    if (isObject(cur)) {
      if (!hasOwn(cur, tok)) return null;
      cur = cur[tok];
    } else if (Array.isArray(cur)) {
      const idx = arrayIndex(tok);
      if (idx < 0 || idx >= cur.length) return null;
      cur = cur[idx];
    } else {
      return null;
    }
  }
  return { value: cur };
}

/* `base` with one more escaped token ("/a" + "b/c" -> "/a/b~1c"). */
export function join(base, token) {
  return `${base}/${String(token).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}
