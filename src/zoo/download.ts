// Downloads into the cache directory: resumable, verified, safe against concurrent processes.
//
//   <file>.lock   held while one process downloads; others wait, then use the finished file
//   <file>.part   the bytes so far; kept on interruption and resumed with `Range: bytes=N-`
//   <file>        appears only by an atomic rename after the SHA-256 (or format) check passed,
//                 so a partial or corrupt file is never returned
//   <file>.sha256 remembers a verified file's size and mtime, so a cache hit needs no re-hash
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import { DownloadError, InputError } from '../errors.js';
import { cacheDir } from './cache.js';
import { checkFile } from './checks.js';
import { acquireLock } from './lock.js';
import type { FileCheck } from './models.js';

export interface DownloadProgress {
  readonly url: string;
  readonly file: string;
  /** Bytes of the file on disk so far, including a resumed part. */
  readonly received: number;
  /** Size of the whole file when the server says it. */
  readonly total?: number;
}

export interface DownloadOptions {
  /** Expected SHA-256 (hex). Without it, a SHA-256 the server announces (`X-Linked-Etag`) is used. */
  sha256?: string;
  /** Format check for files without a published checksum. */
  check?: FileCheck;
  /** Final path; a relative one is taken under the cache directory. Default: the URL's file name. */
  dest?: string;
  /** Default: `cacheDir()` (`CLIP_CACHE_DIR` or `~/.cache/clip`). */
  cacheDir?: string;
  /** Mirror that replaces the URL's scheme and host (a path prefix is kept). Default: `CLIP_MIRROR`. */
  baseUrl?: string;
  /** Never touch the network: use the cached file or fail. Default: `CLIP_OFFLINE=1`. */
  offline?: boolean;
  /** A callback, or true/false for a progress bar on stderr. Default: a bar when stderr is a TTY. */
  progress?: boolean | ((progress: DownloadProgress) => void);
  signal?: AbortSignal;
  /** How many times a connection that drops mid-file is resumed within this call (default 3). */
  retries?: number;
  /** A lock not refreshed this long was left by a crashed process and is taken over (default 10 s). */
  staleLockMs?: number;
}

const MAX_REDIRECTS = 10;

/** Downloads `url` (or finds it in the cache) and resolves to the verified file's path. */
export async function download(url: string, options: DownloadOptions = {}): Promise<string> {
  const target = targetPath(url, options);
  const source =
    options.baseUrl !== undefined
      ? mirrored(url, options.baseUrl, '--mirror / baseUrl')
      : mirrored(url, process.env.CLIP_MIRROR, 'CLIP_MIRROR');
  const offline = options.offline ?? process.env.CLIP_OFFLINE === '1';

  if (await isCachedAndValid(source, target, options.sha256, offline)) return target;
  if (offline) {
    throw new DownloadError(
      'offline',
      source,
      target,
      `offline mode (--offline, CLIP_OFFLINE=1 or offline: true) and ${target} is not in the cache. ` +
        `Run once with network access (unset CLIP_OFFLINE), or download ${source} yourself and save it as ${target}; ` +
        'or pass a local checkpoint: --model <file> --bpe <bpe_simple_vocab_16e6.txt.gz>.',
    );
  }

  await fsStep(source, target, () => mkdir(dirname(target), { recursive: true }));
  const release = await fsStep(source, target, () =>
    acquireLock(target, {
      staleMs: options.staleLockMs,
      signal: options.signal,
    }).catch((e) => {
      throw isAbort(e) ? abortedError(source, target) : e;
    }),
  );
  try {
    // Another process may have finished it while we waited for the lock.
    if (await isCachedAndValid(source, target, options.sha256, false)) return target;
    await fetchToCache(source, target, options);
    return target;
  } finally {
    await release();
  }
}

function targetPath(url: string, options: DownloadOptions): string {
  const dest = options.dest ?? basename(new URL(url).pathname);
  return isAbsolute(dest) ? dest : join(cacheDir(options.cacheDir), dest);
}

/** `https://host/a/b` with mirror `http://mirror:8080/x` → `http://mirror:8080/x/a/b`. */
export function mirrored(url: string, baseUrl: string | undefined, setting = 'baseUrl'): string {
  if (!baseUrl) return url;
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    throw new InputError(
      `${setting} is ${JSON.stringify(baseUrl)}; expected an http(s):// URL such as https://mirror.example.com`,
    );
  }
  const { pathname, search } = new URL(url);
  return baseUrl.replace(/\/+$/, '') + pathname + search;
}

// ---- the cached file --------------------------------------------------------------------------

