/*
 * failure.js: how the engine reports that something cannot apply. Inside the engine a
 * Failure is thrown, which unwinds a half-applied change (the working copy is simply
 * dropped); the public functions catch it and return its `error`, shaped like the
 * server's problem details: {status, slug, detail, pointer?, ...extra}. `pointer` is
 * absent when the problem is in the document rather than in the request, as on the
 * server.
 */

/* The default slug of a status, as the server's error table gives it; the engine's
 * 404s and 409s always name their own. */
const DEFAULT_SLUG = {
  400: 'bad-request',
  422: 'unprocessable',
};

export class Failure extends Error {
  /*
   * `pointer` undefined: none. `slug` undefined: the status's default. `extra` members
   * (allowed_actions) are added to the error.
   */
  constructor(status, slug, pointer, detail, extra) {
    super(detail);
    this.error = { status, slug: slug ?? DEFAULT_SLUG[status], detail };
    if (pointer !== undefined) this.error.pointer = pointer;
    Object.assign(this.error, extra);
  }
}

/* Runs `fn`; a Failure becomes {error}, anything else (a bug) propagates. */
export function catching(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Failure) return { error: e.error };
    throw e;
  }
}
