/*
 * engine.js: actiond's document engine for the browser, behaving exactly like the
 * server's: the catalog's action compiler (docs/catalog.md), JSON Patch (RFC 6902,
 * plus `create`), JSON Merge Patch (RFC 7396), and the touch sets and overlap rule
 * merging uses (docs/merge.md). tests/vectors/actions.json holds the cases both
 * engines must agree on.
 *
 *   const catalog = new Catalog(await (await fetch('/api/catalog')).json());
 *   const out = applyAction(catalog, 'clips', doc, {action: 'set_trim_range',
 *                                                   data: {start: 1, end: 5}});
 *   // {document, forward, inverse, result?, state?} or {error: {status, slug, pointer?}}
 *
 * Nothing here mutates its arguments; results share no objects with them except a
 * document a transition returns unchanged.
 */
export { Catalog } from './engine/catalog.js';
export { applyAction } from './engine/action.js';
export { applyMergePatch, applyPatch } from './engine/patch.js';
export { overlaps, touchAction, touchPatch } from './engine/touch.js';
