// feed_client.mjs WEB_DIR: the browser client (web/actiond.js) against the running
// server, in node (tests/integration/test_feed.py runs it): alice and bob open one clip,
// alice applies two actions, and bob's document reaches the same version and content
// through the live feed alone. Environment: ACTIOND_URL, ACTIOND_TOKEN (alice's),
// ACTIOND_TOKEN_BOB. Prints one line and exits 0 when the two documents agree.
const { Client, MemoryStore } = await import(`${process.argv[2]}/actiond.js`);

const api = process.env.ACTIOND_URL;
const origin = api.replace(/\/api$/, '');
// the client asks for paths under its base ("/api/..."): node's fetch needs an origin
const fetchHere = (url, init) => globalThis.fetch(url.startsWith('/') ? origin + url : url, init);
const client = (token) =>
  new Client({ token, store: new MemoryStore(), fetch: fetchHere, window: null });

const created = await fetchHere('/api/clips', {
  method: 'POST',
  headers: {
    Authorization: `Bearer ${process.env.ACTIOND_TOKEN}`,
    'Content-Type': 'application/json',
  },
  body: JSON.stringify({ access: { bob: 'editor' } }),
});
const { id } = await created.json();
const alice = client(process.env.ACTIOND_TOKEN);
const bob = client(process.env.ACTIOND_TOKEN_BOB);
const a = await alice.open('clips', id);
const b = await bob.open('clips', id);
const reached = new Promise((resolve) =>
  b.addEventListener('change', (e) => {
    if (e.detail.source === 'remote' && b.version >= 3) resolve();
  }),
);
await a.apply({
  action: 'add_crop_keyframe',
  data: { frame: 10, x: 1, y: 2, width: 3, height: 4 },
});
await a.apply({ action: 'set_trim_range', data: { start: 1, end: 2 } });
const timer = setTimeout(() => {
  console.log(`bob is still at version ${b.version}`);
  process.exit(1);
}, 15000);
await reached;
clearTimeout(timer);
// members in any order: alice's document is the server's answer, bob's the patches applied
const isObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
const sorted = (x) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort()) : x);
const canonical = (v) => JSON.stringify(v, (k, x) => sorted(x));
const same = a.version === b.version && canonical(a.data) === canonical(b.data);
console.log(
  `clip ${id}: alice at ${a.version}, bob at ${b.version}, ` +
    `documents ${same ? 'agree' : 'differ'}`,
);
alice.close();
bob.close();
process.exit(same ? 0 : 1);
