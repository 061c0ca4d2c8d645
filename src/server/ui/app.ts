// The search page: instant text search, a thumbnail grid with scores and infinite scroll, a viewer
// with "more like this", drag-and-drop image search, filters, dark/light. Talks only to /api.
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
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const grid = $('grid');
const status = $('status');
const input = $<HTMLInputElement>('q');
const filters = $<HTMLFormElement>('filters');

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
  if (mine === generation && !exhausted && $('more').getBoundingClientRect().top < innerHeight) void loadMore();
}

function card(r: Result): HTMLElement {
  const div = document.createElement('div');
  div.className = 'hit';
  div.dataset.id = String(r.id);
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.src = `/api/photos/${r.id}/thumbnail`;
  img.alt = r.path;
  const label = document.createElement('span');
  label.textContent = `${r.score.toFixed(3)} · ${r.path.split('/').pop()}`;
  label.title = r.path;
  div.append(img, label);
  div.addEventListener('click', () => openViewer(r));
  return div;
}

let viewing: Result | undefined;
function openViewer(r: Result) {
  viewing = r;
  $<HTMLImageElement>('full').src = `/api/photos/${r.id}/image`;
  $('caption').textContent =
    `${r.path}${r.taken ? ` · ${r.taken.slice(0, 10)}` : ''}${r.width ? ` · ${r.width}×${r.height}` : ''}`;
  $('viewer').hidden = false;
}
$('close').addEventListener('click', () => {
  $('viewer').hidden = true;
});
$('similar').addEventListener('click', () => {
  $('viewer').hidden = true;
  if (viewing) show(similarSource(viewing.id), `more like ${viewing.path.split('/').pop()}`);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') $('viewer').hidden = true;
});

let typing: ReturnType<typeof setTimeout> | undefined;
function searchNow() {
  const q = input.value.trim();
  if (q) show(textSource(q), `“${q}”`);
}
input.addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(searchNow, 150);
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    clearTimeout(typing);
    searchNow();
  }
});
filters.addEventListener('change', () => {
  if (input.value.trim()) searchNow();
});

new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) void loadMore();
}).observe($('more'));

// Drag an image anywhere onto the page.
const drop = $('drop');
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

// Dark / light: the system's choice until the button is used, then remembered.
const root = document.documentElement;
const saved = localStorage.getItem('theme');
root.classList.toggle('dark', saved ? saved === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches);
$('theme').addEventListener('click', () => {
  localStorage.setItem('theme', root.classList.toggle('dark') ? 'dark' : 'light');
});

void fetch('/api/status')
  .then((r) => r.json())
  .then((s: { count: number; model: string; indexing: { done: number; todo: number } | null }) => {
    if (!source)
      status.textContent = `${s.count} photos · ${s.model.split('/').pop()}${s.indexing ? ` · indexing ${s.indexing.done}/${s.indexing.todo}` : ''}`;
  });
