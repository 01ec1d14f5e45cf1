// client.test.mjs: unit tests of web/actiond.js against an in-process fake server
// (fake-server.mjs) and the in-memory store: optimistic changes, the queue's order and
// exactly-once sending, rebasing and conflicts, refusals, a queue taken over by a new
// client, the live feed and its parser. Real-browser tests are another suite.
// Run: node --test tests/web/
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';

import { ActionError, Client, EventStreamParser, MemoryStore } from '../../web/actiond.js';
import { FakeServer, gate } from './fake-server.mjs';

const catalogJson = JSON.parse(
  readFileSync(new URL('../../catalog/default.json', import.meta.url)),
);
const kf = (frame, x = 0) => ({ frame, x, y: 0, width: 10, height: 10 });
const addKf = (frame, x) => ({ action: 'add_crop_keyframe', data: kf(frame, x) });
const moveX = (frame, x) => ({ action: 'update_crop_keyframe', target: { frame }, data: { x } });
const clipWith = (...frames) => ({
  crop_keyframes: frames.map((f) => kf(f)),
  trim_range: null,
  regions: [],
  effect_type: null,
  annotations: [],
});

const clients = [];
afterEach(() => clients.splice(0).forEach((c) => c.close()));

function setup({
  store = new MemoryStore(),
  server = new FakeServer(catalogJson),
  ...options
} = {}) {
  const client = new Client({
    base: '/api',
    token: 't',
    store,
    fetch: server.fetch,
    window: new EventTarget(),
    retry: { initial: 1, max: 4 },
    ...options,
  });
  clients.push(client);
  return { client, server, store };
}

/* Waits until `predicate()` holds, polling; fails after a second. */
async function until(predicate, what = 'the condition') {
  for (let i = 0; i < 500; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const posts = (server, tail = '/actions') =>
  server.requests.filter((r) => r.method === 'POST' && r.path.endsWith(tail));
const isPost = (r) => r.method === 'POST';

describe('optimistic changes', () => {
  test('apply changes data and pending before the promise settles, then confirms', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    const sources = [];
    doc.addEventListener('change', (e) => sources.push(e.detail.source));
    const answer = doc.apply(addKf(100, 5));
    assert.deepEqual(doc.data.crop_keyframes, [kf(100, 5)]);
    assert.equal(doc.pending, 1);
    assert.equal(doc.version, 1);
    assert.deepEqual(sources, ['local']);
    const a = await answer;
    assert.equal(a.version, 2);
    assert.equal(doc.version, 2);
    assert.equal(doc.pending, 0);
    assert.deepEqual(doc.data, server.resource('clips', id).data);
    assert.ok(sources.includes('server'));
  });

  test('an action the engine refuses rejects at once and is not queued', async () => {
    const { client, server, store } = setup();
    const doc = await client.open('clips', server.create('clips'));
    const before = doc.data;
    const p = doc.apply({
      action: 'add_crop_keyframe',
      data: { frame: 1.5, x: 0, y: 0, width: 1, height: 1 },
    });
    assert.equal(doc.pending, 0);
    assert.equal(doc.data, before);
    await assert.rejects(
      p,
      (e) =>
        e instanceof ActionError &&
        e.status === 400 &&
        e.problem.pointer === '/data/frame' &&
        e.problem.type === 'urn:actiond:problem:bad-request',
    );
    assert.equal(posts(server).length, 0);
    assert.deepEqual(await store.all(), []);
  });

  test('transitions apply to the state at once', async () => {
    const { client, server } = setup();
    const id = server.create('analysis_jobs');
    const doc = await client.open('analysis_jobs', id);
    assert.equal(doc.state, 'queued');
    const p = doc.apply({ action: 'start' });
    assert.equal(doc.state, 'running');
    await p;
    assert.equal(server.resource('analysis_jobs', id).state, 'running');
    await assert.rejects(
      doc.apply({ action: 'resume' }),
      (e) => e.status === 409 && e.problem.allowed_actions.includes('finish'),
    );
  });

  test('an action the engine accepts but the server refuses is dropped and reported; the queue goes on', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    server.fault((r) => isPost(r) && r.body.data?.frame === 1, {
      respond: {
        status: 422,
        body: {
          type: 'urn:actiond:problem:unprocessable',
          status: 422,
          title: 'Unprocessable Content',
          detail: 'no',
        },
      },
    });
    const conflicts = [];
    doc.addEventListener('conflict', (e) => conflicts.push(e.detail));
    const first = doc.apply(addKf(1));
    const second = doc.apply(addKf(2));
    await assert.rejects(first, (e) => e.status === 422 && e.problem.detail === 'no');
    await second;
    assert.deepEqual(doc.data.crop_keyframes, [kf(2)]);
    assert.equal(conflicts.length, 1);
    assert.deepEqual(conflicts[0].action, addKf(1));
    assert.equal(conflicts[0].status, 422);
  });
});

