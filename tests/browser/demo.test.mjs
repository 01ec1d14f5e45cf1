/*
 * demo.test.mjs: the demo app in Chromium, against a real stack (tests/browser/run):
 * what a person would see, and what the server ends up holding, checked over the API.
 * Each test starts from resources of its own and browser contexts of its own (a
 * context is a separate browser profile: its own IndexedDB queue).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  act,
  api,
  launch,
  log,
  newContext,
  openPage,
  pending,
  report,
  screenshot,
  timed,
  until,
} from './lib.mjs';

/* the live feed's promise: another page's confirmed change shows within a second */
const FEED_MS = 1000;
/* how long a page may take to send what waited once it is back online */
const RESEND_MS = 20000;

let browser;
const contexts = [];

before(async () => {
  browser = await launch();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  report();
});

async function context() {
  const c = await newContext(browser);
  contexts.push(c);
  return c;
}

/* No page of `c` threw. */
function noErrors(c) {
  assert.deepEqual(c.errors, []);
}

const keyframeRow = (page, frame) => page.locator(`#keyframes tbody tr[data-frame="${frame}"]`);

/* Sets a number field of a row and leaves it, as a person would (its change event). */
async function edit(input, value) {
  await input.fill(String(value));
  await input.press('Tab');
}

async function addKeyframe(page, frame, x = 0) {
  const form = page.locator('#keyframes form');
  await form.locator('[name=frame]').fill(String(frame));
  await form.locator('[name=x]').fill(String(x));
  await form.getByRole('button', { name: 'Add keyframe' }).click();
}

async function addRegion(page, start, end, effect = 'highlight') {
  const form = page.locator('#regions form');
  await form.locator('[name=start_time]').fill(String(start));
  await form.locator('[name=end_time]').fill(String(end));
  await form.locator('select').selectOption(effect);
  await form.getByRole('button', { name: 'Add region' }).click();
}

/* Waits up to the feed's second for `probe`, and says how long it took. */
async function within(what, probe) {
  const start = performance.now();
  await until(what, probe, FEED_MS, 20);
  console.log(`${what}: ${Math.round(performance.now() - start)} ms after the confirmation`);
}

async function drained(page, ms = RESEND_MS) {
  await until('the page to have sent everything', async () => (await pending(page)) === 0, ms);
}

test(
  'two components of one page edit one clip at once, and nothing is lost',
  timed('two components, one clip', async () => {
    const { id } = await api('alice', 'POST', '/clips');
    const c = await context();
    const page = await openPage(c, 'alice', 'clip', id);

    /* both components submit in the same task, before either change is answered */
    await page.evaluate(() => {
      const k = document.querySelector('#keyframes form');
      k.elements.frame.value = 0;
      k.requestSubmit();
      const r = document.querySelector('#regions form');
      r.elements.start_time.value = 1;
      r.elements.end_time.value = 2;
      r.requestSubmit();
    });
    /* then in turns, without waiting for the server */
    for (let i = 1; i <= 3; i++) {
      await addKeyframe(page, 30 * i, 10 * i);
      await addRegion(page, 2 * i + 1, 2 * i + 2, 'blur');
    }
    /* and an update in each component in one task */
    await page.evaluate(() => {
      const x = document.querySelector('#keyframes tbody tr[data-frame="0"] [name=x]');
      x.value = 5;
      x.dispatchEvent(new Event('change'));
      const effect = document.querySelector('#regions tbody tr select');
      effect.value = 'zoom';
      effect.dispatchEvent(new Event('change'));
    });
    await drained(page);

    const { data, version } = await api('alice', 'GET', `/clips/${id}`);
    assert.deepEqual(
      data.crop_keyframes.map((k) => [k.frame, k.x]),
      [
        [0, 5],
        [30, 10],
        [60, 20],
        [90, 30],
      ],
    );
    assert.deepEqual(
      data.regions.map((r) => [r.start_time, r.end_time, r.effect_type]),
      [
        [1, 2, 'zoom'],
        [3, 4, 'blur'],
        [5, 6, 'blur'],
        [7, 8, 'blur'],
      ],
    );
    assert.equal(version, 1 + 10);
    /* the page shows the same */
    assert.equal(await page.locator('#keyframes tbody tr').count(), 4);
    assert.equal(await page.locator('#regions tbody tr').count(), 4);
    assert.equal(await page.locator('#banner').isVisible(), false);
    await screenshot(page, 'clip-editor');
    noErrors(c);
  }),
);

