// `load()` for the browser: the checkpoint (any format Node reads) and its tokenizer files come
// by URL (streamed with progress, cached with their sha256) or as bytes; the model is the same
// ClipModel as in Node with its towers run by onnxruntime-web; preprocess and tokenize are the
// Node code, with WebAssembly codecs for decoding.
import { gunzipSync } from 'fflate';
import { InputError } from '../errors.js';
import { decodeWithCodecs } from '../image/codecs.js';
import { transformPixels, type ResizeMode } from '../image/transform.js';
import { DEFAULT_MAX_PIXELS, fromRaw } from '../image/raw.js';
import { quantizeWeightMatmuls } from '../graph/quantize.js';
import { ClipModel, type Precision } from '../inference/clip-model.js';
import { inferConfigFromStateDict, type ConfigOverrides } from '../models/config.js';
import { configOverridesFromJson } from '../models/config-file.js';
import { openWebSession, type WebRuntimeOptions } from '../runtime/web.js';
import type { Tensor } from '../tensor.js';
import { Tokenizer } from '../text/tokenizer.js';
import { mergesText, vocabFromHuggingFace } from '../text/vocab.js';
import { WordPieceTokenizer, type TextTokenizer } from '../text/wordpiece.js';
import { toCanonical } from '../weights/keymap/index.js';
import { readStateDict } from '../weights/read.js';
import { openTorchZipBytes } from '../weights/zip-bytes.js';
import { wasmCodecs } from './codecs.js';
import { fetchBytes, type Progress } from './fetch.js';

/** A URL (absolute, or relative to the page), or the file's bytes (e.g. a File from a file input). */
export type FileSource = string | URL | ArrayBuffer | Uint8Array | Blob;

export interface WebLoadOptions extends WebRuntimeOptions {
  /**
   * CLIP's BPE merges file (bpe_simple_vocab_16e6.txt.gz, gzip'd or plain). Default: beside the
   * model URL, or a Hugging Face vocab.json + merges.txt there.
   */
  bpeUrl?: string;
  bpeBytes?: ArrayBuffer | Uint8Array;
  /** Chinese-CLIP's vocab.txt; default: beside the model URL. */
  vocabUrl?: string;
  vocabBytes?: ArrayBuffer | Uint8Array;
  /**
   * A model config (Chinese-CLIP's JSON schema or Hugging Face config.json) for what shapes
   * cannot tell: an object, or a URL. Default: `<stem>.config.json` beside the model, if there.
   */
  config?: Record<string, unknown> | string;
  /** 'fp32' (default, exact) or 'int8' (faster, approximate). */
  precision?: Precision;
  /** Download progress of each file. */
  onProgress?: (progress: Progress) => void;
  /** Cache API cache for downloads (default 'clip-ts'), or false. */
  cache?: string | false;
  /** Expected sha256 (hex) of the checkpoint download. */
  sha256?: string;
}

/** An image for preprocess: an encoded file (JPEG, PNG, GIF, WebP) or decoded RGBA pixels. */
export type WebImage = Blob | ArrayBuffer | Uint8Array | ImageData;

export interface WebClip {
  model: ClipModel;
  /** The model's image transform: image → float32 [3, R, R], bit-exact with the reference. */
  preprocess: (image: WebImage) => Promise<Tensor>;
  /** The model's tokenizer: texts → int32 [N, contextLength]. */
  tokenize: (texts: string | readonly string[], options?: { truncate?: boolean }) => Tensor<Int32Array>;
  tokenizer: TextTokenizer;
}

const DEFAULT_BPE_FILE = 'bpe_simple_vocab_16e6.txt.gz';

function absolute(url: string | URL): string {
  return new URL(url, globalThis.location?.href).href;
}

async function bytesOf(
  source: FileSource,
  options: WebLoadOptions,
  sha256?: string,
): Promise<{ bytes: Uint8Array; url?: string }> {
  if (source instanceof Uint8Array) return { bytes: source };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source) };
  if (typeof source !== 'string' && !(source instanceof URL))
    return { bytes: new Uint8Array(await source.arrayBuffer()) };
  const url = absolute(source);
  return { bytes: await fetchBytes(url, { onProgress: options.onProgress, cache: options.cache, sha256 }), url };
}

