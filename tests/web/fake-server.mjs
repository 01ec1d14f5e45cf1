// fake-server.mjs: an in-process stand-in for actiond behind fetch(), for the client's
// unit tests. It keeps the server's rules that the client depends on (docs/api.md,
// docs/merge.md): versions and 409 stale-version, idempotent replay by key with a
// fingerprint of route and body, merging by touch sets, undo and redo, the log with
// touches, and the event stream. Documents change through web/engine.js, which the
// shared vectors hold to the C engine. Faults are injected per request.
import {
  Catalog,
  applyAction,
  applyPatch,
  overlaps,
  touchAction,
  touchPatch,
} from '../../web/engine.js';

const encoder = new TextEncoder();

function json(status, body, headers = {}) {
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': type, ...headers },
  });
}

function problem(status, slug, extra = {}) {
  return json(status, {
    type: `urn:actiond:problem:${slug}`,
    title: slug,
    status,
    detail: slug,
    ...extra,
  });
}

/* A promise with its resolve function, for gates a test opens. */
export function gate() {
  let open;
  const promise = new Promise((resolve) => (open = resolve));
  return { promise, open };
}

export class FakeServer {
  constructor(catalogJson, { token = 't' } = {}) {
    this.catalogJson = catalogJson;
    this.catalog = new Catalog(catalogJson);
    this.token = token;
    this.resources = new Map(); /* "type/id" -> resource */
    this.keys = new Map(); /* idempotency key -> {fingerprint, resource, status, body} */
    this.requests = []; /* every request: {method, path, body, headers} */
    this.faults = []; /* {match(req), before?, after?, respond?, hold?} used once each */
    this.streams = new Set();
    this.offline = false;
    this.postsInFlight = 0;
    this.maxPostsInFlight = 0; /* the client sends one change at a time */
    this.nextId = 1;
    this.fetch = (url, init) => this.handle(url, init);
  }

  /* A new resource of `type`; returns its id. */
  create(type, data) {
    const t = this.catalog.type(type);
    const id = this.nextId++;
    const doc = structuredClone(data ?? t.initial);
    const state = t.initialState;
    const entry = this.entry({
      version: 1,
      action: 'create',
      data: doc,
      forward: [{ op: 'replace', path: '', value: doc }],
      inverse: [],
      state,
      touches: [{ op: 'w', path: [] }],
    });
    this.resources.set(`${type}/${id}`, {
      type,
      id,
      version: 1,
      data: doc,
      state,
      log: [entry],
      undo: [],
      redo: [],
    });
    return id;
  }

  resource(type, id) {
    return this.resources.get(`${type}/${id}`);
  }

  /* Someone else's action, applied now (as a request by actor "other" would be). */
  act(type, id, envelope) {
    const r = this.resource(type, id);
    const out = applyAction(this.catalog, type, r.data, envelope, { state: r.state });
    if (out.error) throw new Error(JSON.stringify(out.error));
    out.touches = touchAction(this.catalog, type, envelope, out.result);
    return this.commit(r, envelope, out, null, 'other');
  }

  /* Injects a fault into the next request that `match` accepts: see handle(). */
  fault(match, what) {
    this.faults.push({ match, ...what });
  }

  /* Ends every open event stream, as a dropped connection would. */
  dropStreams() {
    for (const s of this.streams) s.controller.close();
    this.streams.clear();
  }

  /* Sends `entry` as an event on every stream of its resource. */
  publish(r, entry) {
    for (const s of this.streams) if (s.key === `${r.type}/${r.id}` && !s.paused) s.send(entry);
  }

  entry(fields) {
    return {
      version: 0,
      action: null,
      target: null,
      data: null,
      actor: 'alice',
      applied_at: new Date().toISOString(),
      idempotency_key: null,
      forward: [],
      inverse: [],
      state: null,
      reverts: null,
      touches: null,
      based_on: null,
      merged_over: null,
      ...fields,
    };
  }

