/*
 * patch.js: JSON Patch (RFC 6902) with the project's `create` extension (like `add`,
 * but 409 already-exists when a value is present), and JSON Merge Patch (RFC 7396)
 * translated into the JSON Patch it amounts to, exactly as the server's engine does.
 * Every application also yields the inverse patch, with concrete paths only.
 *
 * A patch is applied to a working copy, so a failure leaves the caller's document
 * untouched: the public functions never mutate their arguments.
 */
import { clone, equal, hasOwn, isObject, setMember, typeName } from './json.js';
import { arrayIndex, join, parsePointer, resolve } from './pointer.js';
import { Failure, catching } from './failure.js';

const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test', 'create'];
const NEEDS_VALUE = new Set(['add', 'replace', 'test', 'create']);

/* What the last token of a path may name. */
const EXISTING = 0; /* a value that must be there: remove, replace, a move/copy source */
const INSERT = 1; /* a place for a new value: "-" and index == length are allowed */

/* Whether pointer text `a` names a proper ancestor of `b` (escaped pointers are canonical). */
function properPrefix(a, b) {
  return b.length > a.length && b.startsWith(a) && b[a.length] === '/';
}

function pathNotFound(where, detail) {
  return new Failure(422, 'path-not-found', where, detail);
}

/*
 * Resolves where pointer `text` (tokens `tokens`) leads in `doc`, checking its last
 * token against `mode` (RFC 6902 section 4). Returns {parent, name | idx, path}, with
 * parent null for the whole document and `path` the pointer with a concrete index.
 */
function locate(doc, tokens, text, mode, where) {
  if (tokens.length === 0) return { parent: null, path: '' };
  const found = resolve(doc, tokens, tokens.length - 1);
  if (found === null) throw pathNotFound(where, `parent of ${text} does not exist`);
  const parent = found.value;
  const last = tokens[tokens.length - 1];
  if (isObject(parent)) {
    if (mode === EXISTING && !hasOwn(parent, last)) {
      throw pathNotFound(where, `${text} does not exist`);
    }
    return { parent, name: last, path: text };
  }
  if (!Array.isArray(parent)) {
    throw pathNotFound(where, `parent of ${text} is ${typeName(parent)}, not an object or array`);
  }
  let idx;
  if (last === '-') {
    /* RFC 6901 section 4: "-" is the element after the last, so it only appends */
    if (mode === EXISTING) throw pathNotFound(where, `${text}: "-" names no element`);
    idx = parent.length;
  } else {
    idx = arrayIndex(last);
    if (idx < 0) throw pathNotFound(where, `${text}: the last token is not an array index`);
    if (idx > parent.length || (mode === EXISTING && idx === parent.length)) {
      throw pathNotFound(where, `${text}: index ${idx} is out of range`);
    }
  }
  return { parent, idx, path: `${text.slice(0, text.lastIndexOf('/'))}/${idx}` };
}

function valueAt(work, loc) {
  if (loc.parent === null) return work.doc;
  return Array.isArray(loc.parent) ? loc.parent[loc.idx] : loc.parent[loc.name];
}

/*
 * Stores `v` at an INSERT location. Returns {had: true, old} when a value was
 * replaced (a member, or the whole document), {had: false} for an insertion.
 */
function put(work, loc, v) {
  if (loc.parent === null) {
    const old = work.doc;
    work.doc = v;
    return { had: true, old };
  }
  if (Array.isArray(loc.parent)) {
    loc.parent.splice(loc.idx, 0, v);
    return { had: false };
  }
  const had = hasOwn(loc.parent, loc.name);
  const old = had ? loc.parent[loc.name] : undefined;
  setMember(loc.parent, loc.name, v);
  return { had, old };
}

/* Takes the value out of an EXISTING location below the root and returns it. */
function detach(loc) {
  if (Array.isArray(loc.parent)) return loc.parent.splice(loc.idx, 1)[0];
  const old = loc.parent[loc.name];
  delete loc.parent[loc.name];
  return old;
}

/* Replaces the value at an EXISTING location; returns the old value. */
function swap(work, loc, v) {
  const old = valueAt(work, loc);
  if (loc.parent === null) work.doc = v;
  else if (Array.isArray(loc.parent)) loc.parent[loc.idx] = v;
  else setMember(loc.parent, loc.name, v);
  return old;
}

