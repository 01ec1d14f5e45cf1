/*
 * catalog.js: the catalog (docs/catalog.md) in the form the action compiler reads:
 * types, their actions, transitions and verbs in the server's order, member
 * declarations as class masks with their constraints, cross-member rules, and step
 * paths split into literal tokens and selectors.
 *
 * The catalog comes from the server (GET /api/catalog), which validated it when it
 * loaded it, so only what this client could not understand is refused here: an
 * operation or member type newer than this file, and constraints or rules it could
 * not apply as the server does (checked as strictly as the server checks them, with
 * the same pointers).
 */
import {
  SAFE_INTEGER,
  T_ANY,
  T_ARRAY,
  T_BOOLEAN,
  T_INTEGER,
  T_NULL,
  T_NUMBER,
  T_OBJECT,
  T_STRING,
  hasOwn,
  isObject,
} from './json.js';
import { join, parsePointer } from './pointer.js';

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

const TYPE_HELP =
  'integer, number, string, boolean, object, array, null or any, joined by |, with ? for optional';

const OPS = new Set(['set', 'merge', 'remove', 'insert_sorted', 'rekey', 'append', 'add_to_set']);

/* The members of a member declaration written as an object. */
const DECL_MEMBERS = [
  'type',
  'description',
  'minimum',
  'maximum',
  'exclusive_minimum',
  'exclusive_maximum',
  'min_length',
  'max_length',
];

const RULES = ['less', 'less_or_equal'];

/* Refuses the catalog: "catalog: /types/t/actions/a/data/x/minimum: must be a number". */
function invalid(at, message) {
  return new Error(`catalog: ${at}: ${message}`);
}

/* "number|null?" -> {spec: "number|null", types, optional, numeric}; `at` names it. */
function parseSpec(text, at) {
  const optional = text.endsWith('?');
  const spec = optional ? text.slice(0, -1) : text;
  let types = 0;
  let numeric = false;
  for (const name of spec.split('|')) {
    if (!hasOwn(TYPE_NAMES, name)) throw invalid(at, `unknown type "${text}" (${TYPE_HELP})`);
    types |= TYPE_NAMES[name];
    numeric ||= name === 'integer' || name === 'number';
  }
  return { spec, types, optional, numeric };
}

const SAFE_RANGE = `${-SAFE_INTEGER}..${SAFE_INTEGER}`;

/* Bound `key` of declaration `decl` (at `at`) for member `m`, or undefined. */
function readBound(decl, key, m, at) {
  if (!hasOwn(decl, key)) return undefined;
  const b = decl[key];
  if (typeof b !== 'number') throw invalid(join(at, key), 'must be a number');
  if (!m.numeric) {
    throw invalid(join(at, key), `bounds need a member declared integer or number, not ${m.spec}`);
  }
  if (!(Math.abs(b) <= SAFE_INTEGER)) throw invalid(join(at, key), `must lie within ${SAFE_RANGE}`);
  return b;
}

/* Length `key` (min_length, max_length) of declaration `decl` for member `m`, or undefined. */
function readLength(decl, key, m, at) {
  if (!hasOwn(decl, key)) return undefined;
  const n = decl[key];
  if (!Number.isInteger(n) || n < 0 || n > SAFE_INTEGER) {
    throw invalid(join(at, key), `must be an integer from 0 to ${SAFE_INTEGER}`);
  }
  if (!(m.types & T_STRING)) {
    throw invalid(join(at, key), `lengths need a member declared string, not ${m.spec}`);
  }
  return n;
}

/*
 * One member declaration: a type string, or an object with "type" and constraints
 * {min, max, minExclusive, maxExclusive, minLength, maxLength}, absent ones undefined.
 */