  commit(r, envelope, out, key, actor = 'alice', extra = {}) {
    r.version += 1;
    r.data = out.document;
    if (out.state) r.state = out.state;
    const entry = this.entry({
      version: r.version,
      action: envelope.action,
      target: envelope.target ?? null,
      data: envelope.data ?? null,
      actor,
      idempotency_key: key,
      forward: out.forward,
      inverse: out.inverse,
      state: r.state,
      touches: out.touches,
      ...extra,
    });
    r.log.push(entry);
    this.publish(r, entry);
    return {
      success: true,
      version: r.version,
      applied_at: entry.applied_at,
      action: envelope.action,
      ...(out.result ?? {}),
      ...(r.state ? { state: r.state } : {}),
      ...extra,
      data: r.data,
    };
  }

  async handle(url, init = {}) {
    const u = new URL(url, 'http://fake');
    const headers = new Headers(init.headers);
    const req = {
      method: init.method ?? 'GET',
      path: u.pathname,
      query: u.searchParams,
      headers,
      body: init.body ? JSON.parse(init.body) : undefined,
    };
    this.requests.push(req);
    if (this.offline) throw new TypeError('fetch failed (offline)');
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    const i = this.faults.findIndex((f) => f.match(req));
    const fault = i < 0 ? null : this.faults.splice(i, 1)[0];
    if (fault?.before) throw new TypeError('fetch failed (before)');
    if (fault?.respond)
      return json(fault.respond.status, fault.respond.body, fault.respond.headers);
    const post = req.method === 'POST';
    this.postsInFlight += post;
    this.maxPostsInFlight = Math.max(this.maxPostsInFlight, this.postsInFlight);
    try {
      if (fault?.hold) await fault.hold;
      await new Promise((resolve) => setTimeout(resolve, 1)); /* let concurrent requests overlap */
      const res = this.route(req, init);
      if (fault?.delay) await fault.delay;
      if (fault?.after) throw new TypeError('fetch failed (after)');
      return res;
    } finally {
      this.postsInFlight -= post;
    }
  }

