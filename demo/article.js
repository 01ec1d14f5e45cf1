/*
 * article.js: the writing tool. Title and body save themselves: typing pauses for
 * AUTOSAVE_MS, and the field's text goes out as set_title or set_body.
 *
 * Each field remembers the text it last took from the document or gave to it (its
 * base). When the document's text moves away from that base:
 *   - nothing typed since: the field shows the new text (someone else's change);
 *   - typed but not yet saved, or the change saved from here was refused (a stale tab
 *     autosaving over newer work): the field keeps what was typed, stops saving, and
 *     the banner says the article changed elsewhere, with the server's version one
 *     click away and "Keep mine" to save this text over it deliberately.
 */
import { Banner, Session, fail, header, mountShare, send } from '/demo/session.js';

const AUTOSAVE_MS = 600;

class Field {
  /* `onConflict()` raises the banner; `onSave()` follows each save. */
  constructor(doc, input, member, action, { onConflict, onSave }) {
    Object.assign(this, { doc, input, member, action, onConflict, onSave });
    this.base = doc.data[member];
    this.timer = null;
    this.held = false; /* in conflict: nothing is saved until the person chooses */
    input.value = this.base;
    input.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.save(), AUTOSAVE_MS);
    });
    input.addEventListener('blur', () => this.timer !== null && this.save());
  }

  get typing() {
    return this.timer !== null;
  }

  save() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.held) return;
    const text = this.input.value;
    this.base = text;
    if (text !== this.doc.data[this.member])
      send(this.doc, { action: this.action, data: { [this.member]: text } });
    this.onSave();
  }

  /* The document changed (`source` as the Doc's change event says). */
  changed(source) {
    const text = this.doc.data[this.member];
    if (text === this.base || this.held) return;
    if (source === 'rollback' || this.input.value !== this.base) {
      clearTimeout(this.timer);
      this.timer = null;
      this.held = true;
      this.onConflict();
      return;
    }
    this.input.value = text;
    this.base = text;
  }

  /* Shows the server's text, dropping what was typed. */
  takeServer() {
    this.held = false;
    this.base = this.doc.data[this.member];
    this.input.value = this.base;
  }

  /* Saves the typed text over the server's, on purpose. */
  keepMine() {
    this.held = false;
    this.save();
  }
}

async function main() {
  if (!header()) return;
  const id = new URLSearchParams(location.search).get('id');
  const session = new Session();
  let doc;
  let rep;
  try {
    ({ doc, rep } = await session.open('articles', id));
  } catch (e) {
    fail(`Cannot open article ${id}: ${e.message}`);
    return;
  }
  document.getElementById('name').textContent = `#${id}`;
  document.title = `Article ${id} · actiond demo`;
  mountShare(document.getElementById('share'), 'articles', id, rep);

  const banner = new Banner(document.getElementById('banner'));
  const saved = document.getElementById('saved');
  const conflict = () => {
    banner.show(
      'Changed elsewhere: this article was edited in another tab or by someone else. Your text was not saved.',
      {
        server: () => {
          fields.filter((f) => f.held).forEach((f) => f.takeServer());
          banner.hide();
          status();
        },
        mine: () => {
          fields.filter((f) => f.held).forEach((f) => f.keepMine());
          banner.hide();
          status();
        },
      },
    );
    status();
  };
  const hooks = { onConflict: conflict, onSave: () => status() };
  const fields = [
    new Field(doc, document.getElementById('title'), 'title', 'set_title', hooks),
    new Field(doc, document.getElementById('body'), 'body', 'set_body', hooks),
  ];
  function status() {
    saved.textContent = fields.some((f) => f.held)
      ? 'not saved: changed elsewhere'
      : fields.some((f) => f.typing)
        ? 'editing…'
        : doc.pending > 0
          ? 'saving…'
          : `saved · version ${doc.version}`;
  }
  for (const f of fields) {
    f.input.disabled = false;
    f.input.addEventListener('input', status);
  }
  doc.addEventListener('change', (e) => {
    for (const f of fields) f.changed(e.detail.source);
    status();
  });
  doc.addEventListener('conflict', conflict);
  status();
}

main();