describe('the queue', () => {
  test('changes are sent in order, one at a time, each based on the one before', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    const frames = [50, 10, 30, 20, 40];
    const answers = await Promise.all(frames.map((f) => doc.apply(addKf(f))));
    assert.deepEqual(
      answers.map((a) => a.version),
      [2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      posts(server).map((r) => r.body.data.frame),
      frames,
    );
    assert.deepEqual(
      posts(server).map((r) => r.body.expected_version),
      [1, 2, 3, 4, 5],
    );
    assert.equal(server.maxPostsInFlight, 1);
    assert.deepEqual(doc.data, server.resource('clips', id).data);
  });

  test('each change is stored before it is sent and forgotten once answered', async () => {
    const { client, server, store } = setup();
    const doc = await client.open('clips', server.create('clips'));
    const hold = gate();
    server.fault(isPost, { hold: hold.promise });
    const p = doc.apply(addKf(7));
    await until(() => posts(server).length === 1, 'the POST');
    const [record] = await store.all();
    assert.equal(record.key, posts(server)[0].body.id);
    assert.deepEqual(record.action, addKf(7));
    assert.equal(record.base, 1);
    hold.open();
    await p;
    assert.deepEqual(await store.all(), []);
  });

  test('a response lost after the server applied the change: the retry replays it, applied once', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    server.fault(isPost, { after: true });
    const answer = await doc.apply(addKf(3));
    const sent = posts(server);
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[1].body, sent[0].body, 'the retry is the same request, same key');
    assert.equal(answer.version, 2);
    assert.equal(
      server.resource('clips', id).log.filter((e) => e.action === 'add_crop_keyframe').length,
      1,
    );
    assert.equal(doc.version, 2);
  });

  test('network failures and 5xx answers are retried until the server answers', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    server.fault(isPost, { before: true });
    server.fault(isPost, {
      respond: {
        status: 503,
        body: { type: 'urn:actiond:problem:database-unavailable', status: 503 },
      },
    });
    await doc.apply(addKf(3));
    assert.equal(posts(server).length, 3);
    assert.equal(server.resource('clips', id).version, 2);
  });

  test('an online event ends the wait for a retry at once', async () => {
    const win = new EventTarget();
    const { client, server } = setup({ window: win, retry: { initial: 60000, max: 60000 } });
    const doc = await client.open('clips', server.create('clips'));
    server.offline = true;
    const p = doc.apply(addKf(3));
    await until(() => posts(server).length === 1, 'the first try');
    server.offline = false;
    win.dispatchEvent(new Event('online'));
    assert.equal((await p).version, 2);
  });

  test('undo and redo are queued and change data when the server answers', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    const add = doc.apply(addKf(3));
    const undo = doc.undo();
    assert.equal(doc.pending, 2);
    assert.deepEqual(doc.data.crop_keyframes, [kf(3)], 'an undo shows nothing until answered');
    assert.equal((await add).version, 2);
    assert.equal((await undo).reverts, 2);
    assert.deepEqual(doc.data.crop_keyframes, []);
    assert.deepEqual(
      posts(server, '/undo')[0].body.expected_version,
      2,
      'based on the change before it',
    );
    await doc.redo();
    assert.deepEqual(doc.data.crop_keyframes, [kf(3)]);
    assert.equal(doc.version, 4);
  });

  test('queued targets follow the id the server assigns', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    const created = doc.apply({ action: 'create_region', data: { start_time: 0, end_time: 1 } });
    const local = doc.data.regions[0].region_id;
    const updated = doc.apply({
      action: 'update_region',
      target: { region_id: local },
      data: { end_time: 2 },
    });
    assert.equal(doc.data.regions[0].end_time, 2);
    const { region_id } = await created;
    await updated;
    assert.notEqual(region_id, local, 'the server assigns its own');
    assert.equal(posts(server)[1].body.target.region_id, region_id);
    assert.deepEqual(server.resource('clips', id).data.regions, [
      { region_id, start_time: 0, end_time: 2, keyframes: [] },
    ]);
    assert.deepEqual(doc.data, server.resource('clips', id).data);
  });
});