  route(req, init) {
    if (req.headers.get('Authorization') !== `Bearer ${this.token}`)
      return problem(401, 'unauthorized');
    const parts = req.path.replace(/^\/api\//, '').split('/');
    if (req.method === 'GET' && parts[0] === 'catalog') return json(200, this.catalogJson);
    const r = this.resource(parts[0], parts[1]);
    if (r === undefined) return problem(404, 'not-found');
    const tail = parts[2];
    if (req.method === 'GET' && tail === undefined)
      return json(200, {
        id: r.id,
        type: r.type,
        version: r.version,
        ...(r.state ? { state: r.state } : {}),
        data: r.data,
      });
    if (req.method === 'GET' && tail === 'actions') return this.log(r, req);
    if (req.method === 'GET' && tail === 'events') return this.events(r, req, init);
    if (req.method === 'POST' && ['actions', 'undo', 'redo'].includes(tail))
      return this.change(r, tail, req);
    return problem(405, 'method-not-allowed');
  }

  log(r, req) {
    const since = Number(req.query.get('since') ?? 0);
    const limit = Number(req.query.get('limit') ?? 100);
    return json(200, {
      resource: { href: `/api/${r.type}/${r.id}` },
      current_version: r.version,
      _links: {},
      entries: r.log.filter((e) => e.version > since).slice(0, limit),
    });
  }

  events(r, req, init) {
    const last = req.headers.get('Last-Event-ID');
    const since = last !== null ? Number(last) : Number(req.query.get('since') ?? 0);
    const sub = { key: `${r.type}/${r.id}`, paused: false };
    const stream = new ReadableStream({
      start: (controller) => {
        sub.controller = controller;
        sub.send = (e) =>
          controller.enqueue(encoder.encode(`id: ${e.version}\ndata: ${JSON.stringify(e)}\n\n`));
        controller.enqueue(encoder.encode(': connected\n\n'));
        for (const e of r.log) if (e.version > since) sub.send(e);
      },
      cancel: () => this.streams.delete(sub),
    });
    init.signal?.addEventListener('abort', () => {
      this.streams.delete(sub);
      sub.controller.error(new DOMException('aborted', 'AbortError'));
    });
    this.streams.add(sub);
    return new Response(stream, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  }

  /* POST actions, undo or redo, in the server's order: replay, preconditions, apply. */
  change(r, route, req) {
    const body = req.body ?? {};
    const key = body.id ?? req.headers.get('Idempotency-Key');
    const { id, ...rest } = body;
    const fingerprint = `${route} ${JSON.stringify(rest)}`;
    const seen = key ? this.keys.get(key) : undefined;
    if (seen !== undefined) {
      if (seen.fingerprint !== fingerprint || seen.resource !== r)
        return problem(422, 'idempotency-key-reused');
      return json(seen.status, seen.body, { 'Idempotent-Replayed': 'true' });
    }
    const res = route === 'actions' ? this.action(r, body, key) : this.history(r, route, body, key);
    if (res.ok && key)
      this.keys.set(key, { fingerprint, resource: r, status: 200, body: res.body });
    return res.ok ? json(200, res.body) : res.problem;
  }

  stale(r, base) {
    return problem(409, 'stale-version', {
      current_version: r.version,
      links: { missed_actions: { href: `/api/${r.type}/${r.id}/actions?since=${base}` } },
    });
  }

  action(r, body, key) {
    const { expected_version, on_conflict, id, ...envelope } = body;
    const decl = this.catalog.type(r.type).byName.get(body.action);
    const base = body.expected_version;
    const merging = body.on_conflict === 'merge' || decl?.alwaysMerges;
    if (base !== undefined && base !== r.version && !(merging && base < r.version))
      return { problem: this.stale(r, base) };
    const out = applyAction(this.catalog, r.type, r.data, envelope, { state: r.state });
    if (out.error)
      return {
        problem: problem(
          out.error.status,
          out.error.slug,
          out.error.pointer === undefined ? {} : { pointer: out.error.pointer },
        ),
      };
    out.touches = touchAction(this.catalog, r.type, envelope, out.result);
    let extra = {};
    if (base !== undefined && base < r.version) {
      const missed = r.log.filter((e) => e.version > base);
      const conflicting = missed
        .filter((e) => overlaps(out.touches, e.touches))
        .map((e) => e.version);
      if (conflicting.length > 0)
        return {
          problem: problem(409, 'merge-conflict', {
            current_version: r.version,
            conflicting_versions: conflicting,
          }),
        };
      extra = { based_on: base, merged_over: missed.map((e) => e.version) };
    }
    const answer = this.commit(r, envelope, out, key, 'alice', extra);
    r.undo.push(r.version);
    r.redo = [];
    return { ok: true, body: answer };
  }

  /* Undo reverts the entry on top of the undo stack; redo the one on top of the redo stack. */
  history(r, route, body, key) {
    if (body.expected_version !== r.version)
      return { problem: this.stale(r, body.expected_version) };
    const stack = route === 'undo' ? r.undo : r.redo;
    if (stack.length === 0)
      return { problem: problem(409, `nothing-to-${route}`, { current_version: r.version }) };
    const target = r.log[stack.at(-1) - 1];
    const patch = route === 'undo' ? target.inverse : target.forward;
    const out = applyPatch(r.data, patch);
    if (out.error)
      return { problem: problem(409, 'undo-conflict', { current_version: r.version }) };
    stack.pop();
    const answer = this.commit(
      r,
      { action: route },
      { ...out, touches: touchPatch(patch, r.data) },
      key,
      'alice',
      { reverts: target.version },
    );
    (route === 'undo' ? r.redo : r.undo).push(target.version);
    return { ok: true, body: answer };
  }
}