async function isCachedAndValid(
  url: string,
  target: string,
  sha256: string | undefined,
  offline: boolean,
): Promise<boolean> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return false;
  if (!info.isFile())
    throw new DownloadError(
      'not-a-file',
      url,
      target,
      `${target} exists and is not a regular file; move it away and run again`,
    );
  // Files without a checksum were format-checked before they were renamed into place.
  if (!sha256) return true;
  const marker = `${info.size} ${info.mtimeMs} ${sha256}`;
  if ((await readFile(`${target}.sha256`, 'utf8').catch(() => '')) === marker) return true;
  if ((await hashFile(target)).digest('hex') === sha256) {
    await writeFile(`${target}.sha256`, marker).catch(() => {
      /* only a speed-up */
    });
    return true;
  }
  if (offline) {
    throw new DownloadError(
      'checksum',
      url,
      target,
      `${target} is in the cache but its SHA-256 is not ${sha256}; delete it and run again with network access ` +
        `(unset CLIP_OFFLINE)`,
    );
  }
  console.warn(`${target} exists, but the SHA256 checksum does not match; re-downloading the file`);
  return false;
}

async function hashFile(path: string, hash = createHash('sha256')): Promise<Hash> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash;
}

// ---- the transfer -----------------------------------------------------------------------------

/** Thrown inside the transfer when the connection dropped after some bytes: worth resuming. */
class Interrupted extends Error {}

async function fetchToCache(url: string, target: string, options: DownloadOptions): Promise<void> {
  const part = `${target}.part`;
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      const { hash, announcedSha256 } = await transfer(url, part, target, options);
      await verifyPart(url, part, target, hash.digest('hex'), options.sha256 ?? announcedSha256, options.check);
      await fsStep(url, target, () => rename(part, target));
      if (options.sha256) {
        const info = await stat(target);
        await writeFile(`${target}.sha256`, `${info.size} ${info.mtimeMs} ${options.sha256}`).catch(() => {});
      }
      return;
    } catch (e) {
      if (!(e instanceof Interrupted)) throw e;
      if (attempt >= retries) {
        throw new DownloadError(
          'network',
          url,
          target,
          `the connection to ${url} dropped ${attempt + 1} times (${e.message}); ` +
            `the bytes so far are kept in ${part}: run again to resume, or set CLIP_MIRROR to use a mirror`,
        );
      }
      await sleep(200 * (attempt + 1), undefined, { signal: options.signal }).catch(() => {
        throw abortedError(url, target);
      });
    }
  }
}

/** One request: appends to the part file (resuming when possible) and hashes every byte. */
async function transfer(
  url: string,
  part: string,
  target: string,
  options: DownloadOptions,
): Promise<{ hash: Hash; announcedSha256?: string }> {
  let offset = (await stat(part).catch(() => undefined))?.size ?? 0;
  const { response, announcedSha256 } = await request(url, target, offset, options.signal);
  let total = contentLength(response);
  if (response.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      // A range we did not ask for: start over cleanly rather than splice mismatched bytes.
      await response.body?.cancel();
      await fsStep(url, target, () => truncate(part, 0));
      return transfer(url, part, target, options);
    }
    if (range[2] !== '*') total = Number(range[2]);
  } else if (response.status === 416) {
    // Our part is not a prefix of the file (changed upstream, or already too long): start over.
    await response.body?.cancel();
    await fsStep(url, target, () => truncate(part, 0));
    return transfer(url, part, target, options);
  } else if (!response.ok) {
    await response.body?.cancel();
    throw httpError(url, target, response.status);
  } else if (offset > 0) {
    offset = 0; // server ignored Range and sends the whole file: overwrite the part
  }

  const hash = offset > 0 ? await hashFile(part) : createHash('sha256');
  const report = progressReporter(url, target, options.progress, offset, total);
  let received = offset;
  try {
    await pipeline(
      Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          received += chunk.length;
          report.update(received);
          yield chunk;
        }
      },
      createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' }),
      { signal: options.signal },
    );
  } catch (e) {
    throw classifyTransferError(e, url, target);
  } finally {
    report.stop();
  }
  if (total !== undefined && received !== total) throw new Interrupted(`got ${received} of ${total} bytes`);
  return { hash, announcedSha256 };
}

/** Follows redirects by hand so the Range header goes to every hop and the Hub's checksum header is seen. */
async function request(url: string, target: string, offset: number, signal?: AbortSignal) {
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  let announcedSha256: string | undefined;
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let response: Response;
    try {
      response = await fetch(current, { headers, redirect: 'manual', signal });
    } catch (e) {
      if (isAbort(e)) throw abortedError(url, target);
      throw networkError(url, target, e);
    }
    // Hugging Face sends the SHA-256 of large (LFS) files as X-Linked-Etag on the resolve hop.
    const etag = /^"?([0-9a-f]{64})"?$/.exec(response.headers.get('x-linked-etag') ?? '');
    if (etag) announcedSha256 = etag[1];
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current).href;
      continue;
    }
    return { response, announcedSha256 };
  }
  throw new DownloadError(
    'http',
    url,
    target,
    `${url} redirected more than ${MAX_REDIRECTS} times; check the URL or CLIP_MIRROR`,
  );
}

function contentLength(response: Response): number | undefined {
  const header = response.headers.get('content-length');
  return header === null ? undefined : Number(header);
}

