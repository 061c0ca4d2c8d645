// The demo page: photos dropped here are embedded by the worker (worker.ts) and kept in IndexedDB
// per model, with a thumbnail; a text query ranks them by cosine similarity; clicking a photo
// gives zero-shot label probabilities. Everything stays in the browser.
import { createStore, del, entries, set } from 'idb-keyval';
import type { FromWorker, ToWorker } from './protocol.js';

interface StoredPhoto {
  model: string;
  name: string;
  vector: Float32Array;
  thumbnail: Blob;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const store = createStore('clip-ts-demo', 'photos');
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map<string, (message: FromWorker) => void>();
let model: { name: string; logitScale: number } | undefined;
let nextId = 0;
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

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
  if (message.type === 'progress') {
    const { loaded, total, cached } = message.progress;
    $<HTMLProgressElement>('load-progress').value = total ? loaded / total : 0;
    $('load-status').textContent =
      `${mib(loaded)} MiB${total ? ` of ${mib(total)}` : ''}${cached ? ' (from the cache)' : ''}`;
  } else if (message.type === 'ready') {
    model = { name: message.model, logitScale: message.logitScale };
    $<HTMLProgressElement>('load-progress').value = 1;
    $('load-status').textContent = `ready: ${message.model} (${message.embedDim}-d)`;
    void showPhotos();
  } else if ('id' in message && message.id !== undefined && pending.has(message.id)) {
    pending.get(message.id)!(message);
    pending.delete(message.id);
  } else if (message.type === 'error') {
    $('load-status').textContent = `error: ${message.message}`;
  }
});

async function thumbnail(file: Blob): Promise<Blob> {
  const bitmap = await createImageBitmap(file);
  const scale = 240 / Math.max(bitmap.width, bitmap.height);
  const canvas = new OffscreenCanvas(
    Math.max(1, Math.round(bitmap.width * scale)),
    Math.max(1, Math.round(bitmap.height * scale)),
  );
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
}

async function photosOfModel(): Promise<StoredPhoto[]> {
  const all = await entries<string, StoredPhoto>(store);
  return all.map(([, photo]) => photo).filter((p) => p.model === model?.name);
}

async function embedAll(files: File[]): Promise<void> {
  if (!model) {
    $('embed-status').textContent = 'load a model first';
    return;
  }
  const images = files.filter((f) => f.type.startsWith('image/'));
  const bar = $<HTMLProgressElement>('embed-progress');
  let done = 0;
  const failed: string[] = [];
  for (const file of images) {
    const name = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    const reply = await request({ type: 'embed', id: String(nextId++), image: file });
    if (reply.type === 'embedded') {
      await set(
        `${model.name}|${name}`,
        { model: model.name, name, vector: reply.vector, thumbnail: await thumbnail(file) } satisfies StoredPhoto,
        store,
      );
    } else if (reply.type === 'error') {
      failed.push(`${name}: ${reply.message}`);
    }
    bar.value = ++done / images.length;
    $('embed-status').textContent =
      `${done} / ${images.length} embedded${failed.length ? `, ${failed.length} failed (${failed.at(-1)})` : ''}`;
  }
  await showPhotos();
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function render(photos: { photo: StoredPhoto; score?: number }[]): void {
  const grid = $('grid');
  grid.replaceChildren(
    ...photos.map(({ photo, score }) => {
      const figure = document.createElement('figure');
      const img = document.createElement('img');
      img.src = URL.createObjectURL(photo.thumbnail);
      img.alt = photo.name;
      const caption = document.createElement('figcaption');
      caption.textContent = score === undefined ? photo.name : `${score.toFixed(3)} ${photo.name}`;
      figure.append(img, caption);
      figure.addEventListener('click', () => void classify(photo));
      return figure;
    }),
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

async function search(): Promise<void> {
  const query = $<HTMLInputElement>('query').value.trim();
  if (!model || !query) return;
  const [q] = await textVectors([query]);
  const ranked = (await photosOfModel())
    .map((photo) => ({ photo, score: dot(photo.vector, q!) }))
    .sort((a, b) => b.score - a.score);
  render(ranked.slice(0, 48));
}

/** Zero-shot: softmax over exp(logit scale) · cosine with "a photo of {label}." prompts. */
async function classify(photo: StoredPhoto): Promise<void> {
  const labels = $<HTMLInputElement>('labels')
    .value.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!model || !labels.length) return;
  const vectors = await textVectors(labels.map((l) => `a photo of ${l}.`));
  const logits = vectors.map((v) => Math.exp(model!.logitScale) * dot(photo.vector, v));
  const top = Math.max(...logits);
  const weights = logits.map((l) => Math.exp(l - top));
  const total = weights.reduce((a, b) => a + b, 0);
  const items = labels.map((label, i) => ({ label, p: weights[i]! / total })).sort((a, b) => b.p - a.p);
  $('labels-out').replaceChildren(
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

$('load').addEventListener('click', () => {
  const file = $<HTMLInputElement>('model-file').files?.[0];
  const tokenizer = $<HTMLInputElement>('tokenizer-file').files?.[0];
  const isVocab = tokenizer?.name.endsWith('.txt') && !tokenizer.name.includes('bpe');
  $('load-status').textContent = 'loading…';
  send({
    type: 'load',
    model: file ?? $<HTMLInputElement>('model-url').value,
    ...(tokenizer ? (isVocab ? { vocab: tokenizer } : { bpe: tokenizer }) : {}),
    threads: crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency) : 1,
  });
});
$('photos').addEventListener('change', (e) => void embedAll([...((e.target as HTMLInputElement).files ?? [])]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  void droppedFiles(e.dataTransfer!.items).then(embedAll);
});
$('search').addEventListener('click', () => void search());
$('query').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') void search();
});
$('forget').addEventListener('click', async () => {
  for (const photo of await photosOfModel()) await del(`${photo.model}|${photo.name}`, store);
  await showPhotos();
});
