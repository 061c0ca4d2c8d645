// Downloads for the browser entry: streamed from fetch with progress, kept in the Cache API with
// their sha256, so a second visit loads offline and a damaged cached copy is fetched again.
import { DownloadError } from '../errors.js';

export interface Progress {
  url: string;
  loaded: number;
  /** From Content-Length; undefined when the server does not say. */
  total?: number;
  /** True when the bytes came from the cache. */
  cached: boolean;
}

export interface FetchBytesOptions {
  onProgress?: (progress: Progress) => void;
  /** Cache API cache name, or false for none. Default 'clip-ts'. */
  cache?: string | false;
  /** Expected sha256 (hex) of the file; a mismatch is a DownloadError. */
  sha256?: string;
}

const DIGEST_HEADER = 'x-clip-ts-sha256';

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The response body, read chunk by chunk into one buffer, reporting progress. */
async function readBody(
  response: Response,
  url: string,
  onProgress?: FetchBytesOptions['onProgress'],
): Promise<Uint8Array<ArrayBuffer>> {
  const length = Number(response.headers.get('content-length'));
  const total = Number.isSafeInteger(length) && length > 0 ? length : undefined;
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(await response.arrayBuffer());
  let buffer = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > buffer.length) {
      const grown = new Uint8Array(Math.max(buffer.length * 2, loaded + value.length));
      grown.set(buffer.subarray(0, loaded));
      buffer = grown;
    }
    buffer.set(value, loaded);
    loaded += value.length;
    onProgress?.({ url, loaded, total, cached: false });
  }
  return loaded === buffer.length ? buffer : buffer.slice(0, loaded);
}

async function openCache(name: string | false | undefined): Promise<Cache | undefined> {
  if (name === false || typeof caches === 'undefined') return undefined;
  try {
    return await caches.open(name ?? 'clip-ts');
  } catch {
    return undefined; // e.g. an insecure context or a private window: work without the cache
  }
}

/** The bytes at `url`: from the cache when its stored digest still matches, else downloaded and cached. */
export async function fetchBytes(url: string, options: FetchBytesOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
  const cache = await openCache(options.cache);
  const hit = await cache?.match(url);
  if (cache && hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    const digest = await sha256Hex(bytes);
    if (digest === hit.headers.get(DIGEST_HEADER) && (!options.sha256 || digest === options.sha256.toLowerCase())) {
      options.onProgress?.({ url, loaded: bytes.length, total: bytes.length, cached: true });
      return bytes;
    }
    await cache.delete(url);
  }
  let response: Response;
  try {
    // With our own cached copy, the browser's HTTP cache would only hold the same bytes twice.
    response = await fetch(url, cache ? { cache: 'no-store' } : {});
  } catch (e) {
    throw new DownloadError('network', url, url, `${url}: cannot fetch (${(e as Error).message})`);
  }
  if (!response.ok)
    throw new DownloadError(
      'http',
      url,
      url,
      `${url}: HTTP ${response.status} ${response.statusText}`,
      response.status,
    );
  const bytes = await readBody(response, url, options.onProgress);
  const digest = await sha256Hex(bytes);
  if (options.sha256 && digest !== options.sha256.toLowerCase()) {
    throw new DownloadError('checksum', url, url, `${url}: sha256 is ${digest}, expected ${options.sha256}`);
  }
  await cache?.put(
    url,
    new Response(bytes, { headers: { [DIGEST_HEADER]: digest, 'content-length': String(bytes.length) } }),
  );
  return bytes;
}
