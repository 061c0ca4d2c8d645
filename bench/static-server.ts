// A static file server on 127.0.0.1 for pages that run clip-ts in the browser (tests, the browser
// benchmark, the demo): cross-origin isolated (COOP/COEP), which WebAssembly threads need.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.html': 'text/html',
  '.map': 'application/json',
  '.css': 'text/css',
};

export interface StaticServer {
  /** e.g. http://127.0.0.1:12345 */
  origin: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `mounts` (URL prefix → folder) read-only, plus an empty page at `/`, cross-origin
 * isolated (COOP/COEP) unless `isolated: false`, so pages get SharedArrayBuffer and WebAssembly threads.
 */
export async function serveStatic(
  mounts: Record<string, string>,
  options: { port?: number; isolated?: boolean } = {},
): Promise<StaticServer> {
  const isolation =
    options.isolated === false
      ? {}
      : {
          'Cross-Origin-Opener-Policy': 'same-origin',
          'Cross-Origin-Embedder-Policy': 'require-corp',
          'Cross-Origin-Resource-Policy': 'same-origin',
        };
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    requests.push(path);
    const headers = {
      ...isolation,
      // Cacheable, so a second page compiles onnxruntime-web's 28 MB of WebAssembly from V8's code cache.
      'Cache-Control': 'max-age=600',
    };
    if (path === '/') {
      // a blank page to open others from
      res
        .writeHead(200, { ...headers, 'Content-Type': 'text/html' })
        .end('<!doctype html><meta charset="utf-8"><title>clip-ts</title>');
      return;
    }
    const prefix = Object.keys(mounts).find((p) => path.startsWith(p));
    const root = prefix && resolve(mounts[prefix]!);
    const file = root && normalize(join(root, path.slice(prefix.length)));
    if (!file || !file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    res.writeHead(200, {
      ...headers,
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((done) => server.listen(options.port ?? 0, '127.0.0.1', done));
  const { port: bound } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${bound}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