test(
  'two browsers on one clip see each other’s changes through the feed within a second',
  timed('live feed between two browsers', async () => {
    const { id } = await api('alice', 'POST', '/clips');
    await api('alice', 'POST', `/clips/${id}/share`, { data: { actor: 'bob', role: 'editor' } });
    const ca = await context();
    const cb = await context();
    const alice = await openPage(ca, 'alice', 'clip', id);
    const bob = await openPage(cb, 'bob', 'clip', id);
    for (const page of [alice, bob])
      await until(
        'the feed to connect',
        async () => (await page.locator('#connection').getAttribute('data-state')) === 'live',
      );

    /* alice's keyframe: confirmed on her page, then on bob's within the second */
    await addKeyframe(alice, 10, 42);
    await drained(alice);
    await within(
      'bob to see alice’s keyframe',
      async () => (await keyframeRow(bob, 10).count()) === 1,
    );
    assert.equal(await keyframeRow(bob, 10).locator('[name=x]').inputValue(), '42');

    /* bob's region, the other way round */
    await addRegion(bob, 4, 6);
    await drained(bob);
    await within(
      'alice to see bob’s region',
      async () => (await alice.locator('#regions tbody tr').count()) === 1,
    );

    /* each knows the other is there, from the same entries */
    await until(
      'alice to see bob editing',
      async () => (await alice.locator('#presence').textContent()).includes('bob'),
      FEED_MS,
    );
    assert.equal(await alice.locator('#presence').textContent(), 'also editing: bob');
    assert.equal(await bob.locator('#presence').textContent(), 'also editing: alice');
    await screenshot(alice, 'clip-live');
    noErrors(ca);
    noErrors(cb);
  }),
);

test(
  'a stale tab that autosaves old text is told the article changed, and the newer text stays',
  timed('the stale tab', async () => {
    const { id } = await api('alice', 'POST', '/articles');
    await act('alice', 'articles', id, { action: 'set_title', data: { title: 'Field notes' } });
    await act('alice', 'articles', id, {
      action: 'set_body',
      data: { body: 'Monday: the river was high.' },
    });
    const cw = await context();
    const cs = await context();
    const writer = await openPage(cw, 'alice', 'article', id);
    const stale = await openPage(cs, 'alice', 'article', id);

    /* the forgotten tab's machine drops off the network; its last keystrokes autosave there */
    await cs.setOffline(true);
    const old = 'Monday: the river was high. (an old thought from the forgotten tab)';
    await stale.locator('#body').fill(old);
    await until('the stale tab to queue its autosave', async () => (await pending(stale)) === 1);

    /* meanwhile the article is written on, saved sentence by sentence */
    const body = writer.locator('#body');
    for (const sentence of [
      ' Tuesday: it rained all day.',
      ' Wednesday: the bridge held.',
      ' Thursday: sun.',
    ]) {
      await body.press('End');
      await body.pressSequentially(sentence, { delay: 5 });
      await until('the writer to save', async () =>
        (await writer.locator('#saved').textContent()).startsWith('saved'),
      );
    }
    const newest = await body.inputValue();
    assert.equal((await api('alice', 'GET', `/articles/${id}`)).data.body, newest);

    /* back online, the stale tab's autosave goes out, based on what it last saw */
    await cs.setOffline(false);
    const banner = stale.locator('#banner');
    await until('the stale tab to show the banner', () => banner.isVisible(), RESEND_MS);
    assert.match(await banner.textContent(), /Changed elsewhere/);
    await drained(stale);
    /* nothing typed there is lost from the page, and nothing of it reached the server */
    assert.equal(await stale.locator('#body').inputValue(), old);
    assert.equal(await stale.locator('#saved').textContent(), 'not saved: changed elsewhere');
    assert.equal((await api('alice', 'GET', `/articles/${id}`)).data.body, newest);
    await screenshot(stale, 'article-changed-elsewhere');

    await banner.getByRole('button', { name: "Show the server's version" }).click();
    assert.equal(await stale.locator('#body').inputValue(), newest);
    assert.equal(await banner.isVisible(), false);
    const entries = await log('alice', 'articles', id);
    assert.equal(entries.filter((e) => e.data?.body === old).length, 0);
    noErrors(cw);
    noErrors(cs);
  }),
);

