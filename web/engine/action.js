/*
 * action.js: the action envelope and the compiler from catalog steps to concrete
 * RFC 6902 operations (docs/catalog.md), a port of the server's action engine. Each
 * step is compiled against the document as the previous steps left it and applied by
 * the patch engine, so the document, the forward patch and its inverse come from one
 * place, as on the server.
 *
 * Only single envelopes are read: this client never sends batches.
 */
import { allowedFrom } from './catalog.js';
import { Failure, catching } from './failure.js';
import {
  SAFE_INTEGER,
  T_INTEGER,
  T_NUMBER,
  T_STRING,
  byteLength,
  classOf,
  clone,
  compareStrings,
  equal,
  hasOwn,
  isObject,
  member,
  setMember,
  typeName as jsonType,
} from './json.js';
import { applyOps } from './patch.js';
import { arrayIndex, join } from './pointer.js';

const ENVELOPE = ['action', 'target', 'data', 'expected_version', 'on_conflict', 'id'];
const NAME_MAX = 64; /* bytes, as the catalog's names */
const ID_MAX = 200; /* an idempotency key's characters */

function badRequest(pointer, detail) {
  return new Failure(400, undefined, pointer, detail);
}

function pathNotFound(path) {
  return new Failure(422, 'path-not-found', undefined, `the document has no value at "${path}"`);
}

/*
 * Validates an action envelope {action, target?, data?, expected_version?,
 * on_conflict?, id?} as the server does (unknown members, wrong types: 400 with the
 * member's pointer) and returns {name, target, data}, absent members undefined.
 * "data": null counts as no data.
 */
function readEnvelope(body) {
  if (!isObject(body)) throw badRequest('', 'the body must be an action envelope (an object)');
  for (const name of Object.keys(body)) {
    if (!ENVELOPE.includes(name)) throw badRequest(join('', name), 'unknown member');
  }
  /* versions start at 1 (the creation), so 0 can never match */
  if (hasOwn(body, 'expected_version')) {
    const v = body.expected_version;
    if (classOf(v) !== T_INTEGER || v < 1) {
      throw badRequest('/expected_version', 'must be an integer version, 1 or more');
    }
  }
  if (
    hasOwn(body, 'on_conflict') &&
    body.on_conflict !== 'merge' &&
    body.on_conflict !== 'reject'
  ) {
    throw badRequest('/on_conflict', 'must be "reject" or "merge"');
  }
  if (hasOwn(body, 'id')) {
    const id = body.id;
    if (typeof id !== 'string' || id.length > ID_MAX || !/^[\x20-\x7e]+$/.test(id)) {
      throw badRequest('/id', `must be a string of 1 to ${ID_MAX} printable ASCII characters`);
    }
  }
  if (!hasOwn(body, 'action')) throw badRequest('/action', '"action" is required');
  const name = body.action;
  if (typeof name !== 'string')
    throw badRequest('/action', `must be a string, not ${jsonType(name)}`);
  if (name === '' || byteLength(name) > NAME_MAX) {
    throw badRequest('/action', `must be an action name of 1 to ${NAME_MAX} bytes`);
  }
  if (hasOwn(body, 'target') && !isObject(body.target)) {
    throw badRequest('/target', `must be an object, not ${jsonType(body.target)}`);
  }
  return {
    name,
    target: member(body, 'target'),
    data: member(body, 'data') ?? undefined,
  };
}

/*
 * Whether `v` is a number beyond +-SAFE_INTEGER, which this engine cannot tell apart
 * from its neighbours (nor 1e20 from an integer): a member declared integer or number
 * refuses it as out of range, whatever its class, as the server does.
 */
function beyondSafe(v) {
  return typeof v === 'number' && !(Math.abs(v) <= SAFE_INTEGER);
}

/*
 * Checks the sent `target` or `data` (`v`, undefined when absent) against declaration
 * `s`; `base` is the section's pointer. 400 at the offending member. A number beyond
 * +-SAFE_INTEGER for a member declared integer or number passes here: checkValues
 * refuses it (422).
 */
