// A model by name → all of its files in the cache: what `clip.load(name)` downloads.
import { DownloadError } from '../errors.js';
import type { ConfigOverrides } from '../models/config.js';
import { download, type DownloadOptions } from './download.js';
import { resolveModel, type ModelSource, type RemoteFile } from './models.js';

export type ModelFiles =
  | { readonly kind: 'openai'; readonly weights: string; readonly bpe: string }
  | { readonly kind: 'huggingface'; readonly weights: string; readonly config: string; readonly vocab: string; readonly merges: string }
  | { readonly kind: 'chinese-clip'; readonly weights: string; readonly vocab: string; readonly overrides: ConfigOverrides };

/** Options apply to every file; `sha256`, `check` and `dest` come from the model registry. */
export type FetchOptions = Omit<DownloadOptions, 'sha256' | 'check' | 'dest'>;

/** Downloads (or finds in the cache) every file of `name` (see `resolveModel`) and returns their paths. */
export async function downloadModel(name: string, options: FetchOptions = {}): Promise<ModelFiles> {
  return downloadSource(resolveModel(name), options);
}

export async function downloadSource(source: ModelSource, options: FetchOptions = {}): Promise<ModelFiles> {
  const get = (file: RemoteFile) => download(file.url, { ...options, sha256: file.sha256, check: file.check, dest: file.dest });
  if (source.kind === 'openai') {
    return { kind: 'openai', weights: await get(source.weights), bpe: await get(source.bpe) };
  }
  if (source.kind === 'chinese-clip') {
    return { kind: 'chinese-clip', weights: await get(source.weights), vocab: await get(source.vocab), overrides: source.overrides };
  }
  return {
    kind: 'huggingface',
    config: await get(source.config),
    vocab: await get(source.vocab),
    merges: await get(source.merges),
    weights: await firstAvailable(source.weights, get),
  };
}

/** Repositories carry either safetensors or a torch file: take the first the server (or cache) has. */
async function firstAvailable(candidates: readonly RemoteFile[], get: (file: RemoteFile) => Promise<string>): Promise<string> {
  const failures: DownloadError[] = [];
  for (const file of candidates) {
    try {
      return await get(file);
    } catch (e) {
      const missing = e instanceof DownloadError && ((e.reason === 'http' && e.status === 404) || e.reason === 'offline');
      if (!missing) throw e;
      failures.push(e);
    }
  }
  const first = failures[0]!;
  throw new DownloadError(first.reason, first.url, first.file,
    `none of the weight files exists: ${failures.map((f) => f.message).join(' / ')}`, first.status);
}
