/*
 * session.js: what every demo page shares. The token comes from the URL's fragment
 * (#token=...), which no request carries; one Client per page; the indicators of the
 * page's header (the connection and the live feed, the queue of unconfirmed changes,
 * the other people editing), and the "changed elsewhere" banner.
 *
 * Presence is read from the live feed itself: the Client's fetch goes through this
 * module, which hands the feed's stream to the Client and reads a copy of it (tee),
 * so the page learns each log entry's actor without a request of its own. An entry
 * whose idempotency key is one of this origin's changes names "me"; any other actor
 * seen in the last two minutes is "also editing".
 */
import { Client, EventStreamParser, IndexedDBStore } from '/actiond.js';

export const API = '/api';
/* how long an actor counts as editing after its last change */
const PRESENCE_MS = 2 * 60 * 1000;

/* The bearer token from the fragment, or null. */
export function token() {
  return new URLSearchParams(location.hash.slice(1)).get('token');
}

/* A link to a demo page that keeps the token in its fragment. */
export function link(path, params = {}) {
  const query = new URLSearchParams(params).toString();
  return `${path}${query ? `?${query}` : ''}#token=${encodeURIComponent(token() ?? '')}`;
}

/* A request outside the client (lists, creation, sharing, the log): the parsed answer. */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = /json/.test(res.headers.get('Content-Type') ?? '') && text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(json?.detail ?? `${method} ${path}: ${res.status}`);
  return json;
}

/* A new element: el('td', {class: 'x', text: 'y'}, child...). */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children);
  return e;
}

/* Sets an input's value unless the person is typing in it. */
export function setValue(input, value) {
  if (document.activeElement !== input) input.value = value ?? '';
}

/*
 * Makes `parent`'s children the rows of `items`, in order, reusing the row of each
 * key (so that an input keeps its focus): make(item) builds a new row, fill(row,
 * item) brings one up to date.
 */
export function reconcile(parent, items, keyOf, make, fill) {
  const rows = new Map([...parent.children].map((r) => [r.dataset.key, r]));
  let prev = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let row = rows.get(key);
    rows.delete(key);
    if (row === undefined) {
      row = make(item);
      row.dataset.key = key;
    }
    fill(row, item);
    const next = prev === null ? parent.firstChild : prev.nextSibling;
    if (row !== next) parent.insertBefore(row, next);
    prev = row;
  }
  for (const row of rows.values()) row.remove();
}

/*
 * Applies an action to `doc`; `say(text)` shows why the engine refused it at once
 * (nothing is queued then). A change the server drops later is the banner's business
 * (the doc's `conflict` event), so its rejection is not reported here.
 */
export function send(doc, envelope, say = () => {}) {
  const before = doc.pending;
  const answer = doc.apply(envelope);
  const queued = doc.pending > before;
  answer.catch((e) => {
    if (!queued) say(e.problem?.detail ?? e.message);
  });
  if (queued) say('');
  return answer;
}

export class Session {
  #docs = new Set();
  #feeds = 0;
  #reachable = true;
  /* actors this page's token speaks for, and the others with when they were last seen */
  #me = new Set();
  #seen = new Map();
  /* idempotency keys of this origin's changes */
  #keys = new Set();

  /* Builds the page's Client and binds the header's indicators, found by id. */
  constructor() {
    const keys = this.#keys;
    /* the queue's store, noting the keys it holds: entries with them are ours */
    class Store extends IndexedDBStore {
      put(record) {
        keys.add(record.key);
        return super.put(record);
      }
      async all() {
        const records = await super.all();
        for (const r of records) keys.add(r.key);
        return records;
      }
    }
    this.client = new Client({
      base: API,
      token: token(),
      store: new Store(),
      fetch: (url, init) => this.#fetch(url, init),
    });
    this.connection = document.getElementById('connection');
    this.queue = document.getElementById('queue');
    this.presence = document.getElementById('presence');
    for (const type of ['online', 'offline']) addEventListener(type, () => this.render());
    setInterval(() => this.render(), 5000);
    this.render();
  }

  /* Opens a document, counts its queue in the header and seeds presence from its log. */
  async open(type, id) {
    const doc = await this.client.open(type, id);
    this.#docs.add(doc);
    doc.addEventListener('change', () => this.render());
    const rep = await api('GET', `/${type}/${id}`);
    /* only the owner is shown the grants */
    if (rep.access !== undefined) this.#learn(rep.owner);
    const recent = await api(
      'GET',
      `/${type}/${id}/actions?since=${Math.max(0, rep.version - 20)}`,
    );
    for (const e of recent.entries) this.#entry(e, Date.parse(e.applied_at));
    this.render();
    return { doc, rep };
  }