function operation(op, from, path, hasValue, value) {
  const o = { op };
  if (from !== undefined) o.from = from;
  o.path = path;
  if (hasValue) o.value = value;
  return o;
}

/* The inverse of storing at `path`: put back what it held, or take it away again. */
function undoPut(inv, path, stored) {
  inv.push(
    stored.had
      ? operation('replace', undefined, path, true, stored.old)
      : operation('remove', undefined, path, false),
  );
}

/* Reads member `name` of operation `o` as a JSON Pointer. */
function readPointer(o, name, where) {
  if (!hasOwn(o, name)) throw new Failure(400, undefined, where, `the operation has no "${name}"`);
  const text = o[name];
  if (typeof text !== 'string') {
    throw new Failure(400, undefined, where, `"${name}" must be a string, not ${typeName(text)}`);
  }
  const tokens = parsePointer(text);
  if (tokens === null) throw new Failure(400, undefined, where, `${text} is not a JSON Pointer`);
  return { text, tokens };
}

/* Checks the shape of operation `i` (RFC 6902 sections 4 and 5). */
function readOp(o, i) {
  if (!isObject(o)) {
    throw new Failure(
      400,
      undefined,
      `/${i}`,
      `operation ${i} must be an object, not ${typeName(o)}`,
    );
  }
  const at = (m) => `/${i}/${m}`;
  const kind = hasOwn(o, 'op') ? o.op : undefined;
  if (typeof kind !== 'string') {
    throw new Failure(400, undefined, at('op'), `operation ${i} needs "op" as a string`);
  }
  if (!OPS.includes(kind)) {
    throw new Failure(400, undefined, at('op'), `"op" must be one of ${OPS.join(', ')}`);
  }
  const op = { kind, at, path: readPointer(o, 'path', at('path')) };
  if (kind === 'move' || kind === 'copy') op.from = readPointer(o, 'from', at('from'));
  if (NEEDS_VALUE.has(kind)) {
    if (!hasOwn(o, 'value'))
      throw new Failure(400, undefined, at('value'), `${kind} needs a "value"`);
    op.value = o.value;
  }
  return op;
}

/* add (section 4.1) and create: an array index names a gap, so create never conflicts there. */
function doAdd(work, op, inv) {
  const loc = locate(work.doc, op.path.tokens, op.path.text, INSERT, op.at('path'));
  if (
    op.kind === 'create' &&
    (loc.parent === null || (isObject(loc.parent) && hasOwn(loc.parent, loc.name)))
  ) {
    throw new Failure(
      409,
      'already-exists',
      op.at('path'),
      `create: a value is already present at ${op.path.text}`,
    );
  }
  undoPut(inv, loc.path, put(work, loc, clone(op.value)));
}

/* remove (section 4.2); the whole document cannot go: a resource always has one. */
function doRemove(work, op, inv) {
  if (op.path.tokens.length === 0) {
    throw new Failure(422, undefined, op.at('path'), 'cannot remove the whole document');
  }
  const loc = locate(work.doc, op.path.tokens, op.path.text, EXISTING, op.at('path'));
  inv.push(operation('add', undefined, loc.path, true, detach(loc)));
}

/* replace (section 4.3). */
function doReplace(work, op, inv) {
  const loc = locate(work.doc, op.path.tokens, op.path.text, EXISTING, op.at('path'));
  inv.push(operation('replace', undefined, loc.path, true, swap(work, loc, clone(op.value))));
}

/*
 * move (section 4.4): a remove from A, then an add at B. The inverse moves B back to
 * A and restores what B held; when B is an ancestor of A that move would be illegal,
 * so the inverse restores B and adds the moved value at A instead.
 */
function doMove(work, op, inv) {
  if (properPrefix(op.from.text, op.path.text)) {
    throw new Failure(
      400,
      undefined,
      op.at('from'),
      `move: "from" ${op.from.text} is an ancestor of "path"`,
    );
  }
  const a = locate(work.doc, op.from.tokens, op.from.text, EXISTING, op.at('from'));
  if (op.from.text === op.path.text) return;
  const v = detach(a);
  let b;
  try {
    b = locate(work.doc, op.path.tokens, op.path.text, INSERT, op.at('path'));
  } catch (e) {
    put(work, a, v); /* a failed operation leaves the document as it was */
    throw e;
  }
  const stored = put(work, b, v);
  if (properPrefix(b.path, a.path)) {
    undoPut(inv, b.path, stored);
    inv.push(operation('add', undefined, a.path, true, clone(v)));
  } else {
    inv.push(operation('move', b.path, a.path, false));
    if (stored.had) inv.push(operation('add', undefined, b.path, true, stored.old));
  }
}

