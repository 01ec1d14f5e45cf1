// engine.test.mjs: the shared vectors of tests/vectors/actions.json against
// web/engine.js (tests/unit/test_vectors.c runs the same file against the C engine),
// plus what the vectors cannot say: every inverse restores the document and every
// forward patch replays the change, and no function mutates its arguments.
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  Catalog,
  applyAction,
  applyMergePatch,
  applyPatch,
  overlaps,
  touchAction,
  touchPatch,
} from '../../web/engine.js';

const root = new URL('../../', import.meta.url);
const file = JSON.parse(readFileSync(new URL('tests/vectors/actions.json', root)));
const catalogs = {
  shipped: new Catalog(JSON.parse(readFileSync(new URL('catalog/default.json', root)))),
  ops: new Catalog(file.catalogs.ops),
};
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;

/* A server-assigned UUID is written "<uuid>" in a vector. */
function withoutUuids(v) {
  return JSON.parse(JSON.stringify(v).replace(UUID, '<uuid>'));
}

/* An engine error as a vector states it: no detail. */
function errorOf({ detail, ...error }) {
  return { error };
}

/* The inverse must restore `before` and the forward patch must turn `before` into `after`. */
function assertReversible(before, after, forward, inverse) {
  assert.deepEqual(
    applyPatch(after, inverse).document,
    before,
    'the inverse restores the document',
  );
  assert.deepEqual(
    applyPatch(before, forward).document,
    after,
    'the forward patch replays the change',
  );
}

function runAction(v) {
  const catalog = catalogs[v.catalog ?? 'shipped'];
  const r = applyAction(catalog, v.type, v.document, v.action, { state: v.state });
  if (r.error) return errorOf(r.error);
  assertReversible(v.document, r.document, r.forward, r.inverse);
  const got = { document: r.document, forward: r.forward, inverse: r.inverse };
  if (r.result) got.result = r.result;
  if (r.state) got.state = r.state;
  got.touches = touchAction(catalog, v.type, v.action, r.result);
  return got;
}

function runPatch(v) {
  const merging = 'merge_patch' in v;
  const r = merging ? applyMergePatch(v.document, v.merge_patch) : applyPatch(v.document, v.patch);
  if (r.error) return errorOf(r.error);
  assertReversible(v.document, r.document, r.forward, r.inverse);
  /* a JSON Patch vector leaves out `forward`: it is the patch itself */
  const got = merging ? { document: r.document, forward: r.forward } : { document: r.document };
  return { ...got, inverse: r.inverse, touches: touchPatch(r.forward, v.document) };
}

function runOverlap(v) {
  return { overlap: overlaps(v.overlap.ours, v.overlap.theirs) };
}

const kinds = [
  ['action', runAction],
  ['patch', runPatch],
  ['merge_patch', runPatch],
  ['overlap', runOverlap],
];

for (const [member, run] of kinds) {
  describe(`${member} vectors`, () => {
    const vectors = file.vectors.filter((v) => member in v);
    test('there are some', () => assert.ok(vectors.length > 0));
    for (const v of vectors) {
      test(v.name, () => {
        const input = JSON.stringify(v);
        assert.deepEqual(withoutUuids(run(v)), v.expected);
        assert.equal(JSON.stringify(v), input, 'the engine left its arguments alone');
      });
    }
  });
}

describe('engine', () => {
  test('a member called __proto__ is an ordinary member', () => {
    const doc = JSON.parse('{"__proto__": {"a": 1}}');
    const r = applyPatch(doc, [
      { op: 'add', path: '/__proto__/b', value: 2 },
      { op: 'copy', from: '/__proto__', path: '/c' },
    ]);
    assert.deepEqual(Object.keys(r.document), ['__proto__', 'c']);
    assert.equal(Object.getPrototypeOf(r.document), Object.prototype);
    assert.deepEqual(r.document.c, { a: 1, b: 2 });
    assert.equal({}.b, undefined);
  });

  test('uuid appends take their ids from the generator given', () => {
    const ids = ['11111111-1111-4111-8111-111111111111'];
    const r = applyAction(
      catalogs.shipped,
      'clips',
      catalogs.shipped.type('clips').initial,
      { action: 'create_region', data: { start_time: 0, end_time: 1 } },
      { uuid: () => ids.shift() },
    );
    assert.deepEqual(r.result, { region_id: '11111111-1111-4111-8111-111111111111' });
    assert.equal(ids.length, 0);
  });

  test('an unknown type is a programming error, not a problem', () => {
    assert.throws(
      () => applyAction(catalogs.shipped, 'nope', {}, { action: 'x' }),
      /no type "nope"/,
    );
  });

  test('allowed lists actions, then transitions from the state, then verbs', () => {
    const jobs = catalogs.shipped.type('analysis_jobs');
    assert.deepEqual(catalogs.shipped.allowed(jobs, 'suspended'), [
      'set_input',
      'set_parameters',
      'resume',
      'amend',
    ]);
    const dashboards = catalogs.shipped.type('dashboards');
    assert.deepEqual(catalogs.shipped.allowed(dashboards, null).at(-1), 'duplicate');
  });
});
