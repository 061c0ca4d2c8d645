// The demo page: photos dropped here are embedded by the worker (worker.ts) and kept in IndexedDB
// per model, with a thumbnail; a text query ranks them by cosine similarity; clicking a photo
// gives zero-shot label probabilities. Everything stays in the browser. The grid, search box,
// theme and progress bars are the search page's (src/server/ui/components.ts).
import { createStore, del, entries, set } from 'idb-keyval';
import { byId, photoCard, scoreLabel, searchBox, showProgress, themeToggle } from '../../server/ui/components.js';
import type { FromWorker, ToWorker } from './protocol.js';

interface StoredPhoto {
  model: string;
  name: string;
  vector: Float32Array;
  thumbnail: Blob;
}

const store = createStore('clip-ts-demo', 'photos');
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map<string, (message: FromWorker) => void>();
let model: { name: string; logitScale: number } | undefined;
let nextId = 0;
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const loadBar = byId<HTMLProgressElement>('load-progress');
const loadStatus = byId('load-status');

function send(message: ToWorker): void {
  worker.postMessage(message);
}

/** Sends a request and waits for the reply with the same id. */
function request(message: ToWorker & { id: string }): Promise<FromWorker> {
  return new Promise((resolve) => {
    pending.set(message.id, resolve);
    send(message);
  });
}

worker.addEventListener('message', (event: MessageEvent<FromWorker>) => {
  const message = event.data;
  const waiting = 'id' in message && message.id !== undefined ? pending.get(message.id) : undefined;
  if (message.type === 'progress') {
    const { loaded, total, cached } = message.progress;
    const size = `${mib(loaded)} MiB${total ? ` of ${mib(total)}` : ''}`;
    showProgress(loadBar, loadStatus, total ? loaded / total : 0, `${size}${cached ? ' (from the cache)' : ''}`);
  } else if (message.type === 'ready') {
    model = { name: message.model, logitScale: message.logitScale };
    showProgress(loadBar, loadStatus, 1, `ready: ${message.model} (${message.embedDim}-d)`);
    void showPhotos();
  } else if (waiting && 'id' in message && message.id !== undefined) {
    pending.delete(message.id);
    waiting(message);
  } else if (message.type === 'error') {
    loadStatus.textContent = `error: ${message.message}`;
  }
});

async function thumbnail(file: Blob): Promise<Blob> {
  const bitmap = await createImageBitmap(file);
  const scale = 240 / Math.max(bitmap.width, bitmap.height);
  const canvas = new OffscreenCanvas(
    Math.max(1, Math.round(bitmap.width * scale)),
    Math.max(1, Math.round(bitmap.height * scale)),
  );
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2d canvas for thumbnails');
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
}

async function photosOfModel(): Promise<StoredPhoto[]> {
  const all = await entries<string, StoredPhoto>(store);
  return all.map(([, photo]) => photo).filter((p) => p.model === model?.name);
}

async function embedAll(files: File[]): Promise<void> {
  const embedStatus = byId('embed-status');
  if (!model) {
    embedStatus.textContent = 'load a model first';
    return;
  }
  const images = files.filter((f) => f.type.startsWith('image/'));
  const bar = byId<HTMLProgressElement>('embed-progress');
  let done = 0;
  const failed: string[] = [];
  for (const file of images) {
    const name = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    const reply = await request({ type: 'embed', id: String(nextId++), image: file });
    if (reply.type === 'embedded') {
      const photo: StoredPhoto = { model: model.name, name, vector: reply.vector, thumbnail: await thumbnail(file) };
      await set(`${model.name}|${name}`, photo, store);
    } else if (reply.type === 'error') {
      failed.push(`${name}: ${reply.message}`);
    }
    done++;
    const failures = failed.length ? `, ${failed.length} failed (${failed.at(-1)})` : '';
    showProgress(bar, embedStatus, done / images.length, `${done} / ${images.length} embedded${failures}`);
  }
  await showPhotos();
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  a.forEach((v, i) => {
    s += v * (b[i] ?? 0);
  });
  return s;
}

function render(photos: { photo: StoredPhoto; score?: number }[]): void {
  byId('grid').replaceChildren(
    ...photos.map(({ photo, score }) =>
      photoCard({
        image: URL.createObjectURL(photo.thumbnail),
        title: photo.name,
        label: scoreLabel(photo.name, score),
        onOpen: () => void classify(photo),
      }),
    ),
  );
}

async function showPhotos(): Promise<void> {
  render((await photosOfModel()).map((photo) => ({ photo })));
}

async function textVectors(texts: string[]): Promise<Float32Array[]> {
  const reply = await request({ type: 'texts', id: String(nextId++), texts });
  if (reply.type !== 'texts') throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply');
  return reply.vectors;
}

async function search(query: string): Promise<void> {
  if (!model) return;
  const [q] = await textVectors([query]);
  if (!q) return;
  const ranked = (await photosOfModel())
    .map((photo) => ({ photo, score: dot(photo.vector, q) }))
    .sort((a, b) => b.score - a.score);
  render(ranked.slice(0, 48));
}

/** Zero-shot: softmax over exp(logit scale) · cosine with "a photo of {label}." prompts. */
async function classify(photo: StoredPhoto): Promise<void> {
  const labels = byId<HTMLInputElement>('labels')
    .value.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!model || !labels.length) return;
  const scale = Math.exp(model.logitScale);
  const vectors = await textVectors(labels.map((l) => `a photo of ${l}.`));
  const logits = vectors.map((v) => scale * dot(photo.vector, v));
  const top = Math.max(...logits);
  const weights = logits.map((l) => Math.exp(l - top));
  const total = weights.reduce((a, b) => a + b, 0);
  const items = labels.map((label, i) => ({ label, p: (weights[i] ?? 0) / total })).sort((a, b) => b.p - a.p);
  byId('labels-out').replaceChildren(
    ...items.map(({ label, p }) => {
      const li = document.createElement('li');
      li.textContent = `${(100 * p).toFixed(1)}% ${label} — ${photo.name}`;
      return li;
    }),
  );
}

/** Files of a drop, folders walked recursively (webkitGetAsEntry). */
async function droppedFiles(items: DataTransferItemList): Promise<File[]> {
  const files: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) files.push(await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail)));
    else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of [...items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null))
    await walk(entry);
  return files;
}

byId('load').addEventListener('click', () => {
  const file = byId<HTMLInputElement>('model-file').files?.[0];
  const tokenizer = byId<HTMLInputElement>('tokenizer-file').files?.[0];
  const isVocab = tokenizer?.name.endsWith('.txt') && !tokenizer.name.includes('bpe');
  loadStatus.textContent = 'loading…';
  send({
    type: 'load',
    model: file ?? byId<HTMLInputElement>('model-url').value,
    ...(tokenizer ? (isVocab ? { vocab: tokenizer } : { bpe: tokenizer }) : {}),
    threads: crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency) : 1,
  });
});
byId('photos').addEventListener('change', (e) => void embedAll([...((e.target as HTMLInputElement).files ?? [])]));
const drop = byId('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer) void droppedFiles(e.dataTransfer.items).then(embedAll);
});
const searchNow = searchBox(byId<HTMLInputElement>('query'), (q) => void search(q));
byId('search').addEventListener('click', searchNow);
byId('forget').addEventListener('click', async () => {
  for (const photo of await photosOfModel()) await del(`${photo.model}|${photo.name}`, store);
  await showPhotos();
});
themeToggle(byId('theme'));
