// Queries: a text, an image, or a weighted mix of both as rclip writes them:
//   "a dog" + 0.5*beach.jpg - "blurry"
// The mix syntax is used only when the query holds a double quote; otherwise the whole query is
// one text (so captions with dashes or plus signs stay captions). In a mix, a bare term that names
// an existing file is an image, any other bare term a text.
import { existsSync } from 'node:fs';
import { at } from '../checked.js';
import { InputError } from '../errors.js';
import type { ImageInput, LoadedClip } from '../index.js';
import { unitVector } from './store.js';

/** An image is a path (from the command line) or encoded bytes (an upload). */
export type QueryTerm = { weight: number; text: string } | { weight: number; image: ImageInput };

const TERM = /^\s*(?:(\d+(?:\.\d+)?|\.\d+)\s*\*\s*)?(?:"([^"]*)"|([^"]+?))\s*$/;

/** Splits at + and - that start a word outside quotes, keeping each sign with the term after it. */
function splitTerms(query: string): { sign: number; body: string }[] {
  const parts: { sign: number; body: string }[] = [];
  let sign = 1;
  let body = '';
  let quoted = false;
  let previous = ' '; // the query starts a word
  for (const ch of query) {
    const operator = !quoted && (ch === '+' || ch === '-') && /\s/.test(previous);
    previous = ch;
    if (ch === '"') quoted = !quoted;
    if (!operator) {
      body += ch;
      continue;
    }
    if (body.trim()) parts.push({ sign, body });
    else if (parts.length) throw new InputError(`query: two operators in a row in ${JSON.stringify(query)}`);
    sign = ch === '-' ? -1 : 1;
    body = '';
  }
  if (quoted) throw new InputError(`query: unclosed " in ${JSON.stringify(query)}`);
  if (body.trim()) parts.push({ sign, body });
  return parts;
}

export function parseQuery(query: string, isImage: (term: string) => boolean = existsSync): QueryTerm[] {
  if (!query.includes('"')) {
    if (!query.trim()) throw new InputError('query: empty');
    return [{ weight: 1, text: query }];
  }
  const terms = splitTerms(query).map(({ sign, body }) => {
    const m = TERM.exec(body);
    if (!m)
      throw new InputError(
        `query: cannot read the term ${JSON.stringify(body.trim())} (expected "text", image.jpg or 0.5*"text")`,
      );
    const weight = sign * (m[1] === undefined ? 1 : Number(m[1]));
    if (m[2] !== undefined) return { weight, text: m[2] };
    const bare = (m[3] ?? '').trim();
    return isImage(bare) ? { weight, image: bare } : { weight, text: bare };
  });
  if (!terms.length) throw new InputError('query: empty');
  return terms;
}

/** The query's unit vector: Σ weight · unit(feature of term), normalised. */
export async function queryVector(clip: LoadedClip, terms: readonly QueryTerm[]): Promise<Float32Array> {
  const texts = terms.filter((t): t is { weight: number; text: string } => 'text' in t);
  const images = terms.filter((t): t is { weight: number; image: ImageInput } => 'image' in t);
  const rows: { weight: number; feature: Float32Array }[] = [];
  if (texts.length) {
    const f = await clip.model.encodeText(
      clip.tokenize(
        texts.map((t) => t.text),
        { truncate: true },
      ),
    );
    const d = at(f.shape, 1);
    texts.forEach((t, i) => rows.push({ weight: t.weight, feature: f.data.subarray(i * d, (i + 1) * d) }));
  }
  for (const t of images) {
    const pixels = await clip.preprocess(t.image);
    const f = await clip.model.encodeImage({ data: pixels.data, shape: [1, ...pixels.shape] });
    rows.push({ weight: t.weight, feature: f.data });
  }
  const [only] = rows;
  if (!only) throw new InputError('query: no terms');
  if (rows.length === 1 && only.weight > 0) return unitVector(only.feature);
  const mix = new Float64Array(only.feature.length);
  for (const { weight, feature } of rows)
    unitVector(feature).forEach((x, i) => {
      mix[i] = (mix[i] ?? 0) + weight * x;
    });
  return unitVector(Float32Array.from(mix));
}
