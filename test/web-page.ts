// What the browser tests and the browser benchmark run inside the page: only the public contract
// of dist/web/clip.bundle.js (load, preprocess, tokenize, model.encodeImage/encodeText/forward).
// Typed arrays cross the page boundary as base64 (playwright's evaluate speaks JSON).
import type { Page } from 'playwright-core';

export interface PageModelJob {
  url: string;
  /** load() options besides the runtime ones: bpeUrl, vocabUrl, config, ... */
  load?: Record<string, unknown>;
  /** Preprocessed images (float32, base64) and their shape, for encodeImage and forward. */
  images?: { data: string; shape: readonly number[] };
  /** Token ids (int32, base64) and their shape, for encodeText and forward. */
  tokens?: { data: string; shape: readonly number[] };
  /** Texts to tokenize, with truncate false and true. */
  texts?: string[];
  /** Image files (URLs) to preprocess. */
  files?: string[];
  /** Also encode the preprocessed files (those that decoded), as one batch. */
  encodeFiles?: boolean;
  /** Logits by model.forward (the towers run again) rather than from the features already computed. */
  forward?: boolean;
}

export interface PageModelResult {
  imageFeatures?: string;
  textFeatures?: string;
  logitsPerImage?: string;
  logitsPerText?: string;
  /** Per text: [ids | error with truncate false, ids | error with truncate true]. */
  tokenized?: [number[] | string, number[] | string][];
  /** Per file: the preprocessed float32 [3, R, R] as base64, or the error message. */
  pixels?: ({ data: string } | { error: string })[];
  /** Image features of the files that decoded, in order ([N, D] float32, base64). */
  fileFeatures?: string;
  /** Milliseconds spent per step in the page (load, image, text, logits, tokenize, files). */
  ms: Record<string, number>;
}

export interface PageRuntime {
  threads?: number;
  executionProviders?: string[];
}

/** Runs `jobs` in the page (one model at a time) with the bundle at `bundle`. */
export function runInPage(
  page: Page,
  bundle: string,
  runtime: PageRuntime,
  jobs: PageModelJob[],
): Promise<PageModelResult[]> {
  return page.evaluate(
    async ({ bundle, runtime, jobs }) => {
      const toBase64 = (a: ArrayBufferView) => {
        const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      };
      const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
      const clip = await import(bundle);
      const results: PageModelResult[] = [];
      for (const job of jobs) {
        const result: PageModelResult = { ms: {} };
        let started = performance.now();
        const lap = (step: string) => {
          const now = performance.now();
          result.ms[step] = Math.round(now - started);
          started = now;
        };
        const { model, preprocess, tokenize } = await clip.load(job.url, { ...runtime, ...job.load });
        lap('load');
        const images = job.images && { data: new Float32Array(fromBase64(job.images.data)), shape: job.images.shape };
        const tokens = job.tokens && { data: new Int32Array(fromBase64(job.tokens.data)), shape: job.tokens.shape };
        const imageFeatures = images && (await model.encodeImage(images));
        if (imageFeatures) result.imageFeatures = toBase64(imageFeatures.data);
        lap('image');
        const textFeatures = tokens && (await model.encodeText(tokens));
        if (textFeatures) result.textFeatures = toBase64(textFeatures.data);
        lap('text');
        if (images && tokens && imageFeatures && textFeatures) {
          // model.forward is encodeImage + encodeText + clipLogits: run through it once (job.forward),
          // elsewhere the logits come from the features just computed, without running the towers again.
          const logits = job.forward
            ? await model.forward(images, tokens)
            : clip.clipLogits(imageFeatures, textFeatures, model.logitScale);
          result.logitsPerImage = toBase64(logits.logitsPerImage.data);
          result.logitsPerText = toBase64(logits.logitsPerText.data);
        }
        lap('logits');
        const attempt = (truncate: boolean): number[] | string => {
          try {
            return Array.from(tokenize([text], { truncate }).data as Int32Array);
          } catch (e) {
            return String((e as Error).message);
          }
        };
        let text = '';
        if (job.texts)
          result.tokenized = job.texts.map((t) => {
            text = t;
            return [attempt(false), attempt(true)];
          });
        lap('tokenize');
        if (job.files) {
          result.pixels = [];
          const decoded: Float32Array[] = [];
          for (const file of job.files) {
            try {
              const blob = await (await fetch(file)).blob();
              const pixels = (await preprocess(blob)).data as Float32Array;
              decoded.push(pixels);
              result.pixels.push({ data: toBase64(pixels) });
            } catch (e) {
              result.pixels.push({ error: String((e as Error).message) });
            }
          }
          const [one] = decoded;
          if (job.encodeFiles && one) {
            const batch = new Float32Array(decoded.length * one.length);
            decoded.forEach((p, i) => batch.set(p, i * one.length));
            const side = Math.round(Math.sqrt(one.length / 3));
            const features = await model.encodeImage({ data: batch, shape: [decoded.length, 3, side, side] });
            result.fileFeatures = toBase64(features.data);
          }
        }
        lap('files');
        await model.release();
        results.push(result);
      }
      return results;
    },
    { bundle, runtime, jobs },
  );
}

export const f32 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
export const i32 = (a: Int32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
export function fromF32(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
