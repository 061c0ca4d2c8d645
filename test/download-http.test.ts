// The downloader against a local HTTP server on 127.0.0.1: resume, checksums, redirects, locking,
// offline mode, mirrors and every failure kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { download, fileSystemError, mirrored } from '../src/zoo/download.js';
import { DownloadError } from '../src/errors.js';
import { BPE_FILE } from '../src/zoo/models.js';
import { OPENAI_FIXTURES, needsFixtures } from './fixtures.js';

// 256 KiB of deterministic bytes (a linear congruential sequence), so any misplaced range shows.
const BODY = (() => {
  const b = Buffer.alloc(256 * 1024);
  let x = 12345;
  for (let i = 0; i < b.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
})();
const SHA = createHash('sha256').update(BODY).digest('hex');
const CUT = 100_000; // where the "flaky" route drops the connection

/**
 * The N of a `bytes=N-` request. Bytes the client had received but not yet read when the
 * connection dropped are lost with the stream (fetch discards them), so a resume may start a
 * little before CUT; what matters is that it starts where the kept .part file ends.
 */
function resumedAt(range: string | undefined): number {
  const m = /^bytes=(\d+)-$/.exec(range ?? '');
  return m ? Number(m[1]) : -1;
}

type Handler = (req: IncomingMessage, res: ServerResponse, nth: number) => void;

interface TestServer {
  base: string;
  /** Every request: path and Range header, in arrival order. */
  requests: { path: string; range?: string }[];
  route(path: string, handler: Handler): void;
  close(): Promise<void>;
}

/** Serves BODY honouring `Range: bytes=N-` with 206, like a real static file server. */
const serveBody =
  (body: Buffer = BODY): Handler =>
  (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length && m) {
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return;
    }
    const headers = {
      'Content-Length': String(body.length - start),
      ...(m ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    };
    res.writeHead(m ? 206 : 200, headers).end(body.subarray(start));
  };

/**
 * Sends the full Content-Length, CUT bytes, then closes the socket — the first `drops` times.
 * A graceful close (FIN after the data), not destroy(): a reset can make the client's kernel
 * discard bytes it has not read yet, so the client would not reliably have received all CUT.
 */
const dropAfterCut =
  (drops = 1): Handler =>
  (req, res, nth) => {
    if (nth > drops) return serveBody()(req, res, nth);
    res.writeHead(200, { 'Content-Length': String(BODY.length) });
    res.write(BODY.subarray(0, CUT), () => setTimeout(() => res.socket?.end(), 300));
  };

/** Streams BODY in 16 slices with pauses, so concurrent callers overlap in time. */
const serveSlowly: Handler = (_req, res) => {
  res.writeHead(200, { 'Content-Length': String(BODY.length) });
  const slice = BODY.length / 16;
  let i = 0;
  const next = () => {
    if (i === 16) {
      res.end();
      return;
    }
    res.write(BODY.subarray(i * slice, ++i * slice));
    setTimeout(next, 25);
  };
  next();
};

async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Handler>();
  const counts = new Map<string, number>();
  const requests: TestServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    requests.push({ path, range: req.headers.range });
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const handler = routes.get(path);
    if (handler) handler(req, res, counts.get(path)!);
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fresh server and cache folder per test; both are cleaned up afterwards. */
async function withServer(fn: (s: TestServer, cache: string) => Promise<void>): Promise<void> {
  const server = await startServer();
  const cache = mkdtempSync(join(tmpdir(), 'clip-dl-'));
  try {
    await fn(server, cache);
  } finally {
    await server.close();
    rmSync(cache, { recursive: true, force: true });
  }
}

async function rejectsWith(
  promise: Promise<unknown>,
  reason: DownloadError['reason'],
  message?: RegExp,
): Promise<DownloadError> {
  let error: unknown;
  await promise.then(
    () => assert.fail('expected a DownloadError'),
    (e) => {
      error = e;
    },
  );
  assert.ok(error instanceof DownloadError, `expected DownloadError, got ${error}`);
  assert.equal(error.reason, reason, error.message);
  if (message) assert.match(error.message, message);
  return error;
}

const quiet = { progress: false } as const;

test('full download: verified, named after the URL, no leftovers', () =>
  withServer(async (s, cache) => {
    s.route('/models/file.bin', serveBody());
    const path = await download(`${s.base}/models/file.bin`, { ...quiet, sha256: SHA, cacheDir: cache });
    assert.equal(path, join(cache, 'file.bin'));
    assert.deepEqual(readFileSync(path), BODY);
    assert.ok(!existsSync(`${path}.part`) && !existsSync(`${path}.lock`));
  }));

test('an existing verified file is not downloaded again; a corrupted one is', () =>
  withServer(async (s, cache) => {
    s.route('/file.bin', serveBody());
    const url = `${s.base}/file.bin`;
    await download(url, { ...quiet, sha256: SHA, cacheDir: cache });
    await download(url, { ...quiet, sha256: SHA, cacheDir: cache });
    assert.equal(s.requests.length, 1);
    // Same size, one flipped byte: the size/mtime marker must not vouch for it after a rewrite.
    const damaged = Buffer.from(BODY);
    damaged[5]! ^= 1;
    writeFileSync(join(cache, 'file.bin'), damaged);
    const warn = console.warn;
    console.warn = () => {};
    try {
      await download(url, { ...quiet, sha256: SHA, cacheDir: cache });
    } finally {
      console.warn = warn;
    }
    assert.equal(s.requests.length, 2);
    assert.deepEqual(readFileSync(join(cache, 'file.bin')), BODY);
  }));

test('a dropped connection is resumed with Range within the same call', () =>
  withServer(async (s, cache) => {
    s.route('/flaky.bin', dropAfterCut(1));
    const path = await download(`${s.base}/flaky.bin`, { ...quiet, sha256: SHA, cacheDir: cache });
    assert.deepEqual(readFileSync(path), BODY);
    assert.equal(s.requests.length, 2);
    assert.equal(s.requests[0]!.range, undefined);
    assert.ok(
      resumedAt(s.requests[1]!.range) > 0 && resumedAt(s.requests[1]!.range) <= CUT,
      `resumed at ${s.requests[1]!.range}`,
    );
  }));

test('an interrupted download keeps its .part and the next call resumes it byte-identically', () =>
  withServer(async (s, cache) => {
    s.route('/flaky.bin', dropAfterCut(1));
    const url = `${s.base}/flaky.bin`;
    const error = await rejectsWith(
      download(url, { ...quiet, sha256: SHA, cacheDir: cache, retries: 0 }),
      'network',
      /run again to resume/,
    );
    assert.equal(error.file, join(cache, 'flaky.bin'));
    const kept = readFileSync(join(cache, 'flaky.bin.part')).length;
    assert.ok(kept > 0 && kept <= CUT, `kept ${kept} bytes`);
    assert.ok(!existsSync(join(cache, 'flaky.bin')), 'no final file after a failure');

    const path = await download(url, { ...quiet, sha256: SHA, cacheDir: cache, retries: 0 });
    assert.equal(s.requests.at(-1)!.range, `bytes=${kept}-`);
    assert.deepEqual(readFileSync(path), BODY);
    assert.ok(!existsSync(`${path}.part`));
  }));

test('a server that ignores Range (200) makes the download restart cleanly', () =>
  withServer(async (s, cache) => {
    s.route('/norange.bin', (_req, res) => {
      res.writeHead(200, { 'Content-Length': String(BODY.length) }).end(BODY);
    });
    writeFileSync(join(cache, 'norange.bin.part'), Buffer.alloc(5000, 0xee)); // stale bytes that must not survive
    const path = await download(`${s.base}/norange.bin`, { ...quiet, sha256: SHA, cacheDir: cache });
    assert.equal(s.requests[0]!.range, 'bytes=5000-');
    assert.deepEqual(readFileSync(path), BODY);
  }));

test('a part longer than the file (416) is discarded and downloaded again', () =>
  withServer(async (s, cache) => {
    s.route('/file.bin', serveBody());
    writeFileSync(join(cache, 'file.bin.part'), Buffer.alloc(BODY.length + 10));
    const path = await download(`${s.base}/file.bin`, { ...quiet, sha256: SHA, cacheDir: cache });
    assert.deepEqual(
      s.requests.map((r) => r.range),
      [`bytes=${BODY.length + 10}-`, undefined],
    );
    assert.deepEqual(readFileSync(path), BODY);
  }));

test('checksum mismatch: clear error, nothing left on disk', () =>
  withServer(async (s, cache) => {
    s.route('/file.bin', serveBody());
    const wrong = '0'.repeat(64);
    await rejectsWith(
      download(`${s.base}/file.bin`, { ...quiet, sha256: wrong, cacheDir: cache }),
      'checksum',
      new RegExp(`SHA-256 is ${SHA}, expected ${wrong}`),
    );
    assert.deepEqual(readdirSync(cache), []);
  }));

test('HTTP 404 and 500 are typed errors with advice', () =>
  withServer(async (s, cache) => {
    s.route('/broken', (_req, res) => {
      res.writeHead(500).end();
    });
    const e404 = await rejectsWith(
      download(`${s.base}/missing.bin`, { ...quiet, cacheDir: cache }),
      'http',
      /HTTP 404 .*check the model name/,
    );
    assert.equal(e404.status, 404);
    await rejectsWith(
      download(`${s.base}/broken`, { ...quiet, cacheDir: cache }),
      'http',
      /HTTP 500 .*try again later/,
    );
    assert.ok(!existsSync(join(cache, 'missing.bin')));
  }));

test('connection refused is a network error that says what to do', async () => {
  const s = await startServer();
  const base = s.base;
  await s.close(); // nothing listens on that port any more
  const cache = mkdtempSync(join(tmpdir(), 'clip-dl-'));
  try {
    await rejectsWith(
      download(`${base}/file.bin`, { ...quiet, cacheDir: cache }),
      'network',
      /ECONNREFUSED.*CLIP_MIRROR.*CLIP_OFFLINE/s,
    );
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('redirects are followed (relative and absolute), Range included', () =>
  withServer(async (s, cache) => {
    s.route('/real/file.bin', dropAfterCut(1));
    s.route('/hop1', (_req, res) => {
      res.writeHead(302, { Location: `${s.base}/hop2` }).end();
    });
    s.route('/hop2', (_req, res) => {
      res.writeHead(307, { Location: '/real/file.bin' }).end();
    });
    const path = await download(`${s.base}/hop1`, { ...quiet, sha256: SHA, cacheDir: cache, dest: 'file.bin' });
    assert.deepEqual(readFileSync(path), BODY);
    const range = s.requests[3]?.range;
    assert.ok(resumedAt(range) > 0 && resumedAt(range) <= CUT, `resumed at ${range}`);
    assert.deepEqual(
      s.requests.map((r) => `${r.path} ${r.range ?? ''}`.trim()),
      ['/hop1', '/hop2', '/real/file.bin', `/hop1 ${range}`, `/hop2 ${range}`, `/real/file.bin ${range}`],
    );
  }));

test('the SHA-256 a Hugging Face style redirect announces (X-Linked-Etag) is enforced', () =>
  withServer(async (s, cache) => {
    s.route('/blob', serveBody());
    const resolveWith =
      (sha: string): Handler =>
      (_req, res) => {
        res.writeHead(302, { Location: '/blob', 'X-Linked-Etag': `"${sha}"` }).end();
      };
    s.route('/good/resolve/main/model.bin', resolveWith(SHA));
    s.route('/bad/resolve/main/model.bin', resolveWith('f'.repeat(64)));
    assert.deepEqual(
      readFileSync(
        await download(`${s.base}/good/resolve/main/model.bin`, { ...quiet, cacheDir: cache, dest: 'good.bin' }),
      ),
      BODY,
    );
    await rejectsWith(
      download(`${s.base}/bad/resolve/main/model.bin`, { ...quiet, cacheDir: cache, dest: 'bad.bin' }),
      'checksum',
    );
    assert.ok(!existsSync(join(cache, 'bad.bin')) && !existsSync(join(cache, 'bad.bin.part')));
  }));

test('a format check rejects an HTML page served in place of a file without checksum', () =>
  withServer(async (s, cache) => {
    s.route('/model.safetensors', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>rate limited</html>');
    });
    await rejectsWith(
      download(`${s.base}/model.safetensors`, { ...quiet, cacheDir: cache, check: 'safetensors' }),
      'corrupt',
      /not a valid safetensors file/,
    );
    assert.deepEqual(readdirSync(cache), []);
  }));

test('two concurrent calls in one process: one transfer, the second waits and reuses it', () =>
  withServer(async (s, cache) => {
    s.route('/slow.bin', serveSlowly);
    const url = `${s.base}/slow.bin`;
    const [a, b] = await Promise.all([1, 2].map(() => download(url, { ...quiet, sha256: SHA, cacheDir: cache })));
    assert.equal(a, b);
    assert.deepEqual(readFileSync(a!), BODY);
    assert.equal(s.requests.length, 1);
  }));

test('a download running in another process holds the lock; this one waits and uses its file', () =>
  withServer(async (s, cache) => {
    s.route('/slow.bin', serveSlowly);
    const url = `${s.base}/slow.bin`;
    const moduleUrl = new URL('../src/zoo/download.js', import.meta.url).href;
    const script = `import { download } from ${JSON.stringify(moduleUrl)};
    const path = await download(${JSON.stringify(url)}, {
      progress: false, sha256: ${JSON.stringify(SHA)}, cacheDir: ${JSON.stringify(cache)},
    });
    process.stdout.write(path);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let childOut = '';
    child.stdout.on('data', (d) => {
      childOut += d;
    });
    const childDone = new Promise<number>((resolve) => child.on('close', resolve));
    // Start ours only once the child's transfer is under way, so it must wait on the child's lock.
    while (s.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const ours = await download(url, { ...quiet, sha256: SHA, cacheDir: cache });
    assert.equal(await childDone, 0);
    assert.equal(childOut, ours);
    assert.deepEqual(readFileSync(ours), BODY);
    assert.equal(s.requests.length, 1);
  }));

test('a stale lock (left by a crashed process: not refreshed for staleLockMs) is taken over', () =>
  withServer(async (s, cache) => {
    s.route('/file.bin', serveBody());
    mkdirSync(join(cache, 'file.bin.lock'));
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(cache, 'file.bin.lock'), old, old);
    assert.deepEqual(
      readFileSync(await download(`${s.base}/file.bin`, { ...quiet, sha256: SHA, cacheDir: cache })),
      BODY,
    );
    assert.ok(!existsSync(join(cache, 'file.bin.lock')));
  }));

test('offline: uses the cached file without network, or names the missing file and the way out', () =>
  withServer(async (s, cache) => {
    s.route('/file.bin', serveBody());
    const url = `${s.base}/file.bin`;
    const error = await rejectsWith(
      download(url, { ...quiet, sha256: SHA, cacheDir: cache, offline: true }),
      'offline',
      new RegExp(`${join(cache, 'file.bin').replaceAll('.', '\\.')} is not in the cache.*unset CLIP_OFFLINE`),
    );
    assert.equal(error.file, join(cache, 'file.bin'));
    assert.equal(s.requests.length, 0);
    await download(url, { ...quiet, sha256: SHA, cacheDir: cache });
    process.env.CLIP_OFFLINE = '1';
    try {
      assert.equal(await download(url, { ...quiet, sha256: SHA, cacheDir: cache }), join(cache, 'file.bin'));
      await rejectsWith(download(`${s.base}/other.bin`, { ...quiet, cacheDir: cache }), 'offline');
    } finally {
      delete process.env.CLIP_OFFLINE;
    }
    assert.equal(s.requests.length, 1);
  }));

test('a mirror replaces scheme and host, keeping the path (option and CLIP_MIRROR)', () =>
  withServer(async (s, cache) => {
    s.route('/prefix/clip/models/abc/file.bin', serveBody());
    const url = 'https://openaipublic.example.invalid/clip/models/abc/file.bin';
    assert.equal(mirrored(url, 'http://m:8/prefix/'), 'http://m:8/prefix/clip/models/abc/file.bin');
    const path = await download(url, { ...quiet, sha256: SHA, cacheDir: cache, baseUrl: `${s.base}/prefix` });
    assert.equal(path, join(cache, 'file.bin'));
    process.env.CLIP_MIRROR = `${s.base}/prefix`;
    try {
      await download(url, { ...quiet, sha256: SHA, cacheDir: cache, dest: 'again.bin' });
    } finally {
      delete process.env.CLIP_MIRROR;
    }
    assert.deepEqual(
      s.requests.map((r) => r.path),
      ['/prefix/clip/models/abc/file.bin', '/prefix/clip/models/abc/file.bin'],
    );
  }));

test('progress callback sees every byte, ending at the total (resume included)', () =>
  withServer(async (s, cache) => {
    s.route('/flaky.bin', dropAfterCut(1));
    const seen: { received: number; total?: number }[] = [];
    await download(`${s.base}/flaky.bin`, { sha256: SHA, cacheDir: cache, progress: (p) => seen.push(p) });
    assert.ok(seen.length >= 2);
    assert.deepEqual(seen.at(-1), {
      url: `${s.base}/flaky.bin`,
      file: join(cache, 'flaky.bin'),
      received: BODY.length,
      total: BODY.length,
    });
    // Never backwards except once, where the drop happened (the resumed request starts again at the kept size).
    const backwards = seen.filter((p, i) => i > 0 && p.received <= seen[i - 1]!.received);
    assert.ok(backwards.length <= 1 && backwards.every((p) => p.received <= CUT + 65536), JSON.stringify(backwards));
  }));

test('abort: a typed error, and the partial data is kept for a later resume', () =>
  withServer(async (s, cache) => {
    s.route('/slow.bin', serveSlowly);
    const controller = new AbortController();
    await rejectsWith(
      download(`${s.base}/slow.bin`, {
        sha256: SHA,
        cacheDir: cache,
        signal: controller.signal,
        progress: (p) => {
          if (p.received >= BODY.length / 4) controller.abort();
        },
      }),
      'aborted',
      /run again to resume/,
    );
    assert.ok(existsSync(join(cache, 'slow.bin.part')));
    assert.ok(!existsSync(join(cache, 'slow.bin')));
  }));

test(
  'disk full (ENOSPC) while writing is a typed error and leaves no final file',
  { skip: !existsSync('/dev/full') && 'needs /dev/full (Linux)' },
  () =>
    withServer(async (s, cache) => {
      s.route('/file.bin', serveBody());
      symlinkSync('/dev/full', join(cache, 'file.bin.part')); // every write to the part file fails with ENOSPC
      await rejectsWith(
        download(`${s.base}/file.bin`, { ...quiet, sha256: SHA, cacheDir: cache }),
        'disk-full',
        /free some space.*CLIP_CACHE_DIR/,
      );
      assert.ok(!existsSync(join(cache, 'file.bin')));
    }),
);

test(
  'permission denied on the cache folder is a typed error',
  { skip: process.getuid?.() === 0 && 'root ignores folder permissions' },
  () =>
    withServer(async (s, cache) => {
      s.route('/file.bin', serveBody());
      const locked = join(cache, 'ro');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      try {
        await rejectsWith(
          download(`${s.base}/file.bin`, { ...quiet, cacheDir: locked }),
          'permission',
          /CLIP_CACHE_DIR/,
        );
      } finally {
        chmodSync(locked, 0o700);
      }
    }),
);

test('file-system error codes map to typed errors with advice', () => {
  const err = (code: string) => Object.assign(new Error(`${code}: boom`), { code });
  assert.equal(fileSystemError('u', 'f', err('ENOSPC')).reason, 'disk-full');
  assert.equal(fileSystemError('u', 'f', err('EDQUOT')).reason, 'disk-full');
  for (const code of ['EACCES', 'EPERM', 'EROFS']) {
    const e = fileSystemError('u', '/x/f', err(code));
    assert.equal(e.reason, 'permission');
    assert.match(e.message, /cannot write \/x\/f .*CLIP_CACHE_DIR/);
  }
  assert.equal(fileSystemError('u', 'f', err('EIO')).reason, 'filesystem');
});

test('a directory where the file should be is reported, not overwritten', () =>
  withServer(async (s, cache) => {
    mkdirSync(join(cache, 'file.bin'));
    await rejectsWith(download(`${s.base}/file.bin`, { ...quiet, cacheDir: cache }), 'not-a-file');
  }));

test('the pinned BPE merges checksum matches the reference file', { skip: needsFixtures(OPENAI_FIXTURES) }, () =>
  withServer(async (s, cache) => {
    const bytes = readFileSync(join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz'));
    s.route(new URL(BPE_FILE.url).pathname, serveBody(bytes));
    const path = await download(BPE_FILE.url, { ...quiet, sha256: BPE_FILE.sha256, cacheDir: cache, baseUrl: s.base });
    assert.equal(path, join(cache, BPE_FILE.dest));
  }),
);
