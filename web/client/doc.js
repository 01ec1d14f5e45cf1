/*
 * doc.js: one open document. It keeps three things apart:
 *   - the confirmed state: the document, version and state the server has vouched
 *     for (from GET, from answers, from log entries applied in order);
 *   - the queue: this origin's changes the server has not answered yet, oldest
 *     first, each stored (store.js) before it is sent, sent one at a time;
 *   - the view (`data`, `state`): the confirmed state with every queued action
 *     applied again on top by engine.js, recomputed whenever either changes.
 *
 * Versions. A queued change is sent with `expected_version` = its base: the confirmed
 * version when it was made. As the changes before it are confirmed, the base moves
 * over their versions (the author saw those changes in the view), but never over a
 * version someone else wrote: those it has not seen. A change refused as stale is
 * rebased here: the entries it missed are read from the log and applied to the
 * confirmed state; when none of someone else's touches what it touches (touch.js,
 * the server's merge rule), its base becomes the current version and it is sent
 * again, still strictly guarded, with the same idempotency key; otherwise it is
 * dropped with a `conflict` event. Undo and redo cannot say what they will touch, so
 * they are dropped as soon as someone else's change came in between.
 *
 * Ids. An action whose append assigns an id (create_region) shows a local id until
 * the server answers; queued actions that target it (update_region) are rewritten to
 * the server's id then, and, should a later view assign a different local id, to that.
 */
import { applyAction, applyPatch, overlaps, touchAction } from '../engine.js';
import { equal, hasOwn } from '../engine/json.js';
import { Feed } from './feed.js';
import { ActionError, problemOf, slugOf } from './http.js';

/* A change refused as stale this many times in a row is dropped: others keep winning. */
const MAX_REBASES = 8;
/* What the store keeps of a queued change (web/README.md). */
const STORED = ['key', 'type', 'id', 'kind', 'action', 'base', 'created', 'uuids', 'result'];
const ROUTES = { action: '/actions', undo: '/undo', redo: '/redo' };

function stored(record) {
  return Object.fromEntries(
    STORED.filter((k) => record[k] !== undefined).map((k) => [k, record[k]]),
  );
}

/* Answers worth retrying unchanged: the server or the way to it failed, or it asks to wait. */
function retryable(status, slug) {
  return (
    status >= 500 ||
    status === 401 ||
    status === 408 ||
    status === 429 ||
    slug === 'idempotency-key-in-use'
  );
}

/* A refusal because the base version is behind: the change itself may still be fine. */
function stale(status, slug) {
  return status === 412 || (status === 409 && slug === 'stale-version');
}

export class Doc extends EventTarget {
  #ctx;
  #catalog;
  #confirmed;
  #view;
  #records = [];
  /* idempotency keys this document queued, and the versions they became */
  #ownKeys = new Set();
  #ownVersions = new Set();
  /* log entries held back while the change they confirm waits for its answer */
  #held = null;
  #inFlight = null;
  #pumping = false;
  #drained = [];
  #feed = null;
  #closed = false;

  /*
   * `ctx` is what the client shares: {http, store, catalog(), wait(attempt, ms),
   * created()}; `rep` the resource as GET returns it.
   */
  constructor(ctx, catalog, type, id, rep) {
    super();
    this.type = type;
    this.id = id;
    this.#ctx = ctx;
    this.#catalog = catalog;
    this.#confirmed = { data: rep.data, version: rep.version, state: rep.state ?? null };
    this.#view = { data: rep.data, state: this.#confirmed.state };
  }

  /*
   * Loads the resource and the catalog, takes over the changes an earlier page left
   * queued for it (those the log already holds are done), and starts sending.
   */
  static async open(ctx, type, id) {
    const [rep, catalog, leftover] = await Promise.all([
      ctx.http.get(`/${type}/${id}`),
      ctx.catalog(),
      ctx.store.all(),
    ]);
    const doc = new Doc(ctx, catalog, type, id, rep);
    await doc.#adopt(leftover.filter((r) => r.type === type && String(r.id) === String(id)));
    void doc.#pump();
    return doc;
  }

  /* The document as this page sees it: confirmed, with the queued actions applied. */
  get data() {
    return this.#view.data;
  }

  /* The state, for types with a state machine (else null), queued transitions applied. */
  get state() {
    return this.#view.state;
  }

