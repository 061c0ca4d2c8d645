// The search page: instant text search, a thumbnail grid with scores and infinite scroll, a viewer
// with "more like this", drag-and-drop image search, filters, dark/light. Talks only to /api.
import { byId, photoCard, scoreLabel, searchBox, themeToggle } from './components.js';
import './style.css';

interface Result {
  id: number;
  path: string;
  score: number;
  width: number | null;
  height: number | null;
  taken: string | null;
}

const PAGE = 40;
const grid = byId('grid');
const status = byId('status');
const input = byId<HTMLInputElement>('q');
const filters = byId<HTMLFormElement>('filters');

/** What is shown: the request for page `offset` of it, or undefined when there is nothing to page. */
let source: ((offset: number) => Promise<Result[]>) | undefined;
let offset = 0;
let exhausted = false;
let generation = 0;
let loading = false;

function filterParams(): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(filters)) if (typeof value === 'string' && value) params.set(key, value);
  return params;
}

async function getJson(url: string, init?: RequestInit): Promise<Result[]> {
  const response = await fetch(url, init);
  const body = (await response.json()) as { results?: Result[]; error?: string };
  if (!response.ok) throw new Error(body.error ?? response.statusText);
  return body.results ?? [];
}

function textSource(q: string) {
  return (from: number) => {
    const params = filterParams();
    params.set('q', q);
    params.set('k', String(PAGE));
    params.set('offset', String(from));
    return getJson(`/api/search?${params}`);
  };
}

function similarSource(id: number) {
  return (from: number) => {
    const params = filterParams();
    params.set('k', String(PAGE));
    params.set('offset', String(from));
    return getJson(`/api/similar/${id}?${params}`);
  };
}

function imageSource(file: File) {
  return (from: number) => {
    const params = filterParams();
    params.set('k', String(PAGE));
    params.set('offset', String(from));
    const body = new FormData();
    body.append('image', file);
    return getJson(`/api/search?${params}`, { method: 'POST', body });
  };
}

function show(next: typeof source, label: string) {
  source = next;
  offset = 0;
  exhausted = false;
  generation++;
  grid.replaceChildren();
  status.textContent = label;
  void loadMore();
}

async function loadMore() {
  if (!source || exhausted || loading) return;
  loading = true;
  const mine = generation;
  try {
    const results = await source(offset);
    if (mine !== generation) return;
    offset += results.length;
    exhausted = results.length < PAGE;
    for (const r of results) grid.append(card(r));
    if (!grid.children.length) status.textContent = 'no photos match';
  } catch (e) {
    if (mine === generation) status.textContent = `error: ${(e as Error).message}`;
  } finally {
    loading = false;
  }
  // A page that does not fill the window leaves the sentinel in view: the observer will not fire again.
  if (mine === generation && !exhausted && byId('more').getBoundingClientRect().top < innerHeight) void loadMore();
}

function card(r: Result): HTMLElement {
  const name = r.path.split('/').pop() ?? r.path;
  const div = photoCard({
    image: `/api/photos/${r.id}/thumbnail`,
    title: r.path,
    label: scoreLabel(name, r.score),
    onOpen: () => openViewer(r),
  });
  div.dataset.id = String(r.id);
  return div;
}

let viewing: Result | undefined;
function openViewer(r: Result) {
  viewing = r;
  byId<HTMLImageElement>('full').src = `/api/photos/${r.id}/image`;
  byId('caption').textContent =
    `${r.path}${r.taken ? ` · ${r.taken.slice(0, 10)}` : ''}${r.width ? ` · ${r.width}×${r.height}` : ''}`;
  byId('viewer').hidden = false;
}
byId('close').addEventListener('click', () => {
  byId('viewer').hidden = true;
});
byId('similar').addEventListener('click', () => {
  byId('viewer').hidden = true;
  if (viewing) show(similarSource(viewing.id), `more like ${viewing.path.split('/').pop()}`);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') byId('viewer').hidden = true;
});

const searchNow = searchBox(input, (q) => show(textSource(q), `“${q}”`), { typingDelayMs: 150 });
filters.addEventListener('change', () => {
  if (input.value.trim()) searchNow();
});

new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) void loadMore();
}).observe(byId('more'));

// Drag an image anywhere onto the page.
const drop = byId('drop');
let depth = 0;
document.addEventListener('dragenter', (e) => {
  e.preventDefault();
  depth++;
  drop.hidden = false;
});
document.addEventListener('dragleave', () => {
  if (--depth <= 0) {
    depth = 0;
    drop.hidden = true;
  }
});
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  depth = 0;
  drop.hidden = true;
  const file = e.dataTransfer?.files[0];
  if (file) show(imageSource(file), `photos like ${file.name}`);
});

themeToggle(byId('theme'));

void fetch('/api/status')
  .then((r) => r.json())
  .then((s: { count: number; model: string; indexing: { done: number; todo: number } | null }) => {
    const indexing = s.indexing ? ` · indexing ${s.indexing.done}/${s.indexing.todo}` : '';
    if (!source) status.textContent = `${s.count} photos · ${s.model.split('/').pop()}${indexing}`;
  });
