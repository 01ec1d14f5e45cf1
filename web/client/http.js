/*
 * http.js: the client's one way to the server: requests with the bearer token, JSON
 * in and out, and the error every refused action carries. A network failure (fetch
 * throwing, or a body cut short) is thrown as it comes; an HTTP error is an answer.
 */

/*
 * Why an action did not apply. `status` is the HTTP status (or the one the server
 * would have given, for an action refused locally); `problem` the problem details
 * (RFC 9457) with `type`, `title`, `status`, `detail`, `pointer`... `queued` is true
 * when the client was closed first: the action stays queued for a later client.
 */
export class ActionError extends Error {
  constructor(message, status, problem, queued = false) {
    super(message);
    this.name = 'ActionError';
    this.status = status;
    this.problem = problem;
    this.queued = queued;
  }
}

/* The problem slug of a problem's `type` ("urn:actiond:problem:stale-version"). */
export function slugOf(problem) {
  return String(problem?.type ?? '')
    .split(':')
    .pop();
}

/* The titles of the statuses the engine answers with, as the server writes them. */
const TITLES = {
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Unprocessable Content',
};

/* An engine error ({status, slug, detail, pointer?...}) as the server's problem details. */
export function problemOf({ slug, ...rest }) {
  return { type: `urn:actiond:problem:${slug}`, title: TITLES[rest.status], ...rest };
}

export class Http {
  /*
   * `base` is the API's mount ("/api"); `token()` gives the current bearer token;
   * `fetch` is the function to call; `signal` aborts every request at close.
   */
  constructor({ base, token, fetch, signal }) {
    this.base = base.replace(/\/$/, '');
    this.token = token;
    this.fetch = fetch;
    this.signal = signal;
  }

  headers(extra) {
    const h = { Accept: 'application/json', ...extra };
    const token = this.token();
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  /* The response itself, for a stream that `signal` ends: `path` is below the base. */
  open(path, headers, signal) {
    return this.fetch(this.base + path, { headers: this.headers(headers), signal });
  }

  /*
   * Sends a request and reads the whole answer: {status, ok, body, retryAfter}, where
   * `body` is the parsed JSON (null when there is none) and `retryAfter` the seconds
   * of a Retry-After header, or 0.
   */
  async request(method, path, body) {
    const init = { method, headers: this.headers(), signal: this.signal };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await this.fetch(this.base + path, init);
    const text = await res.text();
    let parsed = null;
    if (/json/.test(res.headers.get('Content-Type') ?? '') && text !== '')
      parsed = JSON.parse(text);
    return {
      status: res.status,
      ok: res.ok,
      body: parsed,
      retryAfter: Number(res.headers.get('Retry-After')) || 0,
    };
  }

  /* GET that must succeed: the parsed body, or an ActionError with the server's problem. */
  async get(path) {
    const res = await this.request('GET', path);
    if (!res.ok) {
      throw new ActionError(
        `GET ${path}: ${res.status}`,
        res.status,
        res.body ?? { status: res.status },
      );
    }
    return res.body;
  }

  /*
   * Every log entry after version `since`, oldest first, page by page
   * (GET {type}/{id}/actions?since=&limit=, docs/api.md).
   */
  async entries(type, id, since) {
    const limit = 1000;
    const all = [];
    for (let after = since; ;) {
      const page = await this.get(`/${type}/${id}/actions?since=${after}&limit=${limit}`);
      all.push(...page.entries);
      if (page.entries.length < limit) return all;
      after = page.entries.at(-1).version;
    }
  }
}