  /* Brings the header's three indicators up to date. */
  render() {
    const state = !navigator.onLine
      ? ['offline', 'offline']
      : this.#feeds > 0
        ? ['live', 'online · live']
        : this.#reachable
          ? ['connecting', 'online · feed connecting']
          : ['unreachable', 'server unreachable'];
    if (this.connection) {
      this.connection.dataset.state = state[0];
      this.connection.textContent = state[1];
    }
    const pending = [...this.#docs].reduce((n, d) => n + d.pending, 0);
    if (this.queue) {
      this.queue.dataset.pending = pending;
      this.queue.textContent =
        pending === 0 ? 'all saved' : `${pending} change${pending === 1 ? '' : 's'} waiting`;
    }
    const now = Date.now();
    const others = [...this.#seen]
      .filter(([actor, when]) => now - when < PRESENCE_MS && !this.#me.has(actor))
      .map(([actor]) => actor)
      .sort();
    if (this.presence) {
      this.presence.textContent = others.length ? `also editing: ${others.join(', ')}` : '';
      this.presence.hidden = others.length === 0;
    }
  }

  #learn(actor) {
    this.#me.add(actor);
    this.#seen.delete(actor);
  }

  #entry(entry, when) {
    if (this.#keys.has(entry.idempotency_key)) this.#learn(entry.actor);
    else if (!this.#me.has(entry.actor))
      this.#seen.set(entry.actor, Math.max(when, this.#seen.get(entry.actor) ?? 0));
  }

  /* The Client's fetch: notes whether the server answers, and reads along the feed. */
  async #fetch(url, init) {
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      if (e.name !== 'AbortError') this.#setReachable(false);
      throw e;
    }
    this.#setReachable(true);
    if (!res.ok || res.body === null || !new URL(url, location.href).pathname.endsWith('/events'))
      return res;
    const [theirs, ours] = res.body.tee();
    this.#feeds += 1;
    this.render();
    void this.#read(ours).finally(() => {
      this.#feeds -= 1;
      this.render();
    });
    return new Response(theirs, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  }

  async #read(stream) {
    const reader = stream.getReader();
    const parser = new EventStreamParser();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          if (event.type !== 'message') continue;
          this.#entry(JSON.parse(event.data), Date.now());
          this.render();
        }
      }
    } catch {
      /* the stream ended: the client reconnects, and this reads the new one */
    }
  }

  #setReachable(reachable) {
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    this.render();
  }
}

/*
 * The "changed elsewhere" banner: `show(text, {server, mine})` with the handlers of
 * its buttons: "Show the server's version", and "Keep mine" when given (then the
 * banner cannot be dismissed: it waits for one of the two).
 */
export class Banner {
  constructor(root) {
    this.root = root;
    this.text = el('span', { class: 'text' });
    this.serverButton = el('button', {
      type: 'button',
      class: 'show-server',
      text: "Show the server's version",
    });
    this.mineButton = el('button', { type: 'button', class: 'keep-mine', text: 'Keep mine' });
    this.details = el('div', { class: 'server-version', hidden: true });
    this.dismissButton = el('button', { type: 'button', class: 'dismiss', text: 'Dismiss' });
    root.append(this.text, this.serverButton, this.mineButton, this.dismissButton, this.details);
    this.serverButton.addEventListener('click', () => this.handlers.server?.());
    this.mineButton.addEventListener('click', () => this.handlers.mine?.());
    this.dismissButton.addEventListener('click', () => this.hide());
    this.handlers = {};
    this.hide();
  }

  show(text, handlers) {
    this.text.textContent = text;
    this.handlers = handlers;
    this.mineButton.hidden = handlers.mine === undefined;
    /* with "Keep mine" there is a choice to make: the banner stays until it is made */
    this.dismissButton.hidden = handlers.mine !== undefined;
    this.details.hidden = true;
    this.root.hidden = false;
  }

  /* Shows `nodes` under the message (what the server has). */
  detail(...nodes) {
    this.details.replaceChildren(...nodes);
    this.details.hidden = false;
  }

  hide() {
    this.root.hidden = true;
    this.handlers = {};
  }
}

/* Shows why a page cannot work (no token, the server refused). */
export function fail(message) {
  const p = document.getElementById('error');
  p.textContent = message;
  p.hidden = false;
}

/* The header's link to the start page, keeping the token. */
export function header() {
  document.querySelector('a.home')?.setAttribute('href', link('/'));
  if (token() === null) {
    fail('No token: open the address ./deploy/up printed, which ends in #token=...');
    return false;
  }
  return true;
}

/*
 * The owner's sharing form (only the owner is shown `access`): grants a role to
 * another actor, who then opens the same page with a token of their own.
 */
export function mountShare(root, type, id, rep) {
  if (rep.access === undefined) return;
  const grants = el('span', { class: 'grants' });
  const show = (access) => {
    const list = Object.entries(access).map(([actor, role]) => `${actor} (${role})`);
    grants.textContent = list.length ? `Shared with ${list.join(', ')}.` : 'Not shared.';
  };
  const actor = el('input', {
    name: 'actor',
    placeholder: 'actor, e.g. bob',
    'aria-label': 'actor',
  });
  const role = el('select', { name: 'role', 'aria-label': 'role' });
  role.append(
    el('option', { value: 'editor', text: 'editor' }),
    el('option', { value: 'reader', text: 'reader' }),
  );
  const form = el(
    'form',
    {},
    grants,
    ' Share with ',
    actor,
    ' as ',
    role,
    ' ',
    el('button', { type: 'submit', text: 'Share' }),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', `/${type}/${id}/share`, { data: { actor: actor.value, role: role.value } });
      show((await api('GET', `/${type}/${id}`)).access);
      actor.value = '';
    } catch (err) {
      grants.textContent = err.message;
    }
  });
  show(rep.access);
  root.replaceChildren(form);
  root.hidden = false;
}
