/*
 * feed.js: a document's live feed, GET {base}/{type}/{id}/events, read as
 * text/event-stream over fetch() (EventSource cannot send the Authorization header).
 * Each event's id is a log entry's version and its data the entry as
 * GET .../actions shows it. On any end or error the feed reconnects, with backoff,
 * from the version the document has reached.
 */

/*
 * The text/event-stream format (WHATWG HTML, "Server-sent events", section
 * "Interpreting an event stream"), fed in chunks of any size: push() returns the
 * events the chunk completed, each {type, data, id}. `retry` holds the last
 * reconnection time the stream asked for, in milliseconds, or null.
 */
export class EventStreamParser {
  constructor() {
    this.buffer = '';
    this.started = false;
    this.skipLF = false; /* the last chunk ended in CR: a LF starting the next ends the same line */
    this.data = [];
    this.type = '';
    this.lastId = '';
    this.retry = null;
  }

  push(text) {
    if (text === '') return [];
    if (!this.started) {
      this.started = true;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    if (this.skipLF && text.startsWith('\n')) text = text.slice(1);
    this.skipLF = false;
    const buffer = this.buffer + text;
    const events = [];
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer[i];
      if (c !== '\r' && c !== '\n') continue;
      const line = buffer.slice(start, i);
      if (c === '\r' && i + 1 === buffer.length) this.skipLF = true;
      else if (c === '\r' && buffer[i + 1] === '\n') i++;
      start = i + 1;
      const event = this.line(line);
      if (event !== null) events.push(event);
    }
    this.buffer = buffer.slice(start);
    return events;
  }

  /* Processes one line; returns the event a blank line completes, or null. */
  line(line) {
    if (line === '') {
      const event =
        this.data.length > 0
          ? { type: this.type || 'message', data: this.data.join('\n'), id: this.lastId }
          : null;
      this.data = [];
      this.type = '';
      return event;
    }
    if (line.startsWith(':')) return null; /* a comment, such as a keep-alive */
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) this.retry = Number(value);
    return null;
  }
}

export class Feed {
  /*
   * `http` opens the stream; `path` is "/{type}/{id}/events"; `since()` gives the
   * version to resume after; `receive(entry)` takes each entry (and may return a
   * promise: entries are handed over one at a time, in order); `wait(attempt, ms)`
   * sleeps before a reconnection.
   */
  constructor({ http, path, since, receive, wait }) {
    Object.assign(this, { http, path, since, receive, wait });
    this.stopped = false;
    this.controller = null;
  }

  async start() {
    let attempt = 0;
    let retry = null;
    let lastId = '';
    while (!this.stopped) {
      this.controller = new AbortController();
      const parser = new EventStreamParser();
      parser.lastId = lastId; /* the last event id outlives a connection */
      try {
        const headers = { Accept: 'text/event-stream' };
        if (lastId !== '') headers['Last-Event-ID'] = lastId;
        const res = await this.http.open(
          `${this.path}?since=${this.since()}`,
          headers,
          this.controller.signal,
        );
        /* 204 is the server's way to say "do not reconnect"; a deleted resource has no feed */
        if (res.status === 204 || res.status === 410) return;
        if (res.ok) {
          attempt = 0;
          await this.read(res.body.getReader(), parser);
        }
      } catch {
        /* a dropped connection, or an entry that would not apply: reconnect below */
      }
      lastId = parser.lastId;
      retry = parser.retry ?? retry;
      if (!this.stopped) await this.wait(attempt++, retry);
    }
  }

  async read(reader, parser) {
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const event of parser.push(decoder.decode(value, { stream: true }))) {
        if (event.type === 'message') await this.receive(JSON.parse(event.data));
      }
    }
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }
}