/* copy (section 4.5): an add at B of a deep copy of the value at A. */
function doCopy(work, op, inv) {
  const a = locate(work.doc, op.from.tokens, op.from.text, EXISTING, op.at('from'));
  const b = locate(work.doc, op.path.tokens, op.path.text, INSERT, op.at('path'));
  undoPut(inv, b.path, put(work, b, clone(valueAt(work, a))));
}

/* test (section 4.6); a path with nothing at it fails like an unequal value. */
function doTest(work, op) {
  const found = resolve(work.doc, op.path.tokens, op.path.tokens.length);
  if (found === null) {
    throw new Failure(
      409,
      'test-failed',
      op.at('path'),
      `test failed: no value at ${op.path.text}`,
    );
  }
  if (!equal(found.value, op.value)) {
    throw new Failure(
      409,
      'test-failed',
      op.at('value'),
      `test failed: the value at ${op.path.text} differs`,
    );
  }
}

const APPLY = {
  add: doAdd,
  create: doAdd,
  remove: doRemove,
  replace: doReplace,
  move: doMove,
  copy: doCopy,
  test: doTest,
};

/*
 * Applies `patch` to `work.doc` in place (work is {doc}, so the whole document may be
 * replaced) and returns the inverse patch. Throws a Failure part way through; the
 * caller then drops the working copy.
 */
export function applyOps(work, patch) {
  if (!Array.isArray(patch)) {
    throw new Failure(400, undefined, '', `a JSON Patch must be an array, not ${typeName(patch)}`);
  }
  const groups = patch.map((o, i) => {
    const op = readOp(o, i);
    const inv = [];
    APPLY[op.kind](work, op, inv);
    return inv;
  });
  return groups.reverse().flat();
}

/*
 * Applies JSON Patch `patch` to `document`. Returns {document, forward, inverse}
 * (forward is `patch` itself), or {error} with status 400 (malformed, pointer
 * "/2/path"), 409 (test-failed, already-exists) or 422 (path-not-found).
 */
export function applyPatch(document, patch) {
  return catching(() => {
    const work = { doc: clone(document) };
    const inverse = applyOps(work, patch);
    return { document: work.doc, forward: patch, inverse };
  });
}

/* RFC 7396 section 2 applied to a target that is not an object: nulls vanish. */
function mergeFresh(merge) {
  if (!isObject(merge)) return clone(merge);
  const out = {};
  for (const name of Object.keys(merge)) {
    if (merge[name] !== null) setMember(out, name, mergeFresh(merge[name]));
  }
  return out;
}

/* The operations merging object `merge` into object `target` at `path`, leaving out no-ops. */
function mergeMembers(target, merge, path, fwd) {
  for (const name of Object.keys(merge)) {
    const mv = merge[name];
    const has = hasOwn(target, name);
    const p = join(path, name);
    if (mv === null) {
      if (has) fwd.push(operation('remove', undefined, p, false));
    } else if (has && isObject(mv) && isObject(target[name])) {
      mergeMembers(target[name], mv, p, fwd);
    } else if (!has) {
      fwd.push(operation('add', undefined, p, true, mergeFresh(mv)));
    } else if (!equal(target[name], mv)) {
      fwd.push(operation('replace', undefined, p, true, mergeFresh(mv)));
    }
  }
}

/*
 * Translates RFC 7396 merge patch `merge` against `document` into the JSON Patch with
 * the same effect and applies it: {document, forward, inverse}. A merge patch that
 * changes nothing gives an empty forward patch.
 */
export function applyMergePatch(document, merge) {
  const forward = [];
  if (isObject(merge)) {
    if (isObject(document)) mergeMembers(document, merge, '', forward);
    else forward.push(operation('replace', undefined, '', true, mergeFresh(merge)));
  } else if (!equal(document, merge)) {
    forward.push(operation('replace', undefined, '', true, clone(merge)));
  }
  return applyPatch(document, forward);
}
