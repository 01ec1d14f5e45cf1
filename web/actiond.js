/*
 * actiond.js: the browser client of actiond (web/README.md). No dependencies: an ES
 * module over fetch(), IndexedDB and engine.js.
 *
 *   import { Client } from '/actiond.js';
 *   const client = new Client({ base: '/api', token });
 *   const doc = await client.open('clips', 12);
 *   await doc.apply({ action: 'set_trim_range', data: { start: 1, end: 5 } });
 *
 * Changes are applied locally at once, stored, and sent in order, exactly once; a
 * stale one is rebased when nothing someone else did touches what it touches, and
 * dropped with a `conflict` event otherwise. The live feed keeps the document current.
 */
import { Catalog } from './engine.js';
import { Doc } from './client/doc.js';
import { Http } from './client/http.js';
import { IndexedDBStore } from './client/store.js';

export { ActionError } from './client/http.js';
export { IndexedDBStore, MemoryStore } from './client/store.js';
export { EventStreamParser } from './client/feed.js';

export class Client extends EventTarget {
  #ctx;
  #docs = new Map(); /* "type/id" -> Promise<Doc> */
  #loaded = new Set(); /* the Docs those promises gave */
  #opened = new Set(); /* the keys open() was called for */
  #waits = new Set();
  #abort = new AbortController();
  #catalog = null;
  #lastCreated = 0;
  #closed = false;
  #window;
  #online = () => this.#wakeAll();

  /*
   * Options: `base` the API's mount (default "/api"); `token` the bearer token
   * (client.token may be replaced later, e.g. after a refresh); `store` the queue's
   * store (default an IndexedDBStore); `fetch`; `window`, whose `online` event ends
   * every wait for a retry at once (default globalThis); `retry` {initial, max}, the
   * backoff in milliseconds (default 500 doubling to 30000, with jitter).
   */
  constructor({ base = '/api', token = null, store, fetch, window = globalThis, retry = {} } = {}) {
    super();
    this.token = token;
    this.retry = { initial: retry.initial ?? 500, max: retry.max ?? 30000 };
    const http = new Http({
      base,
      token: () => this.token,
      fetch: fetch ?? ((...args) => globalThis.fetch(...args)),
      signal: this.#abort.signal,
    });
    this.#ctx = {
      http,
      store: store ?? new IndexedDBStore(),
      catalog: () => this.#loadCatalog(),
      wait: (attempt, ms) => this.#wait(attempt, ms),
      created: () => (this.#lastCreated = Math.max(Date.now(), this.#lastCreated + 1)),
    };
    this.#window = window;
    this.#window?.addEventListener?.('online', this.#online);
  }

  /*
   * The document `id` of `type`, loaded (GET {base}/{type}/{id}), with the catalog
   * (GET {base}/catalog) and the live feed, and sending what an earlier page left
   * queued for it. Opening it again gives the same Doc. Rejects with an ActionError
   * when the server refuses (404, 410...) or a TypeError when it cannot be reached.
   */
  async open(type, id) {
    const key = `${type}/${id}`;
    this.#opened.add(key);
    const doc = await this.#doc(type, id);
    doc.subscribe();
    return doc;
  }

  /*
   * Resolves once every change queued in this origin's store has been confirmed or
   * refused: those of open documents and those an earlier page left for documents
   * not open here (which are loaded for it, without a feed, and let go after). A
   * refusal for such a document, and the changes to a resource that is gone (404,
   * 410), are announced as a `conflict` event on the client, detail {type, id,
   * action, status, problem}.
   */
  async flush() {
    const targets = new Map();
    for (const r of await this.#ctx.store.all()) targets.set(`${r.type}/${r.id}`, r);
    for (const key of this.#docs.keys()) targets.delete(key);
    const extra = await Promise.all(
      [...targets.values()].map((r) => this.#flushOnly(r.type, r.id)),
    );
    const docs = await Promise.all([...this.#docs.values()].map((p) => p.catch(() => null)));
    await Promise.all(docs.filter((d) => d !== null).map((d) => d.drained()));
    for (const doc of extra.filter((d) => d !== null)) {
      const key = `${doc.type}/${doc.id}`;
      if (this.#opened.has(key)) continue;
      doc.close();
      this.#loaded.delete(doc);
      this.#docs.delete(key);
    }
  }

  /*
   * Stops every feed, request and retry. Changes still queued stay stored for a later
   * client; their promises reject with an ActionError whose `queued` is true.
   */
  close() {
    this.#closed = true;
    this.#abort.abort();
    this.#window?.removeEventListener?.('online', this.#online);
    for (const doc of this.#loaded) doc.close();
    for (const p of this.#docs.values())
      p.then(
        (d) => d.close(),
        () => {},
      );
    this.#wakeAll();
  }

  #doc(type, id) {
    const key = `${type}/${id}`;
    if (!this.#docs.has(key)) {
      const p = Doc.open(this.#ctx, type, id);
      p.then(
        (doc) => this.#loaded.add(doc),
        /* a failed open is forgotten, so that the next one tries again */
        () => this.#docs.get(key) === p && this.#docs.delete(key),
      );
      this.#docs.set(key, p);
    }
    return this.#docs.get(key);
  }

  /* Opens a document flush() needs; retries until the server answers. Null: gone. */
  async #flushOnly(type, id) {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const doc = await this.#doc(type, id);
        doc.addEventListener('conflict', (e) => this.#emitConflict(type, id, e.detail));
        return doc;
      } catch (e) {
        if (e.status === 404 || e.status === 410) {
          await this.#dropAll(type, id, e);
          return null;
        }
        await this.#wait(attempt);
      }
    }
    return null;
  }

  /* The changes stored for a resource that is gone: refused, each announced. */
  async #dropAll(type, id, error) {
    for (const r of await this.#ctx.store.all()) {
      if (r.type !== type || String(r.id) !== String(id)) continue;
      await this.#ctx.store.delete(r.key);
      this.#emitConflict(type, id, {
        action: r.action ?? { action: r.kind },
        status: error.status,
        problem: error.problem,
      });
    }
  }

  #emitConflict(type, id, detail) {
    this.dispatchEvent(new CustomEvent('conflict', { detail: { type, id, ...detail } }));
  }

  #loadCatalog() {
    this.#catalog ??= this.#ctx.http.get('/catalog').then(
      (json) => new Catalog(json),
      (e) => {
        this.#catalog = null;
        throw e;
      },
    );
    return this.#catalog;
  }

  /*
   * Sleeps before retry number `attempt` (0, 1, ...): exponential backoff with jitter,
   * at least `ms` when the server asked for it. Ends early when the browser comes back
   * online or the client closes.
   */
  #wait(attempt, ms) {
    if (this.#closed) return Promise.resolve();
    const backoff =
      Math.min(this.retry.max, this.retry.initial * 2 ** attempt) * (0.5 + Math.random() / 2);
    return new Promise((resolve) => {
      const w = () => {
        clearTimeout(timer);
        this.#waits.delete(w);
        resolve();
      };
      const timer = setTimeout(w, Math.max(ms ?? 0, backoff));
      this.#waits.add(w);
    });
  }

  #wakeAll() {
    for (const w of [...this.#waits]) w();
  }
}