describe('rebasing and conflicts', () => {
  /* Holds the client's first POST until someone else's change is in and seen. */
  async function raced(remote, local, ...frames) {
    const { client, server } = setup();
    const id = server.create('clips', clipWith(...frames));
    const doc = await client.open('clips', id);
    const hold = gate();
    server.fault(isPost, { hold: hold.promise });
    const conflicts = [];
    doc.addEventListener('conflict', (e) => conflicts.push(e.detail));
    const p = doc.apply(local);
    await until(() => posts(server).length === 1, 'the POST');
    server.act('clips', id, remote);
    await until(() => doc.version === 2, 'the feed');
    hold.open();
    return { client, server, id, doc, p, conflicts };
  }

  test('a disjoint stale change is rebased and sent again with the same key', async () => {
    const { server, id, doc, p, conflicts } = await raced(moveX(50, 9), moveX(10, 7), 10, 50);
    const answer = await p;
    const sent = posts(server);
    assert.deepEqual(
      sent.map((r) => r.body.expected_version),
      [1, 2],
      'first its own base, never the version the feed brought',
    );
    assert.equal(sent[1].body.id, sent[0].body.id);
    const missed = server.requests.filter(
      (r) => r.path === `/api/clips/${id}/actions` && r.method === 'GET',
    );
    assert.deepEqual(
      missed.map((r) => r.query.get('since')),
      ['1'],
      'what it missed, since its base',
    );
    assert.equal(answer.version, 3);
    assert.deepEqual(conflicts, []);
    assert.deepEqual(
      doc.data.crop_keyframes.map((k) => k.x),
      [7, 9],
    );
    assert.deepEqual(doc.data, server.resource('clips', id).data);
  });

  test('an overlapping stale change is dropped: rollback, conflict event, rejection', async () => {
    const { server, id, doc, p, conflicts } = await raced(moveX(10, 9), moveX(10, 7), 10, 50);
    const after = doc.apply(moveX(50, 1));
    await assert.rejects(
      p,
      (e) =>
        e instanceof ActionError &&
        e.status === 409 &&
        e.problem.type === 'urn:actiond:problem:stale-version' &&
        e.problem.current_version === 2,
    );
    assert.equal(conflicts.length, 1);
    assert.deepEqual(conflicts[0].action, moveX(10, 7));
    assert.equal(conflicts[0].problem.status, 409);
    assert.deepEqual(conflicts[0].conflicting_versions, [2]);
    assert.deepEqual(
      doc.data.crop_keyframes.map((k) => k.x),
      [9, 1],
      'theirs, and the change still queued',
    );
    await after;
    assert.deepEqual(doc.data, server.resource('clips', id).data);
    assert.equal(posts(server).length, 2, 'the dropped change is not sent again');
  });

  test("a follow-up is rebased over someone else's change only, never over its own predecessor", async () => {
    const { client, server } = setup();
    const id = server.create('clips', clipWith(10, 50));
    const doc = await client.open('clips', id);
    const hold = gate();
    server.fault(isPost, { hold: hold.promise });
    const conflicts = [];
    doc.addEventListener('conflict', (e) => conflicts.push(e.detail));
    const first = doc.apply(moveX(10, 7));
    const followUp = doc.apply(moveX(10, 8)); /* the member its predecessor writes */
    await until(() => posts(server).length === 1, 'the POST');
    server.act('clips', id, moveX(50, 9));
    hold.open();
    await first;
    assert.equal((await followUp).version, 4);
    assert.deepEqual(conflicts, []);
    /* both were made at version 1; each is rebased over version 2, which is not theirs */
    assert.deepEqual(
      posts(server).map((r) => r.body.expected_version),
      [1, 2, 1, 3],
    );
    assert.deepEqual(
      doc.data.crop_keyframes.map((k) => k.x),
      [8, 9],
    );
    assert.deepEqual(doc.data, server.resource('clips', id).data);
  });

  test('a change made after seeing a newer version is based on it', async () => {
    const { server, doc, p } = await raced(moveX(50, 9), moveX(10, 7), 10, 50);
    const followUp = doc.apply(moveX(10, 8));
    await p;
    await followUp;
    assert.deepEqual(
      posts(server).map((r) => r.body.expected_version),
      [1, 2, 3],
    );
  });

  test('an undo with someone else change in between is dropped', async () => {
    const { client, server } = setup();
    const id = server.create('clips', clipWith(10, 50));
    const doc = await client.open('clips', id);
    await doc.apply(moveX(10, 7));
    const hold = gate();
    server.fault((r) => r.path.endsWith('/undo'), { hold: hold.promise });
    const undo = doc.undo();
    await until(() => posts(server, '/undo').length === 1, 'the undo');
    server.act('clips', id, moveX(50, 9));
    hold.open();
    await assert.rejects(undo, (e) => e.status === 409);
    assert.equal(server.resource('clips', id).version, 3);
  });
});