function compileMember(name, decl, at) {
  if (typeof decl === 'string') return { name, ...parseSpec(decl, at), bounds: {} };
  if (!isObject(decl)) {
    throw invalid(at, `must be a type string (${TYPE_HELP}) or an object with "type"`);
  }
  const unknown = Object.keys(decl).find((k) => !DECL_MEMBERS.includes(k));
  if (unknown !== undefined) throw invalid(join(at, unknown), 'unknown member');
  if (hasOwn(decl, 'description') && typeof decl.description !== 'string') {
    throw invalid(join(at, 'description'), 'must be a string');
  }
  if (!hasOwn(decl, 'type')) throw invalid(join(at, 'type'), 'missing (required)');
  if (typeof decl.type !== 'string') throw invalid(join(at, 'type'), 'must be a string');
  const m = { name, ...parseSpec(decl.type, join(at, 'type')) };
  const b = {};

  const min = readBound(decl, 'minimum', m, at);
  const xmin = readBound(decl, 'exclusive_minimum', m, at);
  if (min !== undefined && xmin !== undefined) {
    throw invalid(join(at, 'exclusive_minimum'), 'declare minimum or exclusive_minimum, not both');
  }
  b.min = min ?? xmin;
  b.minExclusive = xmin !== undefined;
  const max = readBound(decl, 'maximum', m, at);
  const xmax = readBound(decl, 'exclusive_maximum', m, at);
  if (max !== undefined && xmax !== undefined) {
    throw invalid(join(at, 'exclusive_maximum'), 'declare maximum or exclusive_maximum, not both');
  }
  b.max = max ?? xmax;
  b.maxExclusive = xmax !== undefined;
  if (
    b.min !== undefined &&
    b.max !== undefined &&
    (b.min > b.max || (b.min === b.max && (b.minExclusive || b.maxExclusive)))
  ) {
    const lo = b.minExclusive ? 'exclusive_minimum' : 'minimum';
    const hi = b.maxExclusive ? 'exclusive_maximum' : 'maximum';
    throw invalid(join(at, hi), `no value lies within ${lo} ${b.min} and ${hi} ${b.max}`);
  }

  b.minLength = readLength(decl, 'min_length', m, at);
  b.maxLength = readLength(decl, 'max_length', m, at);
  if (b.minLength !== undefined && b.maxLength !== undefined && b.minLength > b.maxLength) {
    throw invalid(
      join(at, 'max_length'),
      `no length lies within min_length ${b.minLength} and max_length ${b.maxLength}`,
    );
  }
  return { ...m, bounds: b };
}

/*
 * A `data` or `target` declaration at `at`: absent (form "none": nothing may be sent),
 * one type string (form "value"), or an object of member declarations (form "members").
 */
function compileSchema(decl, at) {
  if (decl === undefined) return { form: 'none' };
  if (typeof decl === 'string') return { form: 'value', ...parseSpec(decl, at) };
  return {
    form: 'members',
    members: Object.keys(decl).map((name) => compileMember(name, decl[name], join(at, name))),
  };
}

/*
 * "rules" at `at`: [{less: [first, second]} or {less_or_equal: [first, second]}], each
 * naming two different data members declared integer or number -> [{kind, first, second}].
 */
function compileRules(rules, data, at) {
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) throw invalid(at, 'must be an array of rules');
  if (data.form !== 'members') {
    throw invalid(at, 'rules compare data members: declare data as an object of members');
  }
  return rules.map((r, i) => {
    const ra = join(at, i);
    if (!isObject(r) || Object.keys(r).length !== 1) {
      throw invalid(ra, 'must be {"less": [first, second]} or {"less_or_equal": [first, second]}');
    }
    const kind = Object.keys(r)[0];
    const ka = join(ra, kind);
    if (!RULES.includes(kind)) throw invalid(ka, `unknown rule "${kind}" (less or less_or_equal)`);
    const pair = r[kind];
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw invalid(ka, 'must name two data members: [first, second]');
    }
    pair.forEach((name, j) => {
      if (typeof name !== 'string') throw invalid(join(ka, j), 'must be the name of a data member');
      const m = data.members.find((d) => d.name === name);
      if (m === undefined) {
        throw invalid(join(ka, j), `"${name}" names no member of the action's data`);
      }
      if (!m.numeric) {
        throw invalid(
          join(ka, j),
          `data member "${name}" is ${m.spec}: rules compare integers or numbers`,
        );
      }
    });
    if (pair[0] === pair[1]) throw invalid(join(ka, 1), `compares "${pair[1]}" with itself`);
    return { kind, first: pair[0], second: pair[1] };
  });
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

function compileEdit(name, decl, at) {
  const data = compileSchema(decl.data, join(at, 'data'));
  return {
    name,
    kind: 'edit',
    alwaysMerges: decl.merge === 'always',
    target: compileSchema(decl.target, join(at, 'target')),
    data,
    rules: compileRules(decl.rules, data, join(at, 'rules')),
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
    rules: [],
    from: decl.from,
    to: decl.to,
  };
}

function compileType(name, decl) {
  const actions = [
    ...Object.entries(decl.actions ?? {}).map(([n, d]) =>
      compileEdit(n, d, join(join(join('/types', name), 'actions'), n)),
    ),
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
