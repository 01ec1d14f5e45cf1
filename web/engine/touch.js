/*
 * touch.js: what a change touches, and when two changes overlap (docs/merge.md), as
 * the server computes them when it merges a stale action. A touch set is an array of
 *   {"op": "w" | "r" | "add", "path": [token...], "value"?}  or  {"op": "w", "state": true}
 * where a token is a member name or {"key": name, "value": v}: the element of an array
 * whose member `name` is v, wherever it sits. Log entries carry theirs as `touches`.
 */
import { clone, equal, hasOwn, isObject, member } from './json.js';
import { arrayIndex, parsePointer } from './pointer.js';

const STATE = Object.freeze({ op: 'w', state: true });

function keyed(key, value) {
  return { key, value: clone(value ?? null) };
}

/* Only a set addition names the value it adds. */
function touch(op, path, value) {
  const t = { op, path };
  if (op === 'add') t.value = clone(value ?? null);
  return t;
}

/*
 * The tokens of the first `n` segments of a path template, selectors resolved from
 * `target`. A literal array position stands for its whole array, as in a JSON Patch.
 */
function resolveTemplate(segs, n, target) {
  const tokens = [];
  for (const s of segs.slice(0, n)) {
    if (!s.selector && (s.name === '-' || arrayIndex(s.name) >= 0)) break;
    tokens.push(s.selector ? keyed(s.name, member(target, s.name)) : s.name);
  }
  return tokens;
}

/* The value a step writes, as {value}, or null when it was not sent. */
function stepValue(s, data) {
  if (s.valueFrom === null) return data === undefined ? null : { value: data };
  return isObject(data) && hasOwn(data, s.valueFrom) ? { value: data[s.valueFrom] } : null;
}

function stepTouches(s, target, data, result, out) {
  const segs = s.path.segs;
  const n = segs.length;
  const v = stepValue(s, data);
  switch (s.op) {
    case 'set':
    case 'remove':
      if (s.op === 'remove' || v !== null) out.push(touch('w', resolveTemplate(segs, n, target)));
      return;
    case 'merge':
      for (const name of isObject(data) ? Object.keys(data) : []) {
        out.push(touch('w', [...resolveTemplate(segs, n, target), name]));
      }
      return;
    case 'insert_sorted':
      if (v !== null)
        out.push(
          touch('w', [...resolveTemplate(segs, n, target), keyed(s.key, member(v.value, s.key))]),
        );
      return;
    case 'rekey':
      if (v === null) return;
      out.push(touch('w', resolveTemplate(segs, n, target)));
      out.push(touch('w', [...resolveTemplate(segs, n - 1, target), keyed(s.key, v.value)]));
      return;
    case 'append': {
      const id = s.idMember === undefined ? undefined : member(result, s.idMember);
      const path = resolveTemplate(segs, n, target);
      out.push(touch('w', id === undefined ? path : [...path, keyed(s.idMember, id)]));
      return;
    }
    case 'add_to_set':
      if (v !== null) out.push(touch('add', resolveTemplate(segs, n, target), v.value));
      return;
  }
}

/*
 * The touches of action envelope `envelope` ({action, target?, data?}) of type
 * `typeName`, as applied: `result` is the applied action's result (the ids its append
 * steps assigned), or undefined. An unknown action touches nothing.
 */
export function touchAction(catalog, typeName, envelope, result) {
  const act = catalog.type(typeName)?.byName.get(envelope.action);
  if (act === undefined) return [];
  if (act.kind === 'transition') return [{ ...STATE }];
  const out = [];
  const data = envelope.data ?? undefined; /* "data": null is no data */
  for (const s of act.steps ?? []) stepTouches(s, envelope.target, data, result, out);
  return out;
}

/*
 * The tokens of `pointer` up to its first array position, or null when it is not a
 * pointer. Where `doc` says what a container is, only an array cuts; past what `doc`
 * holds, any index-like token cuts, to be safe.
 */
function cutPointer(pointer, doc) {
  const tokens = parsePointer(pointer);
  if (tokens === null) return null;
  const out = [];
  let at = doc;
  let known = doc !== null && doc !== undefined;
  for (const tok of tokens) {
    const indexLike = tok === '-' || arrayIndex(tok) >= 0;
    if (known ? Array.isArray(at) : indexLike) break;
    out.push(tok);
    known = known && isObject(at) && hasOwn(at, tok);
    if (known) at = at[tok];
  }
  return out;
}

/*
 * The touches of JSON Patch `patch` applied to `doc` (the document before it): each
 * operation writes its path (a test reads it; copy reads its from, move writes it).
 * "from" counts only for move and copy, the operations that define it (RFC 6902
 * section 4). An unreadable path cannot be shown disjoint from anything: it touches
 * everything.
 */
export function touchPatch(patch, doc) {
  const out = [];
  for (const o of Array.isArray(patch) ? patch : []) {
    if (!isObject(o) || !hasOwn(o, 'op')) continue;
    const cut = (p) => (typeof p === 'string' ? cutPointer(p, doc) : null) ?? [];
    if (hasOwn(o, 'path')) out.push(touch(o.op === 'test' ? 'r' : 'w', cut(o.path)));
    if ((o.op === 'move' || o.op === 'copy') && hasOwn(o, 'from'))
      out.push(touch(o.op === 'move' ? 'w' : 'r', cut(o.from)));
  }
  return out;
}

function tokenEqual(a, b) {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return (
    isObject(a) &&
    isObject(b) &&
    hasOwn(a, 'key') &&
    hasOwn(b, 'key') &&
    a.key === b.key &&
    equal(member(a, 'value') ?? null, member(b, 'value') ?? null)
  );
}

function oneOverlap(x, y) {
  const a = x.op;
  const b = y.op;
  if (typeof a !== 'string' || typeof b !== 'string') return true;
  /* two reads never overlap, nor two set additions (adding twice is adding once) */
  if ((a === 'r' && b === 'r') || (a === 'add' && b === 'add')) return false;
  const sx = hasOwn(x, 'state');
  const sy = hasOwn(y, 'state');
  if (sx || sy) return sx && sy;
  if (!hasOwn(x, 'path') || !hasOwn(y, 'path')) return true;
  const n = Math.min(x.path.length, y.path.length);
  for (let i = 0; i < n; i++) if (!tokenEqual(x.path[i], y.path[i])) return false;
  return true; /* equal, or one is an ancestor of the other */
}

/*
 * Whether touch sets `ours` and `theirs` overlap. An entry without a recorded touch
 * set (null or undefined) overlaps everything.
 */
export function overlaps(ours, theirs) {
  if (ours == null || theirs == null) return true;
  return ours.some((x) => theirs.some((y) => oneOverlap(x, y)));
}
