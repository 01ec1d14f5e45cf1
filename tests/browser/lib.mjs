/*
 * lib.mjs: what the browser tests share: the stack tests/browser/run started (from
 * its environment), the API as alice and bob, Chromium through playwright-core, the
 * demo's pages, bounded waits, run times and screenshots.
 */
import { readFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with tests/browser/run`);
  return value;
}

export const API = required('ACTIOND_URL'); /* http://127.0.0.1:PORT/api */
export const ORIGIN = new URL(API).origin;
export const TOKENS = { alice: required('ACTIOND_TOKEN'), bob: required('ACTIOND_TOKEN_BOB') };
const SHOTS = process.env.ACTIOND_SCREENSHOTS ?? '';
const SHIM = process.env.ACTIOND_BROWSER_SHIM === '1';

/* A request to the API as `actor`: the parsed answer, or an Error with the problem. */
export async function api(actor, method, path, body) {
  const headers = { Authorization: `Bearer ${TOKENS[actor]}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} as ${actor}: ${res.status} ${text}`);
  return text === '' ? null : JSON.parse(text);
}

/* Applies an action as `actor` at the resource's current version; the answer. */
export async function act(actor, type, id, envelope) {
  const { version } = await api(actor, 'GET', `/${type}/${id}`);
  return api(actor, 'POST', `/${type}/${id}/actions`, { ...envelope, expected_version: version });
}

/* Every log entry of a resource after its creation, oldest first. */
export async function log(actor, type, id) {
  return (await api(actor, 'GET', `/${type}/${id}/actions?since=1&limit=1000`)).entries;
}

/* Polls `probe` (sync or async) until it returns a truthy value, for at most `ms`. */
export async function until(what, probe, ms = 10000, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline)
      throw new Error(
        `waited ${ms} ms for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await new Promise((r) => setTimeout(r, every));
  }
}

/*
 * Chromium from Debian, headless, with a fresh profile (Playwright makes it under
 * TMPDIR, which tests/browser/run points into its temporary directory).
 */
export function launch() {
  return chromium.launch({
    executablePath: process.env.ACTIOND_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/*
 * A browser context (its own storage, as a second browser or device would have), with
 * the errors its pages throw collected in `context.errors`.
 */
export async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  context.errors = [];
  if (SHIM) await shim(context);
  return context;
}

/* Opens a demo page as `actor`: /demo/<page>.html?id=ID#token=... */
export async function openPage(context, actor, page, id) {
  const p = await context.newPage();
  const refused = [];
  p.on('pageerror', (e) => context.errors.push(`${page}: ${e.message}`));
  p.on(
    'response',
    (r) => r.status() >= 400 && refused.push(`${r.status()} ${new URL(r.url()).pathname}`),
  );
  await p.goto(`${ORIGIN}/demo/${page}.html?id=${id}#token=${TOKENS[actor]}`);
  const ready = page === 'clip' ? '#keyframes form' : '#body:enabled';
  try {
    await p.waitForFunction(
      (ready) => !document.getElementById('error').hidden || document.querySelector(ready) !== null,
      ready,
      { timeout: 15000 },
    );
  } catch {
    /* the page's modules did not run: /actiond.js missing, say */
    throw new Error(`the ${page} page did not start within 15 s; refused: ${refused.join(', ')}`);
  }
  if (await p.locator('#error').isVisible())
    throw new Error(`the ${page} page did not open: ${await p.locator('#error').textContent()}`);
  return p;
}

/* How many changes the page's queue indicator says are waiting. */
export async function pending(page) {
  return Number(await page.locator('#queue').getAttribute('data-pending'));
}

/* Saves a screenshot of `page` as NAME.png in ACTIOND_SCREENSHOTS. */
export async function screenshot(page, name) {
  if (SHOTS === '') return;
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/*
 * ACTIOND_BROWSER_SHIM=1: serves the client's modules (/actiond.js, /engine.js,
 * /client/*.js, /engine/*.js) from web/ and GET /api/catalog from catalog/default.json,
 * for a server that does not serve them itself yet. The live feed is not imitated:
 * without the server's, the client keeps retrying it, and the tests that need it fail.
 */
async function shim(context) {
  const web = /^\/((actiond|engine)\.js|(client|engine)\/[a-z_]+\.js)$/;
  await context.route(
    (url) => url.origin === ORIGIN && web.test(url.pathname),
    async (route) => {
      const path = new URL(route.request().url()).pathname;
      route.fulfill({
        contentType: 'text/javascript',
        body: await readFile(join(SRC, 'web', path)),
      });
    },
  );
  await context.route(`${API}/catalog`, async (route) =>
    route.fulfill({
      contentType: 'application/json',
      body: await readFile(join(SRC, 'catalog', 'default.json')),
    }),
  );
}

/* Run times: `timed(name, fn)` for node:test, and `report()` prints them with the total. */
const times = [];
export function timed(name, fn) {
  return async (t) => {
    const start = performance.now();
    try {
      await fn(t);
    } finally {
      times.push([name, performance.now() - start]);
    }
  };
}
export function report() {
  const total = times.reduce((s, [, ms]) => s + ms, 0);
  const lines = times.map(([name, ms]) => `  ${(ms / 1000).toFixed(2).padStart(7)} s  ${name}`);
  console.log(
    [
      'browser test run times:',
      ...lines,
      `  ${(total / 1000).toFixed(2).padStart(7)} s  total`,
    ].join('\n'),
  );
}
