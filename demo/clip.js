/*
 * clip.js: the clip editor. One Client and one Doc for the page; two components that
 * know nothing of each other edit the same clip through it (keyframes.js, regions.js),
 * each with its own actions, while the timeline only draws. A change the server drops
 * because someone else changed the same thing meanwhile raises the banner.
 */
import { mountKeyframes } from '/demo/keyframes.js';
import { mountRegions } from '/demo/regions.js';
import { Banner, Session, api, el, fail, header, mountShare } from '/demo/session.js';

/* the frame rate the timeline assumes for keyframes */
const FPS = 30;

function drawTimeline(root, data) {
  const keyframes = data.crop_keyframes ?? [];
  const regions = data.regions ?? [];
  const end = Math.max(
    10,
    ...keyframes.map((k) => k.frame / FPS + 1),
    ...regions.map((r) => r.end_time),
  );
  const at = (seconds) => `${(100 * Math.max(0, seconds)) / end}%`;
  const marks = [];
  for (const r of regions) {
    const band = el('div', { class: `band ${r.effect_type ?? ''}`, title: `${r.effect_type}` });
    band.style.left = at(r.start_time);
    band.style.width = at(r.end_time - r.start_time);
    marks.push(band);
  }
  for (const k of keyframes) {
    const tick = el('div', { class: 'tick', title: `frame ${k.frame}` });
    tick.style.left = at(k.frame / FPS);
    marks.push(tick);
  }
  const scale = el('div', { class: 'scale', text: `0 s … ${Math.round(end)} s` });
  root.replaceChildren(...marks, scale);
}

/* What a dropped action was about, in words. */
function describe({ action, target }) {
  if (target?.frame !== undefined) return `${action} on frame ${target.frame}`;
  if (target?.region_id !== undefined)
    return `${action} on region ${String(target.region_id).slice(0, 8)}`;
  return action;
}

/* What the server has now where a dropped action wanted to change something. */
function serverPart(data, { target, data: values }) {
  const frame = target?.frame ?? values?.frame;
  if (frame !== undefined) {
    const k = (data.crop_keyframes ?? []).find((x) => x.frame === frame);
    return k ? `keyframe ${JSON.stringify(k)}` : `no keyframe at frame ${frame}`;
  }
  if (target?.region_id !== undefined) {
    const r = (data.regions ?? []).find((x) => x.region_id === target.region_id);
    return r ? `region ${JSON.stringify(r)}` : 'the region was deleted';
  }
  return JSON.stringify(data);
}

async function main() {
  if (!header()) return;
  const id = new URLSearchParams(location.search).get('id');
  const session = new Session();
  let doc;
  let rep;
  try {
    ({ doc, rep } = await session.open('clips', id));
  } catch (e) {
    fail(`Cannot open clip ${id}: ${e.message}`);
    return;
  }
  document.getElementById('name').textContent = `#${id}`;
  document.title = `Clip ${id} · actiond demo`;
  const timeline = document.getElementById('timeline');
  doc.addEventListener('change', () => drawTimeline(timeline, doc.data));
  drawTimeline(timeline, doc.data);
  mountKeyframes(document.getElementById('keyframes'), doc);
  mountRegions(document.getElementById('regions'), doc);
  mountShare(document.getElementById('share'), 'clips', id, rep);

  const banner = new Banner(document.getElementById('banner'));
  doc.addEventListener('conflict', (e) => {
    const { action, conflicting_versions: versions = [] } = e.detail;
    banner.show(
      `Changed elsewhere: your ${describe(action)} was not applied; the clip shows the server's version.`,
      {
        server: async () => {
          const lines = [
            el('p', { text: `Server (version ${doc.version}): ${serverPart(doc.data, action)}` }),
          ];
          if (versions.length > 0) {
            const log = await api(
              'GET',
              `/clips/${id}/actions?since=${versions[0] - 1}&limit=${versions.at(-1) - versions[0] + 1}`,
            );
            for (const entry of log.entries.filter((x) => versions.includes(x.version)))
              lines.push(
                el('p', { text: `version ${entry.version}: ${entry.action} by ${entry.actor}` }),
              );
          }
          banner.detail(...lines);
        },
      },
    );
  });
}

main();