  /* The last version the server confirmed. */
  get version() {
    return this.#confirmed.version;
  }

  /* How many changes wait for the server's answer. */
  get pending() {
    return this.#records.length;
  }

  /*
   * Applies action {action, target?, data?} at once to `data` and queues it; the
   * promise settles with the server's 200 answer, or rejects with an ActionError
   * (.status, .problem). An action the engine refuses rejects at once, unqueued.
   * The client sets expected_version and id itself; the envelope's own are ignored.
   */
  apply(envelope) {
    if (this.#closed) return Promise.reject(new ActionError('the client is closed', 0, null));
    /* what the server will read: JSON.stringify drops undefined members, dates become strings */
    const sent = JSON.parse(JSON.stringify(envelope ?? null));
    const record = {
      key: crypto.randomUUID(),
      type: this.type,
      id: this.id,
      kind: 'action',
      action: Object.fromEntries(
        ['action', 'target', 'data'].filter((k) => hasOwn(sent ?? {}, k)).map((k) => [k, sent[k]]),
      ),
      base: this.#confirmed.version,
      created: this.#ctx.created(),
      uuids: [],
    };
    /* the whole envelope is checked, so a member the server would refuse is refused here */
    const out = this.#local(this.#view, sent, record.uuids);
    if (out.error)
      return Promise.reject(
        new ActionError(out.error.detail, out.error.status, problemOf(out.error)),
      );
    record.result = out.result ?? null;
    this.#view = { data: out.document, state: out.state ?? this.#view.state };
    return this.#enqueue(record);
  }

  /* Queues an undo of the latest change; `data` changes when the server has answered. */
  undo() {
    return this.#history('undo');
  }

  /* Queues a redo of the latest undone change, like undo(). */
  redo() {
    return this.#history('redo');
  }

  /* Resolves once nothing is queued (or the document is closed). */
  drained() {
    if (this.#records.length === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /* Starts the live feed, once. */
  subscribe() {
    if (this.#feed !== null || this.#closed) return;
    this.#feed = new Feed({
      http: this.#ctx.http,
      path: `/${this.type}/${this.id}/events`,
      since: () => this.#confirmed.version,
      receive: (entry) => this.#receive(entry),
      wait: (attempt, ms) => this.#ctx.wait(attempt, ms),
    });
    void this.#feed.start();
  }

  /*
   * Stops the feed and the sending. The promises of changes still queued reject with
   * an ActionError whose `queued` is true: they stay stored for a later client.
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed?.stop();
    for (const r of this.#records)
      r.reject(
        new ActionError(
          'closed before the server answered; the change stays queued',
          0,
          null,
          true,
        ),
      );
    this.#drained.splice(0).forEach((resolve) => resolve());
  }

  #history(kind) {
    if (this.#closed) return Promise.reject(new ActionError('the client is closed', 0, null));
    return this.#enqueue({
      key: crypto.randomUUID(),
      type: this.type,
      id: this.id,
      kind,
      base: this.#confirmed.version,
      created: this.#ctx.created(),
      uuids: [],
      result: null,
    });
  }

  #enqueue(record) {
    const settled = new Promise((resolve, reject) => Object.assign(record, { resolve, reject }));
    this.#records.push(record);
    this.#ownKeys.add(record.key);
    this.#persist(record);
    this.#emit('change', { source: 'local' });
    void this.#pump();
    return settled;
  }

  /*
   * Writes the record; sending waits for the latest write, so what is stored is what
   * was sent. A store that refuses (private browsing, quota) costs durability only:
   * the change is still sent from memory.
   */
  #persist(record) {
    record.stored = this.#ctx.store.put(stored(record)).catch(() => {});
  }

  #forget(record) {
    this.#ctx.store.delete(record.key).catch(() => {
      /* a later page finds its key in the log and discards it */
    });
  }

  /* Applies an action envelope to view {data, state}, its "uuid" ids taken from `uuids`. */
  #local(view, envelope, uuids) {
    let i = 0;
    const uuid = () => (uuids[i++] ??= crypto.randomUUID());
    return applyAction(this.#catalog, this.type, view.data, envelope, { state: view.state, uuid });
  }

  async #adopt(leftover) {
    if (leftover.length === 0) return;
    const since = Math.min(...leftover.map((r) => r.base));
    const applied = new Map();
    for (const e of await this.#ctx.http.entries(this.type, this.id, since))
      applied.set(e.idempotency_key, e.version);
    for (const r of leftover) {
      this.#ownKeys.add(r.key);
      if (applied.has(r.key)) {
        this.#ownVersions.add(applied.get(r.key));
        this.#forget(r);
        continue;
      }
      /* an earlier page may have sent it: its stored body must stay what it sent */
      this.#records.push({
        ...r,
        sent: true,
        stored: Promise.resolve(),
        resolve() {},
        reject() {},
      });
    }
    this.#settle();
  }

  /* Recomputes the view; rewrites queued targets when a local id changed. */
  #fold() {
    let view = { data: this.#confirmed.data, state: this.#confirmed.state };
    const dirty = new Set();
    this.#records.forEach((r, i) => {
      if (r.kind !== 'action' || r.applied !== undefined) return;
      const out = this.#local(view, r.action, r.uuids);
      /* one that no longer applies shows nothing; the server will say why */
      if (out.error) return;
      view = { data: out.document, state: out.state ?? view.state };
      for (const [member, id] of Object.entries(out.result ?? {})) {
        const was = r.result?.[member];
        if (was !== undefined && !equal(was, id))
          this.#retarget(i + 1, member, was, id).forEach((f) => dirty.add(f));
      }
      if (!equal(r.result, out.result ?? null)) dirty.add(r);
      r.result = out.result ?? null;
    });
    this.#view = view;
    dirty.forEach((r) => this.#persist(r));
  }

  /* Points the queued actions from index `from` on that target `member` = `was` at `now`. */
  #retarget(from, member, was, now) {
    const changed = this.#records
      .slice(from)
      .filter(
        (r) =>
          r.action?.target !== undefined &&
          hasOwn(r.action.target, member) &&
          equal(r.action.target[member], was),
      );
    for (const r of changed)
      r.action = { ...r.action, target: { ...r.action.target, [member]: now } };
    return changed;
  }

  /* Moves the bases of unsent changes over versions this document's own changes became. */
  #advance() {
    for (const r of this.#records) {
      if (r.sent) continue;
      const base = r.base;
      while (this.#ownVersions.has(r.base + 1)) r.base += 1;
      if (r.base !== base) this.#persist(r);
    }
  }

  #settle(source) {
    this.#advance();
    this.#fold();
    if (source !== undefined) this.#emit('change', { source });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /*
   * Applies log entries that follow the confirmed version in order; skips those it
   * has. An entry of the change in flight is held until its answer: the answer tells
   * the ids it assigned. Returns whether the confirmed state moved. Throws when an
   * entry does not apply, which only a confirmed state out of step can cause.
   */
  #absorb(entries) {
    let moved = false;
    for (const e of entries) {
      if (this.#held !== null) {
        this.#held.push(e);
        continue;
      }
      if (e.version !== this.#confirmed.version + 1) continue;
      const own = this.#records.find((r) => r.key === e.idempotency_key);
      if (own !== undefined && own === this.#inFlight) {
        this.#held = [e];
        continue;
      }
      const out = applyPatch(this.#confirmed.data, e.forward);
      if (out.error) throw new Error(`version ${e.version} does not apply: ${out.error.detail}`);
      this.#confirmed = { data: out.document, version: e.version, state: e.state ?? null };
      if (this.#ownKeys.has(e.idempotency_key)) this.#ownVersions.add(e.version);
      if (own !== undefined) own.applied = e.version;
      moved = true;
    }
    return moved;
  }

  #release() {
    const held = this.#held;
    this.#held = null;
    if (held !== null) this.#absorb(held);
  }

  /*
   * Absorbs `entries`, or starts over from the server's current state when they do
   * not apply; announces a move of the confirmed state as coming from `source`.
   */
  async #catchUp(entries, source) {
    let moved;
    try {
      moved = this.#absorb(entries);
    } catch {
      const rep = await this.#ctx.http.get(`/${this.type}/${this.id}`);
      this.#confirmed = { data: rep.data, version: rep.version, state: rep.state ?? null };
      moved = true;
    }
    if (moved) this.#settle(source);
  }

  /* One entry from the feed; a gap is filled from the log first. A network failure
   * propagates: the feed reconnects. */
  async #receive(entry) {
    const gap = this.#held === null && entry.version > this.#confirmed.version + 1;
    await this.#catchUp(
      gap ? await this.#ctx.http.entries(this.type, this.id, this.#confirmed.version) : [entry],
      'remote',
    );
  }

  async #pump() {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#records.length > 0 && !this.#closed) {
      const head = this.#records[0];
      await head.stored;
      await this.#send(head);
    }
    this.#pumping = false;
    this.#drained.splice(0).forEach((resolve) => resolve());
  }

  #body(record) {
    const guard = { expected_version: record.base, id: record.key };
    return record.kind === 'action' ? { ...record.action, ...guard } : guard;
  }

  /*
   * Sends the head of the queue until the server answers it for good: retries with
   * the same key and body after a network failure or a 5xx, rebases after a stale
   * refusal, and confirms or drops it.
   */
  async #send(record) {
    this.#inFlight = record;
    let attempt = 0;
    let rebases = 0;
    try {
      while (!this.#closed) {
        await record.stored;
        record.sent = true;
        let res;
        try {
          res = await this.#ctx.http.request(
            'POST',
            `/${this.type}/${this.id}${ROUTES[record.kind]}`,
            this.#body(record),
          );
        } catch {
          await this.#ctx.wait(attempt++);
          continue;
        }
        if (res.ok) return this.#confirm(record, res.body);
        const slug = slugOf(res.body);
        if (retryable(res.status, slug)) {
          await this.#ctx.wait(attempt++, res.retryAfter * 1000);
          continue;
        }
        const problem = res.body ?? { status: res.status };
        if (!stale(res.status, slug) || rebases === MAX_REBASES)
          return this.#drop(record, res.status, problem);
        let conflicting;
        try {
          conflicting = await this.#rebase(record);
        } catch {
          await this.#ctx.wait(attempt++);
          continue;
        }
        if (conflicting.length > 0) return this.#drop(record, res.status, problem, conflicting);
        rebases += 1;
      }
    } finally {
      this.#inFlight = null;
    }
  }

  /*
   * Brings the confirmed state up to date from the log since the change's base and
   * returns the versions, written by others, that overlap it; none: its base is now
   * the current version.
   */
  async #rebase(record) {
    const entries = await this.#ctx.http.entries(this.type, this.id, record.base);
    await this.#catchUp(entries, 'remote');
    const theirs = entries.filter((e) => !this.#ownKeys.has(e.idempotency_key));
    let touches = null; /* what an undo or redo will touch is only known to the server */
    if (record.kind === 'action') {
      /* as the server does: the touches of the action applied to the current document */
      const out = this.#local(this.#confirmed, record.action, record.uuids);
      touches = touchAction(this.#catalog, this.type, record.action, out.result);
    }
    const conflicting = theirs.filter((e) => overlaps(touches, e.touches)).map((e) => e.version);
    if (conflicting.length === 0) {
      record.base = this.#confirmed.version;
      this.#persist(record);
    }
    return conflicting;
  }

  #confirm(record, answer) {
    this.#records.shift();
    this.#forget(record);
    this.#ownVersions.add(answer.version);
    if (answer.version > this.#confirmed.version) {
      this.#confirmed = { data: answer.data, version: answer.version, state: answer.state ?? null };
    }
    /* the ids the server assigned replace the local ones in queued targets */
    for (const [member, local] of Object.entries(record.result ?? {})) {
      if (hasOwn(answer, member) && !equal(answer[member], local))
        this.#retarget(0, member, local, answer[member]).forEach((r) => this.#persist(r));
    }
    this.#release();
    this.#settle('server');
    record.resolve(answer);
  }

  #drop(record, status, problem, conflicting) {
    this.#records.shift();
    this.#forget(record);
    this.#release();
    this.#settle('rollback');
    const detail = { action: record.action ?? { action: record.kind }, status, problem };
    if (conflicting !== undefined) detail.conflicting_versions = conflicting;
    this.#emit('conflict', detail);
    record.reject(
      new ActionError(
        problem.detail ?? problem.title ?? `${record.kind} refused: ${status}`,
        status,
        problem,
      ),
    );
  }
}
