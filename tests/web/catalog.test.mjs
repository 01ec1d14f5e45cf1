// catalog.test.mjs: the constraints and rules of web/engine/catalog.js are refused as
// tests/unit/test_catalog.c expects the server to refuse them: the same catalogs, the
// same JSON Pointer of the culprit, the same message.
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Catalog } from '../../web/engine.js';

/* A type "t" whose actions member is `actions` (JSON text). */
const T = (actions) => `{"types":{"t":{"initial":{"l":[]},"actions":{${actions}}}}}`;
/* An action "a" of type "t" whose data member x is declared `decl`. */
const X = (decl) =>
  T(`"a":{"data":{"x":${decl}},"steps":[{"op":"set","path":"/x","value_from":"/x"}]}`);
/* An action "a" of type "t" with data members s, e and n, and `rules`. */
const R = (rules) =>
  T(
    `"a":{"data":{"s":"number","e":"integer|null?","n":"string"},"rules":${rules},` +
      `"steps":[{"op":"set","path":"/x"}]}`,
  );

function accepted(text) {
  assert.doesNotThrow(() => new Catalog(JSON.parse(text)), text);
}

/* Expects the catalog refused with a message starting "catalog: " + `want`. */
function refused(text, want) {
  assert.throws(
    () => new Catalog(JSON.parse(text)),
    (e) => {
      assert.ok(e.message.startsWith(`catalog: ${want}`), `got "${e.message}", want "${want}..."`);
      return true;
    },
    text,
  );
}

