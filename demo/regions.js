/*
 * regions.js: the highlight regions of a clip, the clip editor's other component. Like
 * keyframes.js it knows only its Doc and its own part of the document (/regions), and
 * edits it with its own actions: create_region, update_region and delete_region. A new
 * region shows a local id until the server answers with its own; the client rewrites
 * queued changes to it meanwhile.
 */
import { el, reconcile, send, setValue } from '/demo/session.js';

const EFFECTS = ['highlight', 'blur', 'slow_motion', 'zoom'];

function timeInput(name, value, label) {
  return el('input', { type: 'number', name, value, step: '0.1', min: 0, 'aria-label': label });
}

function effectSelect(value, label) {
  const select = el('select', { name: 'effect_type', 'aria-label': label });
  for (const e of EFFECTS) select.append(el('option', { value: e, text: e.replace('_', ' ') }));
  select.value = value ?? EFFECTS[0];
  return select;
}

export function mountRegions(root, doc) {
  const message = el('p', { class: 'message' });
  const say = (text) => (message.textContent = text);
  const rows = el('tbody');

  const form = el(
    'form',
    { class: 'add' },
    timeInput('start_time', 0, 'new region start'),
    timeInput('end_time', 2, 'new region end'),
    effectSelect('highlight', 'new region effect'),
    el('button', { type: 'submit', text: 'Add region' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = {
      start_time: Number(form.elements.start_time.value),
      end_time: Number(form.elements.end_time.value),
      effect_type: form.elements.effect_type.value,
    };
    send(doc, { action: 'create_region', data }, say);
  });

  function make(r) {
    const row = el('tr', {});
    const update = (member, value) =>
      send(
        doc,
        {
          action: 'update_region',
          target: { region_id: row.dataset.region },
          data: { [member]: value },
        },
        say,
      );
    for (const name of ['start_time', 'end_time']) {
      const input = timeInput(name, r[name], name.replace('_', ' '));
      input.addEventListener('change', () => update(name, Number(input.value)));
      row.append(el('td', {}, input));
    }
    const effect = effectSelect(r.effect_type, 'effect');
    effect.addEventListener('change', () => update('effect_type', effect.value));
    const remove = el('button', { type: 'button', class: 'delete', text: 'Delete' });
    remove.addEventListener('click', () =>
      send(doc, { action: 'delete_region', target: { region_id: row.dataset.region } }, say),
    );
    row.append(el('td', {}, effect), el('td', { class: 'id' }), el('td', {}, remove));
    return row;
  }

  function fill(row, r) {
    row.dataset.region = r.region_id;
    for (const input of row.querySelectorAll('input, select')) setValue(input, r[input.name]);
    row.querySelector('.id').textContent = String(r.region_id).slice(0, 8);
  }

  function render() {
    const list = doc.data.regions ?? [];
    reconcile(rows, list, (r) => r.region_id, make, fill);
    root.querySelector('.empty').hidden = list.length > 0;
  }

  const head = el(
    'tr',
    {},
    ...['start (s)', 'end (s)', 'effect', 'id', ''].map((h) => el('th', { text: h })),
  );
  root.append(
    el('h2', { text: 'Highlight regions' }),
    el('table', {}, el('thead', {}, head), rows),
    el('p', { class: 'empty', text: 'No regions yet.' }),
    form,
    message,
  );
  doc.addEventListener('change', render);
  render();
}
