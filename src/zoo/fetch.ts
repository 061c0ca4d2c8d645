// A model by name → all of its files in the cache: what `clip.load(name)` downloads.
import { at } from '../checked.js';
import { DownloadError } from '../errors.js';
import type { ConfigOverrides } from '../models/config.js';
import { download, type DownloadOptions } from './download.js';
import { resolveModel, type ModelSource, type RemoteFile } from './models.js';

export type ModelFiles =
  | { readonly kind: 'openai'; readonly weights: string; readonly bpe: string }
  | {
      readonly kind: 'huggingface';
      readonly weights: string;
      readonly config: string;
      readonly tokenizer: { readonly vocab: string; readonly merges: string } | { readonly bpe: string };
    }
  | {
      readonly kind: 'chinese-clip';
      readonly weights: string;
      readonly vocab: string;
      readonly overrides: ConfigOverrides;
    };

/** Options apply to every file; `sha256`, `check` and `dest` come from the model registry. */
export type FetchOptions = Omit<DownloadOptions, 'sha256' | 'check' | 'dest'>;

/** Downloads (or finds in the cache) every file of `name` (see `resolveModel`) and returns their paths. */
export async function downloadModel(name: string, options: FetchOptions = {}): Promise<ModelFiles> {
  return downloadSource(resolveModel(name), options);
}

export async function downloadSource(source: ModelSource, options: FetchOptions = {}): Promise<ModelFiles> {
  const get = (file: RemoteFile) =>
    download(file.url, { ...options, sha256: file.sha256, check: file.check, dest: file.dest });
  if (source.kind === 'openai') {
    return { kind: 'openai', weights: await get(source.weights), bpe: await get(source.bpe) };
  }
  if (source.kind === 'chinese-clip') {
    return {
      kind: 'chinese-clip',
      weights: await get(source.weights),
      vocab: await get(source.vocab),
      overrides: source.overrides,
    };
  }
  // A transformers CLIPModel repository, else an open_clip one; their own tokenizer files, else CLIP's BPE.
  const config = await get(source.config).catch((e: unknown) => {
    if (!isMissing(e)) throw e;
    return undefined;
  });
  const variant = config
    ? { config, weights: source.weights }
    : { config: await get(source.openClip.config), weights: source.openClip.weights };
  const weights = await firstAvailable(variant.weights, get);
  let tokenizer: { vocab: string; merges: string } | { bpe: string };
  try {
    tokenizer = { vocab: await get(source.vocab), merges: await get(source.merges) };
  } catch (e) {
    if (!isMissing(e)) throw e;
    tokenizer = { bpe: await get(source.bpe) };
  }
  return { kind: 'huggingface', config: variant.config, weights, tokenizer };
}

/** A 404, or a file not in the cache in offline mode: try the next alternative. */
function isMissing(e: unknown): e is DownloadError {
  return e instanceof DownloadError && ((e.reason === 'http' && e.status === 404) || e.reason === 'offline');
}

/** Repositories carry either safetensors or a torch file: take the first the server (or cache) has. */
async function firstAvailable(
  candidates: readonly RemoteFile[],
  get: (file: RemoteFile) => Promise<string>,
): Promise<string> {
  const failures: DownloadError[] = [];
  for (const file of candidates) {
    try {
      return await get(file);
    } catch (e) {
      if (!isMissing(e)) throw e;
      failures.push(e);
    }
  }
  const first = at(failures, 0);
  throw new DownloadError(
    first.reason,
    first.url,
    first.file,
    `none of the weight files exists: ${failures.map((f) => f.message).join(' / ')}`,
    first.status,
  );
}