function checkSchema(act, s, v, base, section) {
  if (s.form === 'none') {
    if (v !== undefined) throw badRequest(base, `${act.name} takes no ${section}`);
    return;
  }
  if (s.form === 'value') {
    if (v === undefined && !s.optional)
      throw badRequest(base, `${act.name} needs ${section} (${s.spec})`);
    if (v !== undefined && !(classOf(v) & s.types) && !(s.numeric && beyondSafe(v))) {
      throw badRequest(base, `expected ${s.spec}, got ${jsonType(v)}`);
    }
    return;
  }
  if (v !== undefined && !isObject(v))
    throw badRequest(base, `must be an object, not ${jsonType(v)}`);
  for (const name of Object.keys(v ?? {})) {
    const m = s.members.find((d) => d.name === name);
    if (m === undefined)
      throw badRequest(join(base, name), `unknown member of ${act.name}'s ${section}`);
    if (!(classOf(v[name]) & m.types) && !(m.numeric && beyondSafe(v[name]))) {
      throw badRequest(join(base, name), `expected ${m.spec}, got ${jsonType(v[name])}`);
    }
  }
  for (const m of s.members) {
    if (!m.optional && (v === undefined || !hasOwn(v, m.name))) {
      throw badRequest(
        join(base, m.name),
        `${act.name}'s ${section} needs member "${m.name}" (${m.spec})`,
      );
    }
  }
}

function outOfRange(pointer, detail) {
  return new Failure(422, 'out-of-range', pointer, detail);
}

/*
 * Checks one value the schema accepted against its member's constraints `b`: a number
 * for a member declared integer or number within +-SAFE_INTEGER, then its bounds; a
 * string's length in UTF-8 bytes. 422 out-of-range at `pointer`.
 */
function checkValue(numeric, b, v, pointer) {
  if (typeof v === 'number') {
    if (numeric && beyondSafe(v)) {
      throw outOfRange(
        pointer,
        `must lie within ${-SAFE_INTEGER}..${SAFE_INTEGER}, where numbers are exact integers in JavaScript`,
      );
    }
    if (b.min !== undefined && (v < b.min || (b.minExclusive && v === b.min))) {
      throw outOfRange(pointer, `must be ${b.minExclusive ? 'greater than' : 'at least'} ${b.min}`);
    }
    if (b.max !== undefined && (v > b.max || (b.maxExclusive && v === b.max))) {
      throw outOfRange(pointer, `must be ${b.maxExclusive ? 'less than' : 'at most'} ${b.max}`);
    }
  } else if (typeof v === 'string') {
    const len = b.minLength !== undefined || b.maxLength !== undefined ? byteLength(v) : 0;
    if (b.minLength !== undefined && len < b.minLength) {
      throw outOfRange(pointer, `must be at least ${b.minLength} bytes long`);
    }
    if (b.maxLength !== undefined && len > b.maxLength) {
      throw outOfRange(pointer, `must be at most ${b.maxLength} bytes long`);
    }
  }
}

/*
 * The constraints of a `target` or `data` (`v`, undefined when absent) that checkSchema
 * accepted, member by member in declaration order. 422 out-of-range at the member.
 */
function checkValues(s, v, base) {
  if (v === undefined) return;
  if (s.form === 'value') {
    checkValue(s.numeric, {}, v, base);
  } else if (s.form === 'members') {
    for (const m of s.members) {
      if (hasOwn(v, m.name)) checkValue(m.numeric, m.bounds, v[m.name], join(base, m.name));
    }
  }
}

/*
 * The action's cross-member rules, in catalog order. A rule holds when either member
 * is absent or not a number (null); otherwise a broken one is 422 invalid-range at the
 * rule's second member.
 */
function checkRules(act, data, base) {
  for (const r of act.rules) {
    const a = member(data, r.first);
    const b = member(data, r.second);
    if (typeof a !== 'number' || typeof b !== 'number') continue;
    const less = r.kind === 'less';
    if (less ? a < b : a <= b) continue;
    throw new Failure(
      422,
      'invalid-range',
      join(base, r.second),
      `${r.second} (${b}) must be ${less ? 'greater than' : 'at least'} ${r.first} (${a})`,
    );
  }
}

/*
 * Resolves path template `path` in `doc`: {path, parentPath, parent, node, index,
 * exists}. Every token must exist, except that the last may name a member absent from
 * its object (exists false): whether that is an error is the operation's call.
 * 422 target-not-found when a selector matches nothing, path-not-found otherwise.
 */
