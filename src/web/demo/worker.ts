// The demo's embedding worker: loads the model once, then embeds images and texts on request, so
// the page stays responsive. It imports the same clip.bundle.js a page would.
import type * as ClipWeb from '../index.js';
import type { FromWorker, ToWorker } from './protocol.js';

// A runtime URL (not bundled again): the worker shares dist/web/clip.bundle.js and its ort/ files.
// Not a top-level await: Chromium drops messages that reach a module worker while its top-level
// await is pending (no listener yet), so the page's first "load" was lost whenever importing the
// 1 MB bundle took longer than the user (or a test) took to click Load. The listener below is
// attached at once, and each message waits for the import instead.
const clipModule = import(new URL('../clip.bundle.js', import.meta.url).href) as Promise<typeof ClipWeb>;

let loaded: ClipWeb.WebClip | undefined;
const post = (message: FromWorker) => postMessage(message);

async function handle(message: ToWorker): Promise<void> {
  const clip = await clipModule;
  const unitRow = (v: Float32Array) => clip.normalizeRows({ data: v, shape: [1, v.length] }).data as Float32Array;
  if (message.type === 'load') {
    const source = async (s: string | File | undefined) =>
      s === undefined || typeof s === 'string' ? { url: s } : { bytes: new Uint8Array(await s.arrayBuffer()) };
    const bpe = await source(message.bpe);
    const vocab = await source(message.vocab);
    loaded = await clip.load(message.model, {
      threads: message.threads,
      bpeUrl: bpe.url,
      bpeBytes: bpe.bytes,
      vocabUrl: vocab.url,
      vocabBytes: vocab.bytes,
      onProgress: (progress) => post({ type: 'progress', progress }),
    });
    const name = typeof message.model === 'string' ? message.model : message.model.name;
    post({ type: 'ready', model: name, embedDim: loaded.model.config.embedDim, logitScale: loaded.model.logitScale });
    return;
  }
  if (!loaded) throw new Error('load a model first');
  if (message.type === 'embed') {
    const pixels = await loaded.preprocess(message.image);
    const features = await loaded.model.encodeImage({ data: pixels.data, shape: [1, ...pixels.shape] });
    post({ type: 'embedded', id: message.id, vector: unitRow(features.data as Float32Array) });
  } else {
    const features = await loaded.model.encodeText(loaded.tokenize(message.texts, { truncate: true }));
    const d = features.data.length / message.texts.length;
    const vectors = message.texts.map((_, i) => unitRow((features.data as Float32Array).slice(i * d, (i + 1) * d)));
    post({ type: 'texts', id: message.id, vectors });
  }
}

// One message at a time, in order (the model runs one encode at a time anyway).
let queue = Promise.resolve();
addEventListener('message', (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  queue = queue
    .then(() => handle(message))
    .catch((e: Error) => {
      post({ type: 'error', id: 'id' in message ? message.id : undefined, message: e.message });
    });
});
