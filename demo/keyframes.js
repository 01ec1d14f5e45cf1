/*
 * keyframes.js: the crop keyframes of a clip, one component of the clip editor. It
 * knows only the Doc it is given and its own part of the document
 * (/crop_keyframes), and edits it with its own actions: add_crop_keyframe,
 * update_crop_keyframe, move_crop_keyframe and delete_crop_keyframe.
 */
import { el, reconcile, send, setValue } from '/demo/session.js';

const FIELDS = ['x', 'y', 'width', 'height'];

function numberInput(name, value, label) {
  return el('input', { type: 'number', name, value, 'aria-label': label, step: 'any' });
}

export function mountKeyframes(root, doc) {
  const message = el('p', { class: 'message' });
  const say = (text) => (message.textContent = text);
  const rows = el('tbody');

  const form = el(
    'form',
    { class: 'add' },
    numberInput('frame', 0, 'new keyframe frame'),
    ...FIELDS.map((f) =>
      numberInput(f, f === 'width' ? 640 : f === 'height' ? 360 : 0, `new keyframe ${f}`),
    ),
    el('button', { type: 'submit', text: 'Add keyframe' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = { frame: Math.trunc(Number(form.elements.frame.value)) };
    for (const f of FIELDS) data[f] = Number(form.elements[f].value);
    send(doc, { action: 'add_crop_keyframe', data }, say);
    form.elements.frame.value = data.frame + 30;
  });

  function make(k) {
    const row = el('tr', { 'data-frame': k.frame });
    const frame = numberInput('frame', k.frame, 'frame');
    frame.addEventListener('change', () =>
      send(
        doc,
        {
          action: 'move_crop_keyframe',
          target: { frame: Number(row.dataset.frame) },
          data: { new_frame: Math.trunc(Number(frame.value)) },
        },
        say,
      ),
    );
    row.append(el('td', {}, frame));
    for (const f of FIELDS) {
      const input = numberInput(f, k[f], f);
      input.addEventListener('change', () =>
        send(
          doc,
          {
            action: 'update_crop_keyframe',
            target: { frame: Number(row.dataset.frame) },
            data: { [f]: Number(input.value) },
          },
          say,
        ),
      );
      row.append(el('td', {}, input));
    }
    const remove = el('button', { type: 'button', class: 'delete', text: 'Delete' });
    remove.addEventListener('click', () =>
      send(
        doc,
        { action: 'delete_crop_keyframe', target: { frame: Number(row.dataset.frame) } },
        say,
      ),
    );
    row.append(el('td', {}, remove));
    return row;
  }

  function fill(row, k) {
    row.dataset.frame = k.frame;
    for (const input of row.querySelectorAll('input')) setValue(input, k[input.name]);
  }

  function render() {
    const list = doc.data.crop_keyframes ?? [];
    reconcile(rows, list, (k) => k.frame, make, fill);
    root.querySelector('.empty').hidden = list.length > 0;
    const last = list.at(-1);
    if (last !== undefined && document.activeElement !== form.elements.frame)
      form.elements.frame.value = Math.max(Number(form.elements.frame.value), last.frame + 30);
  }

  const head = el(
    'tr',
    {},
    ...['frame', 'x', 'y', 'width', 'height', ''].map((h) => el('th', { text: h })),
  );
  root.append(
    el('h2', { text: 'Crop keyframes' }),
    el('table', {}, el('thead', {}, head), rows),
    el('p', { class: 'empty', text: 'No keyframes yet.' }),
    form,
    message,
  );
  doc.addEventListener('change', render);
  render();
}