describe('catalog constraints', () => {
  test('are accepted', () => {
    accepted(X('{"type":"integer","minimum":0,"maximum":10000000}'));
    accepted(
      X('{"type":"number?","exclusive_minimum":0,"exclusive_maximum":1,"description":"a fraction"}'),
    );
    accepted(X('{"type":"number","minimum":-9007199254740991,"maximum":9007199254740991}'));
    accepted(X('{"type":"number","minimum":5,"maximum":5}'));
    accepted(X('{"type":"string|null","min_length":1,"max_length":1}'));
    accepted(X('{"type":"integer|string","minimum":1,"max_length":0}'));
    accepted(X('{"type":"any"}'));
    accepted(R('[{"less":["s","e"]},{"less_or_equal":["e","s"]}]'));
    accepted(R('[]'));
  });

  test('member declarations', () => {
    refused(X('1'), '/types/t/actions/a/data/x: must be a type string');
    refused(X('["integer"]'), '/types/t/actions/a/data/x: must be a type string');
    refused(X('{"minimum":0}'), '/types/t/actions/a/data/x/type: missing (required)');
    refused(X('{"type":1}'), '/types/t/actions/a/data/x/type: must be a string');
    refused(X('{"type":"integr"}'), '/types/t/actions/a/data/x/type: unknown type "integr"');
    refused(X('{"type":"integer","min":0}'), '/types/t/actions/a/data/x/min: unknown member');
    refused(
      X('{"type":"integer","maxLength":3}'),
      '/types/t/actions/a/data/x/maxLength: unknown member',
    );
    refused(
      X('{"type":"integer","description":false}'),
      '/types/t/actions/a/data/x/description: must be a string',
    );
    refused(
      T(
        '"a":{"target":{"f":{"type":"integer","minimum":"0"}},' +
          '"steps":[{"op":"remove","path":"/l/{f}"}]}',
      ),
      '/types/t/actions/a/target/f/minimum: must be a number',
    );
  });

  test('bounds', () => {
    refused(
      X('{"type":"integer","minimum":"0"}'),
      '/types/t/actions/a/data/x/minimum: must be a number',
    );
    refused(
      X('{"type":"number","maximum":null}'),
      '/types/t/actions/a/data/x/maximum: must be a number',
    );
    refused(
      X('{"type":"string","minimum":0}'),
      '/types/t/actions/a/data/x/minimum: bounds need a member declared integer or number, not string',
    );
    refused(
      X('{"type":"any","maximum":0}'),
      '/types/t/actions/a/data/x/maximum: bounds need a member declared integer or number, not any',
    );
    refused(
      X('{"type":"integer","minimum":-9007199254740992}'),
      '/types/t/actions/a/data/x/minimum: must lie within -9007199254740991..9007199254740991',
    );
    refused(
      X('{"type":"number","maximum":1e300}'),
      '/types/t/actions/a/data/x/maximum: must lie within',
    );
    refused(
      X('{"type":"integer","exclusive_maximum":9223372036854775807}'),
      '/types/t/actions/a/data/x/exclusive_maximum: must lie within',
    );
    refused(
      X('{"type":"integer","minimum":0,"exclusive_minimum":0}'),
      '/types/t/actions/a/data/x/exclusive_minimum: declare minimum or exclusive_minimum, not both',
    );
    refused(
      X('{"type":"integer","maximum":0,"exclusive_maximum":0}'),
      '/types/t/actions/a/data/x/exclusive_maximum: declare maximum or exclusive_maximum, not both',
    );
    refused(
      X('{"type":"integer","minimum":9,"maximum":-5}'),
      '/types/t/actions/a/data/x/maximum: no value lies within minimum 9 and maximum -5',
    );
    refused(
      X('{"type":"number","exclusive_minimum":1,"maximum":1}'),
      '/types/t/actions/a/data/x/maximum: no value lies within exclusive_minimum 1 and maximum 1',
    );
    refused(
      X('{"type":"number","minimum":0.5,"exclusive_maximum":0.5}'),
      '/types/t/actions/a/data/x/exclusive_maximum: no value lies within minimum 0.5 and ' +
        'exclusive_maximum 0.5',
    );
  });

  test('lengths', () => {
    refused(
      X('{"type":"string","max_length":-1}'),
      '/types/t/actions/a/data/x/max_length: must be an integer from 0 to 9007199254740991',
    );
    refused(
      X('{"type":"string","max_length":2.5}'),
      '/types/t/actions/a/data/x/max_length: must be an integer',
    );
    refused(
      X('{"type":"string","min_length":"1"}'),
      '/types/t/actions/a/data/x/min_length: must be an integer',
    );
    refused(
      X('{"type":"string","max_length":9007199254740992}'),
      '/types/t/actions/a/data/x/max_length: must be an integer',
    );
    refused(
      X('{"type":"integer","max_length":3}'),
      '/types/t/actions/a/data/x/max_length: lengths need a member declared string, not integer',
    );
    refused(
      X('{"type":"string","min_length":4,"max_length":3}'),
      '/types/t/actions/a/data/x/max_length: no length lies within min_length 4 and max_length 3',
    );
  });

  test('rules', () => {
    refused(R('{"less":["s","e"]}'), '/types/t/actions/a/rules: must be an array of rules');
    refused(
      T('"a":{"data":"number","rules":[],"steps":[{"op":"set","path":"/x"}]}'),
      '/types/t/actions/a/rules: rules compare data members: declare data as an object',
    );
    refused(
      T('"a":{"rules":[],"steps":[{"op":"remove","path":"/x"}]}'),
      '/types/t/actions/a/rules: rules compare data members',
    );
    refused(R('[["s","e"]]'), '/types/t/actions/a/rules/0: must be {"less": [first, second]}');
    refused(R('[{}]'), '/types/t/actions/a/rules/0: must be {"less"');
    refused(
      R('[{"less":["s","e"],"less_or_equal":["s","e"]}]'),
      '/types/t/actions/a/rules/0: must be {"less"',
    );
    refused(
      R('[{"less":["s","e"]},{"greater":["s","e"]}]'),
      '/types/t/actions/a/rules/1/greater: unknown rule "greater" (less or less_or_equal)',
    );
    refused(
      R('[{"less":["s"]}]'),
      '/types/t/actions/a/rules/0/less: must name two data members: [first, second]',
    );
    refused(
      R('[{"less":["s","e","s"]}]'),
      '/types/t/actions/a/rules/0/less: must name two data members',
    );
    refused(R('[{"less":"s<e"}]'), '/types/t/actions/a/rules/0/less: must name two data members');
    refused(
      R('[{"less_or_equal":["s",1]}]'),
      '/types/t/actions/a/rules/0/less_or_equal/1: must be the name of a data member',
    );
    refused(
      R('[{"less":["start","e"]}]'),
      `/types/t/actions/a/rules/0/less/0: "start" names no member of the action's data`,
    );
    refused(
      R('[{"less":["s","end"]}]'),
      `/types/t/actions/a/rules/0/less/1: "end" names no member of the action's data`,
    );
    refused(
      R('[{"less":["s","n"]}]'),
      '/types/t/actions/a/rules/0/less/1: data member "n" is string: rules compare integers or numbers',
    );
    refused(
      R('[{"less":["s","s"]}]'),
      '/types/t/actions/a/rules/0/less/1: compares "s" with itself',
    );
    /* a rule names data, not target */
    refused(
      T(
        '"a":{"target":{"f":"integer"},"data":{"s":"number"},"rules":[{"less":["f","s"]}],' +
          '"steps":[{"op":"set","path":"/l/{f}","value_from":"/s"}]}',
      ),
      `/types/t/actions/a/rules/0/less/0: "f" names no member of the action's data`,
    );
  });

});
