/*
 * store.js: where queued actions wait until the server has answered them, so that
 * they survive a closed page and an offline spell. A store is anything with
 *   put(record) -> Promise       (resolves once the record is durable)
 *   delete(key) -> Promise
 *   all()       -> Promise<record[]>, oldest `created` first
 * A record is plain JSON: {key, type, id, kind, action?, base, created, uuids, result}
 * (web/README.md). IndexedDBStore is the browser's default, one database per origin;
 * MemoryStore lives as long as the page and serves tests.
 */

function byCreated(a, b) {
  return a.created - b.created;
}

export class MemoryStore {
  constructor() {
    this.records = new Map();
  }

  async put(record) {
    this.records.set(record.key, structuredClone(record));
  }

  async delete(key) {
    this.records.delete(key);
  }

  async all() {
    return [...this.records.values()].map((r) => structuredClone(r)).sort(byCreated);
  }
}

/* Resolves when `tx` commits (the data is on disk), rejects when it fails. */
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export class IndexedDBStore {
  /* `name` is the database's name; one object store, "queue", keyed by the record's key. */
  constructor(name = 'actiond') {
    this.name = name;
    this.db = null;
  }

  open() {
    this.db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(this.name, 1);
      req.onupgradeneeded = () =>
        req.result.createObjectStore('queue', { keyPath: 'key' }).createIndex('created', 'created');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return this.db;
  }

  async put(record) {
    const tx = (await this.open()).transaction('queue', 'readwrite', { durability: 'strict' });
    tx.objectStore('queue').put(record);
    return done(tx);
  }

  async delete(key) {
    const tx = (await this.open()).transaction('queue', 'readwrite');
    tx.objectStore('queue').delete(key);
    return done(tx);
  }

  async all() {
    const tx = (await this.open()).transaction('queue', 'readonly');
    const req = tx.objectStore('queue').index('created').getAll();
    await done(tx);
    return req.result;
  }
}