function locate(c, doc, path) {
  let cur = doc;
  let at = '';
  let parentPath = null;
  let parent;
  let index = 0;
  for (let i = 0; i < path.segs.length; i++) {
    const s = path.segs[i];
    let next;
    let child;
    let idx = index;
    if (s.selector) {
      if (!Array.isArray(cur)) {
        /* the server gives this no slug of its own: 422 unprocessable */
        throw new Failure(
          422,
          undefined,
          undefined,
          `the document has no array at "${at}" to select {${s.name}} in`,
        );
      }
      /* RFC 6902 section 4.6 equality: the first element whose member equals the target's */
      const want = member(c.req.target, s.name);
      idx = cur.findIndex((e) => isObject(e) && hasOwn(e, s.name) && equal(e[s.name], want));
      if (idx < 0) {
        throw new Failure(
          422,
          'target-not-found',
          join(c.targetPtr, s.name),
          `no element of "${at}" has ${s.name} ${JSON.stringify(want)}`,
        );
      }
      child = cur[idx];
      next = `${at}/${idx}`;
    } else {
      next = join(at, s.name);
      let found = false;
      if (isObject(cur)) {
        found = hasOwn(cur, s.name);
        if (!found && i + 1 === path.segs.length) {
          return { path: next, parentPath: at, parent: cur, exists: false };
        }
        child = cur[s.name];
      } else if (Array.isArray(cur)) {
        idx = arrayIndex(s.name);
        found = idx >= 0 && idx < cur.length;
        child = cur[idx];
      }
      if (!found) throw pathNotFound(next);
    }
    parentPath = at;
    at = next;
    parent = cur;
    index = idx;
    cur = child;
  }
  return { path: at, parentPath, parent, node: cur, index, exists: true };
}

/* The located value must exist and, when `kind` is given, be an 'array' or 'object'. */
function needType(l, kind) {
  if (!l.exists) throw pathNotFound(l.path);
  if (kind === 'array' ? !Array.isArray(l.node) : kind === 'object' && !isObject(l.node)) {
    throw new Failure(
      422,
      'wrong-type',
      undefined,
      `the value at "${l.path}" is ${jsonType(l.node)}, not an ${kind}`,
    );
  }
}

/*
 * The value step `s` writes, as {value}, or null when it has none because value_from
 * names an optional member that was not sent, or the optional data was not sent: such
 * a step is skipped.
 */
function stepValue(c, s) {
  if (s.valueFrom === null) return c.hasData ? { value: c.data } : null;
  return hasOwn(c.data, s.valueFrom) ? { value: c.data[s.valueFrom] } : null;
}

/* The request pointer of the value step `s` writes. */
function valuePointer(c, s) {
  return s.valueFrom === null ? c.dataPtr : join(c.dataPtr, s.valueFrom);
}