describe('a queue outlives its page', () => {
  test('a new client sends what an earlier one left queued', async () => {
    const server = new FakeServer(catalogJson);
    const id = server.create('clips');
    const first = setup({ server });
    const doc1 = await first.client.open('clips', id);
    server.offline = true;
    const p1 = doc1.apply(addKf(1));
    const p2 = doc1.apply(addKf(2));
    await until(() => posts(server).length >= 1, 'a try');
    first.client.close();
    await assert.rejects(p1, (e) => e.queued === true);
    await assert.rejects(p2, (e) => e.queued === true);
    server.offline = false;

    const second = setup({ server, store: first.store });
    const doc2 = await second.client.open('clips', id);
    assert.deepEqual(doc2.data.crop_keyframes, [kf(1), kf(2)], 'shown at once');
    assert.equal(doc2.pending, 2);
    await doc2.drained();
    assert.deepEqual(server.resource('clips', id).data.crop_keyframes, [kf(1), kf(2)]);
    assert.deepEqual(await first.store.all(), []);
  });

  test('a change the server applied before the page closed is not sent or shown again', async () => {
    const server = new FakeServer(catalogJson);
    const id = server.create('clips');
    const first = setup({ server });
    const doc1 = await first.client.open('clips', id);
    server.fault(isPost, { after: true });
    const p = doc1.apply(addKf(1)).catch((e) => e);
    await until(() => server.resource('clips', id).version === 2, 'the server');
    server.offline = true;
    first.client.close();
    assert.equal((await p).queued, true);
    server.offline = false;
    const sent = posts(server).length;

    const second = setup({ server, store: first.store });
    const doc2 = await second.client.open('clips', id);
    assert.equal(doc2.pending, 0);
    assert.deepEqual(doc2.data.crop_keyframes, [kf(1)]);
    await second.client.flush();
    assert.equal(posts(server).length, sent, 'not sent again');
    assert.deepEqual(await first.store.all(), []);
  });

  test('flush sends what is queued for documents not open, and reports a resource that is gone', async () => {
    const server = new FakeServer(catalogJson);
    const a = server.create('clips');
    const b = server.create('articles');
    const first = setup({ server });
    const [docA, docB] = [
      await first.client.open('clips', a),
      await first.client.open('articles', b),
    ];
    server.offline = true;
    docA.apply(addKf(1)).catch(() => {});
    docB.apply({ action: 'set_title', data: { title: 'x' } }).catch(() => {});
    await until(() => posts(server).length >= 1, 'a try');
    first.client.close();
    server.offline = false;
    server.resources.delete(`articles/${b}`);

    const second = setup({ server, store: first.store });
    const conflicts = [];
    second.client.addEventListener('conflict', (e) => conflicts.push(e.detail));
    await second.client.flush();
    assert.deepEqual(server.resource('clips', a).data.crop_keyframes, [kf(1)]);
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0].type, 'articles');
    assert.equal(conflicts[0].status, 404);
    assert.deepEqual(await first.store.all(), []);
  });
});

