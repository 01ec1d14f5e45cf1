/*
 * catalog.js: the catalog (docs/catalog.md) in the form the action compiler reads:
 * types, their actions, transitions and verbs in the server's order, member
 * declarations as class masks, and step paths split into literal tokens and selectors.
 *
 * The catalog comes from the server (GET /api/catalog), which validated it when it
 * loaded it, so only what this client could not understand is refused here: an
 * operation or member type newer than this file.
 */
import {
  T_ANY,
  T_ARRAY,
  T_BOOLEAN,
  T_INTEGER,
  T_NULL,
  T_NUMBER,
  T_OBJECT,
  T_STRING,
  hasOwn,
} from './json.js';
import { parsePointer } from './pointer.js';

const TYPE_NAMES = {
  null: T_NULL,
  boolean: T_BOOLEAN,
  integer: T_INTEGER,
  number: T_NUMBER,
  string: T_STRING,
  object: T_OBJECT,
  array: T_ARRAY,
  any: T_ANY,
};

const OPS = new Set(['set', 'merge', 'remove', 'insert_sorted', 'rekey', 'append', 'add_to_set']);

/* "number|null?" -> {spec: "number|null", types, optional}. */
function parseSpec(text) {
  const optional = text.endsWith('?');
  const spec = optional ? text.slice(0, -1) : text;
  let types = 0;
  for (const name of spec.split('|')) {
    if (!hasOwn(TYPE_NAMES, name)) throw new Error(`catalog: unknown member type "${text}"`);
    types |= TYPE_NAMES[name];
  }
  return { spec, types, optional };
}

/*
 * A `data` or `target` declaration: absent (form "none": nothing may be sent), one
 * type string (form "value"), or an object of member types (form "members").
 */
function compileSchema(decl) {
  if (decl === undefined) return { form: 'none' };
  if (typeof decl === 'string') return { form: 'value', ...parseSpec(decl) };
  return {
    form: 'members',
    members: Object.keys(decl).map((name) => ({ name, ...parseSpec(decl[name]) })),
  };
}

/* A path template: each token a literal, or a {selector} naming a target member. */
function compilePath(text) {
  return {
    text,
    segs: parsePointer(text).map((tok) =>
      tok.startsWith('{')
        ? { name: tok.slice(1, -1), selector: true }
        : { name: tok, selector: false },
    ),
  };
}

function compileStep(step) {
  if (!OPS.has(step.op)) throw new Error(`catalog: unknown operation "${step.op}"`);
  /* value_from "" and absent both mean the whole data; "/member" names one member */
  const from = step.value_from ?? '';
  return {
    op: step.op,
    path: compilePath(step.path),
    valueFrom: from === '' ? null : parsePointer(from)[0],
    key: step.key,
    idKind: step.id?.kind,
    idMember: step.id?.member,
    defaults: step.defaults,
  };
}

function compileEdit(name, decl) {
  return {
    name,
    kind: 'edit',
    alwaysMerges: decl.merge === 'always',
    target: compileSchema(decl.target),
    data: compileSchema(decl.data),
    steps: decl.steps.map(compileStep),
  };
}

function compileTransition(name, decl) {
  return {
    name,
    kind: 'transition',
    alwaysMerges: false,
    target: { form: 'none' },
    data: { form: 'none' },
    from: decl.from,
    to: decl.to,
  };
}

function compileType(name, decl) {
  const actions = [
    ...Object.entries(decl.actions ?? {}).map(([n, d]) => compileEdit(n, d)),
    ...Object.entries(decl.states?.transitions ?? {}).map(([n, d]) => compileTransition(n, d)),
    ...Object.keys(decl.verbs ?? {}).map((n) => ({ name: n, kind: 'verb' })),
  ];
  return {
    name,
    initial: decl.initial,
    anyDocument: decl.any_document === true,
    initialState: decl.states?.initial ?? null,
    actions,
    byName: new Map(actions.map((a) => [a.name, a])),
  };
}

/* Whether transition `a` may be taken from `state` (never without a state machine). */
export function allowedFrom(a, state) {
  return a.kind === 'transition' && state != null && a.from.includes(state);
}

/*
 * A loaded catalog. `new Catalog(json)` takes the JSON of GET /api/catalog (the same
 * as catalog/default.json); it throws an Error for content this client cannot use.
 */
export class Catalog {
  constructor(json) {
    this.types = new Map(Object.entries(json.types).map(([n, d]) => [n, compileType(n, d)]));
  }

  /* The type called `name`, or undefined. */
  type(name) {
    return this.types.get(name);
  }

  /*
   * The names usable on a resource of `type` in `state` (null for stateless types), in
   * the server's order: document actions, transitions allowed from `state`, verbs.
   */
  allowed(type, state) {
    return type.actions
      .filter((a) => a.kind !== 'transition' || allowedFrom(a, state))
      .map((a) => a.name);
  }
}
