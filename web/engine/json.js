/*
 * json.js: the JSON helpers every engine module shares: value classes as the C engine
 * sees them, RFC 6902 section 4.6 equality, deep copies, safe member access, and
 * byte-wise (code point) string order.
 *
 * Documents are plain JSON values as JSON.parse returns them. A member called
 * "__proto__" is an ordinary member here, so members are read with hasOwn/member and
 * written with setMember, never with a bare assignment.
 */

/* Value classes, as bits so a declaration may accept several ("number|null"). */
export const T_NULL = 1;
export const T_BOOLEAN = 2;
export const T_INTEGER = 4; /* what the server reads as a 64-bit integer */
export const T_FRACTION = 8; /* any other number */
export const T_STRING = 16;
export const T_OBJECT = 32;
export const T_ARRAY = 64;
export const T_NUMBER = T_INTEGER | T_FRACTION;
export const T_ANY = 127;

const TWO_63 = 2 ** 63;

/*
 * 2^53 - 1: beyond it numbers are not exact integers here. The catalog holds a number
 * sent for a member declared integer or number within +-SAFE_INTEGER (docs/catalog.md),
 * so both engines read every accepted value alike.
 */
export const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function hasOwn(obj, name) {
  return Object.prototype.hasOwnProperty.call(obj, name);
}

/* Member `name` of object `obj`, or undefined when it has none (never an inherited one). */
export function member(obj, name) {
  return isObject(obj) && hasOwn(obj, name) ? obj[name] : undefined;
}

/* Adds or replaces a member; defineProperty keeps "__proto__" an ordinary member. */
export function setMember(obj, name, value) {
  if (name === '__proto__') {
    Object.defineProperty(obj, name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    obj[name] = value;
  }
}

/*
 * The class of a value. JavaScript cannot see whether a number was written "5" or
 * "5.0"; what matters is what the server reads, and JSON.stringify writes an integral
 * number below 2^63 as plain digits, which the server keeps as a 64-bit integer.
 */
export function classOf(v) {
  if (v === null || v === undefined) return T_NULL;
  switch (typeof v) {
    case 'boolean':
      return T_BOOLEAN;
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < TWO_63 ? T_INTEGER : T_FRACTION;
    case 'string':
      return T_STRING;
    default:
      return Array.isArray(v) ? T_ARRAY : T_OBJECT;
  }
}

/* The RFC 8259 name of a value's type, as error details give it. */
export function typeName(v) {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/* RFC 6902 section 4.6: numbers by value, arrays in order, objects in any order. */
export function equal(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    return a.length === b.length && a.every((v, i) => equal(v, b[i]));
  }
  const names = Object.keys(a);
  return (
    names.length === Object.keys(b).length && names.every((n) => hasOwn(b, n) && equal(a[n], b[n]))
  );
}

export function clone(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(clone);
  const out = {};
  for (const name of Object.keys(v)) setMember(out, name, clone(v[name]));
  return out;
}

/*
 * Orders two strings as the C engine's strcmp orders their UTF-8 bytes, i.e. by code
 * point. UTF-16 code units agree except when one unit is a surrogate and the other
 * lies in U+E000..U+FFFF, where the surrogate (an astral code point) is the greater.
 */
export function compareStrings(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const encoder = new TextEncoder();

/* The length of `s` in UTF-8 bytes: the server's limits count bytes. */
export function byteLength(s) {
  return encoder.encode(s).length;
}