/** A small optional file: its bytes, or undefined when the server has none (404). */
async function optionalFile(url: string): Promise<Uint8Array | undefined> {
  const response = await fetch(url).catch(() => undefined);
  return response?.ok ? new Uint8Array(await response.arrayBuffer()) : undefined;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * The config overrides: the given config (object or URL), else the first config file beside the
 * model, as Node looks for them: `<stem>.config.json`, then `config.json` (`open_clip_config.json`
 * for open_clip_* files).
 */
async function configOverrides(options: WebLoadOptions, modelUrl?: string): Promise<ConfigOverrides> {
  const { config } = options;
  if (config !== undefined && typeof config !== 'string') return configOverridesFromJson(config, 'config');
  const parse = (bytes: Uint8Array, url: string) =>
    configOverridesFromJson(JSON.parse(text(bytes)) as Record<string, unknown>, url);
  if (config) return parse((await bytesOf(config, options)).bytes, config);
  if (!modelUrl) return {};
  const file = new URL(modelUrl).pathname.split('/').pop() ?? '';
  const candidates = [
    modelUrl.replace(/\.(pt|pth|bin|safetensors)$/, '') + '.config.json',
    new URL(file.startsWith('open_clip_') ? 'open_clip_config.json' : 'config.json', modelUrl).href,
  ];
  for (const url of candidates) {
    const bytes = await optionalFile(url);
    if (bytes) return parse(bytes, url);
  }
  return {};
}

/** A Hugging Face CLIPTokenizer's vocab.json and merges.txt beside the model, if both are there. */
async function huggingFaceTokenizer(modelUrl: string): Promise<Tokenizer | undefined> {
  const [vocab, merges] = await Promise.all(
    ['vocab.json', 'merges.txt'].map((f) => optionalFile(new URL(f, modelUrl).href)),
  );
  return vocab && merges ? new Tokenizer(vocabFromHuggingFace(text(vocab), text(merges), 'vocab.json')) : undefined;
}

/** The tokenizer file: given bytes, else a given URL, else the default name beside the model. */
async function tokenizerFile(
  bytes: ArrayBuffer | Uint8Array | undefined,
  url: string | undefined,
  fallback: string,
  options: WebLoadOptions,
  modelUrl?: string,
): Promise<Uint8Array> {
  if (bytes) return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const where = url ?? (modelUrl ? new URL(fallback, modelUrl).href : undefined);
  if (!where)
    throw new InputError(`the model was given as bytes: pass the tokenizer file too (${fallback}, as a URL or bytes)`);
  return (await bytesOf(where, options)).bytes;
}

/** Tokenizers by file URL: building CLIP's BPE tables takes about a second, so models on one page share them. */
const tokenizers = new Map<string, Promise<TextTokenizer>>();

function loadTokenizer(
  kind: 'transformer' | 'bert',
  options: WebLoadOptions,
  modelUrl?: string,
): Promise<TextTokenizer> {
  const bytes = kind === 'bert' ? options.vocabBytes : options.bpeBytes;
  const given = kind === 'bert' ? options.vocabUrl : options.bpeUrl;
  const fallback = kind === 'bert' ? 'vocab.txt' : DEFAULT_BPE_FILE;
  const build = async () => {
    // Like Node: a Hugging Face tokenizer beside the model wins unless a merges file is given.
    const beside = kind === 'transformer' && !bytes && !given && modelUrl;
    const huggingFace = beside ? await huggingFaceTokenizer(modelUrl) : undefined;
    if (huggingFace) return huggingFace;
    const file = await tokenizerFile(bytes, given, fallback, options, modelUrl);
    return kind === 'bert'
      ? WordPieceTokenizer.fromVocabBytes(file, given ?? fallback)
      : Tokenizer.fromMergesText(mergesText(file, gunzipSync));
  };
  const url = bytes ? undefined : given ? absolute(given) : modelUrl && new URL(fallback, modelUrl).href;
  if (!url) return build();
  let tokenizer = tokenizers.get(url);
  if (!tokenizer) {
    tokenizer = build();
    tokenizers.set(url, tokenizer);
    tokenizer.catch(() => tokenizers.delete(url));
  }
  return tokenizer;
}

async function imageBytes(image: WebImage): Promise<Uint8Array> {
  if (image instanceof Uint8Array) return image;
  if (image instanceof ArrayBuffer) return new Uint8Array(image);
  return new Uint8Array(await (image as Blob).arrayBuffer());
}

function isImageData(image: WebImage): image is ImageData {
  return typeof ImageData !== 'undefined' && image instanceof ImageData;
}

/** clip.load for the browser → the model, its preprocess and its tokenizer. */
export async function load(model: FileSource, options: WebLoadOptions = {}): Promise<WebClip> {
  const { bytes, url } = await bytesOf(model, options, options.sha256);
  const [stateDict, overrides] = await Promise.all([
    readStateDict(bytes, openTorchZipBytes).then(toCanonical),
    configOverrides(options, url),
  ]);
  const config = inferConfigFromStateDict(stateDict, overrides);
  const runtime: WebRuntimeOptions = {
    executionProviders: options.executionProviders,
    threads: options.threads,
    wasmPaths: options.wasmPaths ?? {
      mjs: new URL('./ort/ort-wasm-simd-threaded.jsep.js', import.meta.url).href,
      wasm: new URL('./ort/ort-wasm-simd-threaded.jsep.wasm', import.meta.url).href,
    },
  };
  const int8 = options.precision === 'int8';
  const clip = new ClipModel(
    stateDict,
    async (_tower, build) => {
      const graph = await build();
      if (int8) quantizeWeightMatmuls(graph);
      return openWebSession(graph, runtime);
    },
    config,
  );
  const tokenizer = await loadTokenizer(config.text.kind, options, url);
  const size = config.vision.imageResolution;
  const resizeMode: ResizeMode = config.text.kind === 'bert' ? 'square' : 'shortest-side-crop';
  const { contextLength } = config.text;
  return {
    model: clip,
    async preprocess(image) {
      const pixels = isImageData(image)
        ? fromRaw(
            { width: image.width, height: image.height, channels: 4, data: image.data },
            '<ImageData>',
            DEFAULT_MAX_PIXELS,
          )
        : await decodeWithCodecs(
            await imageBytes(image),
            wasmCodecs,
            image instanceof Blob ? ((image as File).name ?? '<blob>') : '<bytes>',
            DEFAULT_MAX_PIXELS,
          );
      return transformPixels(pixels, { size, resizeMode });
    },
    tokenize: (texts, opts = {}) => tokenizer.tokenize(texts, { ...opts, contextLength }),
    tokenizer,
  };
}