/* Orders two sort keys: numbers by value, before strings, which compare by code point. */
function keyCompare(a, b) {
  const sa = typeof a === 'string';
  const sb = typeof b === 'string';
  if (sa !== sb) return sa ? 1 : -1;
  if (sa) return compareStrings(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Compares the sort key of an array element with `k`; elements without one sort last. */
function elementCompare(elem, key, k) {
  if (!isObject(elem) || !hasOwn(elem, key) || !(classOf(elem[key]) & (T_NUMBER | T_STRING)))
    return 1;
  return keyCompare(elem[key], k);
}

/*
 * The index an element with sort key `k` takes in `arr` once element `skip` (-1: none)
 * is taken out: before the first greater key. Returns -1 when another element already
 * has an equal key; the whole array is scanned, so an array put out of order by a
 * PATCH still cannot gain a duplicate.
 */
function sortedSlot(arr, key, k, skip) {
  let pos = 0;
  let slot = -1;
  for (let i = 0; i < arr.length; i++) {
    if (i === skip) continue;
    const cmp = elementCompare(arr[i], key, k);
    if (cmp === 0) return -1;
    if (cmp > 0 && slot < 0) slot = pos;
    pos++;
  }
  return slot < 0 ? pos : slot;
}

function emit(ops, op, path, value) {
  ops.push({ op, path, value });
}

/* set: add the value at path, or replace what is there. */
function compileSet(c, s, doc, ops) {
  const v = stepValue(c, s);
  if (v === null) return;
  const l = locate(c, doc, s.path);
  emit(ops, l.exists ? 'replace' : 'add', l.path, clone(v.value));
}

/* merge: each data member becomes an add or replace of that member of the object at path. */
function compileMerge(c, s, doc, ops) {
  const l = locate(c, doc, s.path);
  needType(l, 'object');
  for (const name of Object.keys(c.data)) {
    emit(ops, hasOwn(l.node, name) ? 'replace' : 'add', join(l.path, name), clone(c.data[name]));
  }
}

/* remove: the value at path must exist. */
function compileRemove(c, s, doc, ops) {
  const l = locate(c, doc, s.path);
  needType(l);
  ops.push({ op: 'remove', path: l.path });
}

/* insert_sorted: add the value (an object) to the array at path, in order of `key`. */
function compileInsertSorted(c, s, doc, ops) {
  const v = stepValue(c, s);
  if (v === null) return;
  const vp = valuePointer(c, s);
  if (!isObject(v.value)) throw badRequest(vp, `must be an object, not ${jsonType(v.value)}`);
  const k = member(v.value, s.key);
  if (k === undefined || !(classOf(k) & (T_NUMBER | T_STRING))) {
    throw badRequest(join(vp, s.key), `the sort key "${s.key}" must be a number or a string`);
  }
  const l = locate(c, doc, s.path);
  needType(l, 'array');
  const slot = sortedSlot(l.node, s.key, k, -1);
  if (slot < 0) {
    throw new Failure(
      422,
      'duplicate-key',
      join(vp, s.key),
      `"${l.path}" already has an element with this ${s.key}`,
    );
  }
  emit(ops, 'add', `${l.path}/${slot}`, clone(v.value));
}

/*
 * rekey: the selected element gets `key` set to the value and moves to its sorted
 * place: a move (when the place changes) then a replace, so the log shows both.
 */
function compileRekey(c, s, doc, ops) {
  const v = stepValue(c, s);
  if (v === null) return;
  /* the path ends in a selector (the catalog says so), so the element exists */
  const l = locate(c, doc, s.path);
  const slot = sortedSlot(l.parent, s.key, v.value, l.index);
  if (slot < 0) {
    throw new Failure(
      422,
      'duplicate-key',
      valuePointer(c, s),
      `"${l.parentPath}" already has an element with this ${s.key}`,
    );
  }
  let at = l.path;
  if (slot !== l.index) {
    at = `${l.parentPath}/${slot}`;
    ops.push({ op: 'move', from: l.path, path: at });
  }
  emit(ops, hasOwn(l.node, s.key) ? 'replace' : 'add', join(at, s.key), clone(v.value));
}

/* 1 + the largest integer `member` among the objects of `arr`, or 1. */
function serialId(arr, name) {
  let max = 0;
  for (const e of arr) {
    const v = member(e, name);
    if (classOf(v) === T_INTEGER && v > max) max = v;
  }
  return max + 1;
}

/*
 * append: add the value (an object) at the end of the array at path, with a server
 * assigned id first and `defaults` for members it lacks; the id goes into the result.
 */
function compileAppend(c, s, doc, ops) {
  const v = stepValue(c, s);
  if (v === null) return;
  const vp = valuePointer(c, s);
  if (!isObject(v.value)) throw badRequest(vp, `must be an object, not ${jsonType(v.value)}`);
  if (s.idMember !== undefined && hasOwn(v.value, s.idMember)) {
    throw badRequest(join(vp, s.idMember), `"${s.idMember}" is assigned by the server`);
  }
  const l = locate(c, doc, s.path);
  needType(l, 'array');
  const elem = {};
  if (s.idKind !== undefined) {
    const id = s.idKind === 'uuid' ? c.uuid() : serialId(l.node, s.idMember);
    setMember(elem, s.idMember, id);
    c.result ??= {};
    setMember(c.result, s.idMember, id);
  }
  for (const name of Object.keys(v.value)) setMember(elem, name, clone(v.value[name]));
  for (const name of Object.keys(s.defaults ?? {})) {
    if (!hasOwn(elem, name)) setMember(elem, name, clone(s.defaults[name]));
  }
  emit(ops, 'add', `${l.path}/${l.node.length}`, elem);
}

/* add_to_set: append the value to the array at path unless an equal one is there. */
function compileAddToSet(c, s, doc, ops) {
  const v = stepValue(c, s);
  if (v === null) return;
  const l = locate(c, doc, s.path);
  if (!l.exists) {
    emit(ops, 'add', l.path, [clone(v.value)]);
    return;
  }
  needType(l, 'array');
  if (l.node.some((e) => equal(e, v.value))) return;
  emit(ops, 'add', `${l.path}/${l.node.length}`, clone(v.value));
}

const COMPILERS = {
  set: compileSet,
  merge: compileMerge,
  remove: compileRemove,
  insert_sorted: compileInsertSorted,
  rekey: compileRekey,
  append: compileAppend,
  add_to_set: compileAddToSet,
};

/* Compiles and applies the steps one by one, collecting the forward patch and the inverse. */
function applySteps(c, document) {
  const work = { doc: clone(document) };
  const forward = [];
  let inverse = [];
  for (const s of c.act.steps) {
    const ops = [];
    COMPILERS[s.op](c, s, work.doc, ops);
    if (ops.length === 0) continue;
    let inv;
    try {
      inv = applyOps(work, ops);
    } catch (e) {
      /* the compiler missed a check; its pointer names a patch the client never saw */
      if (e instanceof Failure) delete e.error.pointer;
      throw e;
    }
    forward.push(...ops);
    inverse = inv.concat(inverse);
  }
  if (!c.type.anyDocument && !isObject(work.doc)) {
    throw new Failure(
      422,
      'invalid-value',
      undefined,
      `a ${c.type.name} document must stay an object`,
    );
  }
  const out = { document: work.doc, forward, inverse };
  if (c.result !== undefined) out.result = c.result;
  return out;
}

/*
 * Applies action envelope `envelope` ({action, target?, data?}) of type `typeName` to
 * `document`, as the server would. `options.state` is the resource's state (for
 * transitions), `options.uuid` makes the ids of "uuid" appends (default
 * crypto.randomUUID). Never mutates its arguments.
 *
 * Returns {document, forward, inverse, result?, state?}: `result` holds the ids append
 * steps assigned, `state` the state a transition leads to (its patches are empty).
 * Or {error: {status, slug, detail, pointer?, allowed_actions?}}:
 *   400 bad-request          the envelope, target or data is malformed (pointer "/data/x");
 *   404 unknown-action       no such action, or verb-not-an-action (pointer "/action");
 *   409 transition-not-allowed  not from this state (no pointer);
 *   422 out-of-range (a member outside its declared bounds or lengths, or a number
 *       beyond +-(2^53 - 1) for a member declared integer or number; pointer
 *       "/data/x"), invalid-range (a broken rule; pointer of its second member),
 *       target-not-found (pointer "/target/x"), duplicate-key (pointer "/data/x"),
 *       path-not-found, wrong-type, invalid-value (no pointer).
 * Throws an Error when `typeName` is not in the catalog.
 */
export function applyAction(catalog, typeName, document, envelope, options = {}) {
  const type = catalog.type(typeName);
  if (type === undefined) throw new Error(`the catalog has no type "${typeName}"`);
  const state = options.state ?? null;
  return catching(() => {
    const req = readEnvelope(envelope);
    const act = type.byName.get(req.name);
    if (act === undefined || act.kind === 'verb') {
      throw new Failure(
        404,
        act === undefined ? 'unknown-action' : 'verb-not-an-action',
        '/action',
        act === undefined
          ? `${type.name} has no action "${req.name}"`
          : `${req.name} is a verb of ${type.name}`,
        { allowed_actions: catalog.allowed(type, state) },
      );
    }
    /* every 400 of the request's shape before any 422 of its values */
    checkSchema(act, act.target, req.target, '/target', 'target');
    checkSchema(act, act.data, req.data, '/data', 'data');
    checkValues(act.target, req.target, '/target');
    checkValues(act.data, req.data, '/data');
    checkRules(act, req.data, '/data');
    if (act.kind === 'transition') {
      if (!allowedFrom(act, state)) {
        throw new Failure(
          409,
          'transition-not-allowed',
          undefined,
          `${act.name} is not allowed in state ${state}`,
          {
            allowed_actions: catalog.allowed(type, state),
          },
        );
      }
      return { document, forward: [], inverse: [], state: act.to };
    }
    const membersForm = act.data.form === 'members';
    return applySteps(
      {
        type,
        act,
        req,
        /* absent data declared as members counts as {} */
        data: req.data ?? (membersForm ? {} : undefined),
        hasData: req.data !== undefined || membersForm,
        dataPtr: '/data',
        targetPtr: '/target',
        uuid: options.uuid ?? (() => crypto.randomUUID()),
      },
      document,
    );
  });
}