describe('the live feed', () => {
  test("someone else's change arrives, with the queued changes applied on top", async () => {
    const { client, server } = setup();
    const id = server.create('clips', clipWith(10, 50));
    const doc = await client.open('clips', id);
    const hold = gate();
    server.fault(isPost, { hold: hold.promise });
    const mine = doc.apply(moveX(50, 7));
    const changes = [];
    doc.addEventListener('change', (e) => changes.push(e.detail.source));
    server.act('clips', id, moveX(10, 9));
    await until(() => doc.version === 2, 'the feed');
    assert.deepEqual(changes, ['remote']);
    assert.deepEqual(
      doc.data.crop_keyframes.map((k) => k.x),
      [9, 7],
    );
    assert.equal(doc.pending, 1);
    hold.open();
    await mine;
    assert.deepEqual(doc.data, server.resource('clips', id).data);
  });

  test('the feed reconnects after the last event it saw', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    server.act('clips', id, addKf(1));
    await until(() => doc.version === 2, 'the first entry');
    server.dropStreams();
    server.act('clips', id, addKf(2));
    await until(() => doc.version === 3, 'the entry after reconnecting');
    const reconnect = server.requests.filter((r) => r.path.endsWith('/events')).at(-1);
    assert.equal(reconnect.headers.get('Last-Event-ID'), '2');
    assert.equal(reconnect.headers.get('Authorization'), 'Bearer t');
    assert.deepEqual(doc.data, server.resource('clips', id).data);
  });

  test('a gap in the feed is filled from the log', async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    await until(() => server.streams.size === 1, 'the subscription');
    const [stream] = server.streams;
    stream.paused = true;
    server.act('clips', id, addKf(1));
    stream.paused = false;
    server.act('clips', id, addKf(2));
    await until(() => doc.version === 3, 'both entries');
    assert.deepEqual(doc.data, server.resource('clips', id).data);
  });

  test("the feed's entry of a change in flight waits for its answer", async () => {
    const { client, server } = setup();
    const id = server.create('clips');
    const doc = await client.open('clips', id);
    await until(() => server.streams.size === 1, 'the subscription');
    const late = gate();
    server.fault(isPost, { delay: late.promise });
    const created = doc.apply({ action: 'create_region', data: { start_time: 0, end_time: 1 } });
    const seen = [];
    doc.addEventListener('change', () => seen.push(doc.data.regions.length));
    await until(() => server.resource('clips', id).version === 2, 'the server');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(doc.version, 1, 'held until the answer');
    late.open();
    const { region_id } = await created;
    assert.deepEqual(
      doc.data.regions.map((r) => r.region_id),
      [region_id],
    );
    assert.ok(
      seen.every((n) => n === 1),
      'the region never vanished from view',
    );
  });
});

describe('EventStreamParser', () => {
  const parse = (...chunks) => {
    const p = new EventStreamParser();
    return [chunks.flatMap((c) => p.push(c)), p];
  };

  test('events end at a blank line; data lines join with newlines', () => {
    const [events] = parse('id: 3\ndata: {"a":\ndata: 1}\n\n');
    assert.deepEqual(events, [{ type: 'message', data: '{"a":\n1}', id: '3' }]);
  });

  test('chunks may split anywhere, a CRLF included', () => {
    const text = 'id: 1\r\ndata: x\r\n\r\nid: 2\r\ndata: y\r\n\r\n';
    for (let i = 1; i < text.length; i++) {
      const [events] = parse(text.slice(0, i), text.slice(i));
      assert.deepEqual(
        events.map((e) => [e.id, e.data]),
        [
          ['1', 'x'],
          ['2', 'y'],
        ],
        `split at ${i}`,
      );
    }
  });

  test('comments, named events, bare CR and the retry field', () => {
    const [events, p] = parse(
      '\uFEFF: keep-alive\r\revent: ping\rdata\r\rretry: 2500\rdata:no space\r\r',
    );
    assert.deepEqual(events, [
      { type: 'ping', data: '', id: '' },
      { type: 'message', data: 'no space', id: '' },
    ]);
    assert.equal(p.retry, 2500);
  });

  test('the last id carries over; an event without data is not dispatched', () => {
    const [events, p] = parse('id: 7\n\ndata: a\n\nid\ndata: b\n\n', 'data: unterminated');
    assert.deepEqual(
      events.map((e) => [e.id, e.data]),
      [
        ['7', 'a'],
        ['', 'b'],
      ],
    );
    assert.equal(p.lastId, '');
  });
});