async function verifyPart(
  url: string,
  part: string,
  target: string,
  actual: string,
  expected: string | undefined,
  check?: FileCheck,
) {
  if (expected && actual !== expected) {
    await unlink(part).catch(() => {});
    throw new DownloadError(
      'checksum',
      url,
      target,
      `downloaded ${url} but its SHA-256 is ${actual}, expected ${expected}; the corrupt download was deleted. ` +
        'Run again; if it keeps failing, the server or mirror (CLIP_MIRROR) serves a different file.',
    );
  }
  const problem = check ? await checkFile(part, check) : undefined;
  if (problem) {
    await unlink(part).catch(() => {});
    throw new DownloadError(
      'corrupt',
      url,
      target,
      `downloaded ${url} but it is not a valid ${check} file (${problem}); the download was deleted. ` +
        'Run again; if it keeps failing, check the URL or mirror (CLIP_MIRROR).',
    );
  }
}

// ---- progress ---------------------------------------------------------------------------------

function progressReporter(
  url: string,
  file: string,
  progress: DownloadOptions['progress'],
  start: number,
  total?: number,
) {
  if (typeof progress === 'function') {
    return { update: (received: number) => progress({ url, file, received, total }), stop: () => {} };
  }
  if (!(progress ?? process.stderr.isTTY) || total === undefined) return { update: () => {}, stop: () => {} };
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  const bar = new cliProgress.SingleBar(
    {
      format: `${basename(file)} [{bar}] {percentage}% {done}/{size} MiB`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: progress === true, // asked for explicitly: print even when stderr is not a terminal
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, start, { done: mib(start), size: mib(total) });
  return { update: (received: number) => bar.update(received, { done: mib(received) }), stop: () => bar.stop() };
}

// ---- failures -----------------------------------------------------------------------------------

function isAbort(e: unknown): boolean {
  return (e as Error)?.name === 'AbortError';
}

function abortedError(url: string, target: string): DownloadError {
  return new DownloadError(
    'aborted',
    url,
    target,
    `download of ${url} was cancelled; run again to resume from ${target}.part`,
  );
}

/** The error code behind a failed fetch (undici puts it on `cause`). */
function errnoOf(e: unknown): string | undefined {
  const err = e as { code?: string; cause?: { code?: string } };
  return err?.code ?? err?.cause?.code;
}

function networkError(url: string, target: string, e: unknown): DownloadError {
  const code = errnoOf(e);
  return new DownloadError(
    'network',
    url,
    target,
    `could not connect to ${new URL(url).host} to download ${url} (${code ?? (e as Error).message}). ` +
      'Check your network connection or proxy, or set CLIP_MIRROR to a mirror; ' +
      `to work without network, copy the file to ${target} and set CLIP_OFFLINE=1, ` +
      'or pass a local checkpoint: --model <file> --bpe <bpe_simple_vocab_16e6.txt.gz> (a path in the API).',
  );
}

function httpError(url: string, target: string, status: number): DownloadError {
  const advice =
    status === 404
      ? 'the file does not exist there: check the model name, repository and CLIP_MIRROR'
      : status === 401 || status === 403
        ? 'access denied: the repository may be private or gated, or the mirror refuses it'
        : status >= 500
          ? 'the server failed: try again later or set CLIP_MIRROR to a mirror'
          : 'check the URL and CLIP_MIRROR';
  return new DownloadError('http', url, target, `HTTP ${status} for ${url}: ${advice}`, status);
}

const FS_FAILURES: Record<string, 'disk-full' | 'permission'> = {
  ENOSPC: 'disk-full',
  EDQUOT: 'disk-full',
  EACCES: 'permission',
  EPERM: 'permission',
  EROFS: 'permission',
};

/** A file-system error while writing `target` (or its part/lock) as a DownloadError that says what to do. */
export function fileSystemError(url: string, target: string, e: unknown): DownloadError {
  const code = errnoOf(e) ?? 'unknown';
  const reason = FS_FAILURES[code] ?? 'filesystem';
  const advice =
    reason === 'disk-full'
      ? 'no space left on that disk: free some space, or set CLIP_CACHE_DIR to a folder on another disk, then run ' +
        'again (the download resumes)'
      : reason === 'permission'
        ? 'permission denied: set CLIP_CACHE_DIR (or the cacheDir option) to a folder you can write'
        : 'check that the cache folder (CLIP_CACHE_DIR) is a writable local folder';
  return new DownloadError(reason, url, target, `cannot write ${target} (${code}: ${(e as Error).message}): ${advice}`);
}

async function fsStep<T>(url: string, target: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof DownloadError || !errnoOf(e)) throw e;
    throw fileSystemError(url, target, e);
  }
}

/** Dropped connection → Interrupted (resumable); abort, disk and permission errors → DownloadError. */
function classifyTransferError(e: unknown, url: string, target: string): Error {
  if (isAbort(e)) return abortedError(url, target);
  // Errors from the part file carry its path; errors from the socket do not.
  if (FS_FAILURES[errnoOf(e) ?? ''] || typeof (e as { path?: unknown })?.path === 'string')
    return fileSystemError(url, target, e);
  return new Interrupted((e as Error)?.message ?? String(e));
}