test(
  'edits made offline reach the server once each, in order, from a page opened later',
  timed('offline, closed, reopened', async () => {
    const { id } = await api('alice', 'POST', '/clips');
    const c = await context();
    let page = await openPage(c, 'alice', 'clip', id);

    await c.setOffline(true);
    await until(
      'the page to say it is offline',
      async () => (await page.locator('#connection').getAttribute('data-state')) === 'offline',
    );
    await addKeyframe(page, 0);
    await addKeyframe(page, 30);
    await addKeyframe(page, 60);
    await edit(keyframeRow(page, 30).locator('[name=x]'), 99);
    await addRegion(page, 1, 2);
    await page.locator('#regions tbody tr select').selectOption('blur');
    await keyframeRow(page, 0).getByRole('button', { name: 'Delete' }).click();
    /* all of it shown at once */
    assert.equal(await keyframeRow(page, 0).count(), 0);
    assert.equal(await keyframeRow(page, 30).locator('[name=x]').inputValue(), '99');
    assert.equal(await keyframeRow(page, 60).count(), 1);
    assert.equal(await page.locator('#regions tbody tr select').inputValue(), 'blur');
    assert.equal(await pending(page), 7);
    assert.equal(await page.locator('#queue').textContent(), '7 changes waiting');
    await screenshot(page, 'offline-queue');

    /* stored before the page goes away: the keys, in the order they were made */
    const stored = await until('the queue to be stored', async () => {
      const records = await page.evaluate(
        () =>
          new Promise((resolve, reject) => {
            const req = indexedDB.open('actiond');
            req.onerror = () => reject(req.error);
            req.onsuccess = () => {
              const all = req.result
                .transaction('queue')
                .objectStore('queue')
                .index('created')
                .getAll();
              all.onsuccess = () => resolve(all.result.map((r) => [r.key, r.action?.action]));
              all.onerror = () => reject(all.error);
            };
          }),
      );
      return records.length === 7 && records;
    });
    assert.deepEqual(
      stored.map(([, action]) => action),
      [
        'add_crop_keyframe',
        'add_crop_keyframe',
        'add_crop_keyframe',
        'update_crop_keyframe',
        'create_region',
        'update_region',
        'delete_crop_keyframe',
      ],
    );
    await page.close();
    assert.equal((await api('alice', 'GET', `/clips/${id}`)).version, 1);

    await c.setOffline(false);
    page = await openPage(c, 'alice', 'clip', id);
    const entries = await until(
      'the edits to reach the server',
      async () => {
        const e = await log('alice', 'clips', id);
        return e.length >= 7 && e;
      },
      RESEND_MS,
    );
    await drained(page);
    const final = await log('alice', 'clips', id);
    assert.equal(final.length, 7, 'nothing applied twice');
    assert.deepEqual(
      final.map((e) => e.idempotency_key),
      stored.map(([key]) => key),
      'each key once, in the order the edits were made',
    );
    assert.deepEqual(
      entries.map((e) => e.version),
      [2, 3, 4, 5, 6, 7, 8],
    );
    const { data } = await api('alice', 'GET', `/clips/${id}`);
    assert.deepEqual(
      data.crop_keyframes.map((k) => [k.frame, k.x]),
      [
        [30, 99],
        [60, 0],
      ],
    );
    assert.deepEqual(
      data.regions.map((r) => [r.start_time, r.end_time, r.effect_type]),
      [[1, 2, 'blur']],
    );
    assert.equal(await page.locator('#queue').textContent(), 'all saved');
    noErrors(c);
  }),
);

test(
  'an overlapping stale edit ends in the banner and the server’s value; a disjoint one is rebased silently',
  timed('overlapping and disjoint edits', async () => {
    const { id } = await api('alice', 'POST', '/clips');
    for (const frame of [100, 200])
      await act('alice', 'clips', id, {
        action: 'add_crop_keyframe',
        data: { frame, x: 50, y: 50, width: 640, height: 360 },
      });
    await api('alice', 'POST', `/clips/${id}/share`, { data: { actor: 'bob', role: 'editor' } });
    const c = await context();
    const page = await openPage(c, 'alice', 'clip', id);
    const banner = page.locator('#banner');
    const x100 = keyframeRow(page, 100).locator('[name=x]');

    /* overlapping: alice moves keyframe 100 while cut off; bob moves it too */
    await c.setOffline(true);
    await edit(x100, 99);
    assert.equal(await pending(page), 1);
    await act('bob', 'clips', id, {
      action: 'update_crop_keyframe',
      target: { frame: 100 },
      data: { x: 10 },
    });
    await c.setOffline(false);
    await until('the banner', () => banner.isVisible(), RESEND_MS);
    await until('the server’s value on the page', async () => (await x100.inputValue()) === '10');
    await drained(page);
    assert.equal((await api('alice', 'GET', `/clips/${id}`)).data.crop_keyframes[0].x, 10);
    await banner.getByRole('button', { name: "Show the server's version" }).click();
    await until('who changed it', async () => /by bob/.test(await banner.textContent()));
    await screenshot(page, 'clip-conflict');
    await banner.getByRole('button', { name: 'Dismiss' }).click();

    /* disjoint: alice resizes keyframe 100 while cut off; bob moves keyframe 200 */
    await c.setOffline(true);
    await edit(keyframeRow(page, 100).locator('[name=width]'), 320);
    await act('bob', 'clips', id, {
      action: 'update_crop_keyframe',
      target: { frame: 200 },
      data: { y: 20 },
    });
    await c.setOffline(false);
    await drained(page);
    const { data } = await api('alice', 'GET', `/clips/${id}`);
    assert.deepEqual(
      data.crop_keyframes.map((k) => [k.frame, k.x, k.y, k.width]),
      [
        [100, 10, 50, 320],
        [200, 50, 20, 640],
      ],
    );
    assert.equal(await banner.isVisible(), false, 'no banner for a disjoint edit');
    await until(
      'both changes on the page',
      async () => (await keyframeRow(page, 200).locator('[name=y]').inputValue()) === '20',
    );
    assert.equal(await keyframeRow(page, 100).locator('[name=width]').inputValue(), '320');
    const entries = await log('alice', 'clips', id);
    assert.equal(entries.filter((e) => e.data?.width === 320).length, 1);
    noErrors(c);
  }),
);
