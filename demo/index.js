/*
 * index.js: the start page: the clips and articles the token's actor may read, and
 * buttons that create a new one and open it.
 */
import { api, el, fail, header, link } from '/demo/session.js';

const PAGES = { clips: '/demo/clip.html', articles: '/demo/article.html' };

function label(type, r) {
  const what =
    type === 'articles'
      ? r.data.title || 'untitled'
      : `${r.data.crop_keyframes.length} keyframes, ${r.data.regions.length} regions`;
  return `#${r.id} · ${what} · version ${r.version} · ${r.owner}`;
}

async function list(type) {
  const ul = document.getElementById(type);
  const page = await api('GET', `/${type}?limit=100`);
  ul.replaceChildren(
    ...page.items.map((r) =>
      el('li', {}, el('a', { href: link(PAGES[type], { id: r.id }), text: label(type, r) })),
    ),
  );
}

async function create(type) {
  const r = await api('POST', `/${type}`);
  location.href = link(PAGES[type], { id: r.id });
}

async function main() {
  if (!header()) return;
  document
    .getElementById('new-clip')
    .addEventListener('click', () => create('clips').catch((e) => fail(e.message)));
  document
    .getElementById('new-article')
    .addEventListener('click', () => create('articles').catch((e) => fail(e.message)));
  try {
    await Promise.all([list('clips'), list('articles')]);
  } catch (e) {
    fail(`Cannot list: ${e.message}`);
  }
}

main();
