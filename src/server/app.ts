// `clip serve`: the HTTP API and the single-page UI over a photo index (Fastify).
//
// Only files in the index are ever served, addressed by photo id (never by path); uploads are
// size- and pixel-limited; the index is opened read-only, so an indexer may run meanwhile (WAL).
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import sharp from 'sharp';
import { InputError } from '../errors.js';
import { load, type LoadOptions } from '../index.js';
import { parseDate } from '../search/dates.js';
import {
  modelForIndex,
  openIndex,
  photoById,
  photoCount,
  photoVector,
  queryVector,
  readMeta,
  searchVector,
  storedModel,
  type SearchHit,
  type SearchOptions,
} from '../search/index.js';
import { MAX_PIXELS, ThumbnailCache } from './thumbnails.js';

export interface ServerOptions {
  db: string;
  /** Checked against the index's model (default: the index's own). */
  model?: string;
  load?: LoadOptions;
  /** Thumbnail cache folder (default: `<db>.thumbnails/`). */
  thumbnails?: string;
  /** Largest image upload for image → image search, bytes. */
  maxUploadBytes?: number;
  /** Largest upload in pixels. */
  maxUploadPixels?: number;
}

/** The bundled page (esbuild output of src/server/ui, written by `npm run build`). */
const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));
const UI_FILES: Record<string, string> = { '/': 'index.html', '/app.js': 'app.js', '/app.css': 'app.css' };
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
};
/** Text features of recent queries (instant search repeats its prefixes). */
const QUERY_CACHE_SIZE = 256;

const filtersSchema = {
  k: { type: 'integer', minimum: 1, maximum: 200, default: 40 },
  offset: { type: 'integer', minimum: 0, maximum: 3000, default: 0 },
  after: { type: 'string' },
  before: { type: 'string' },
  folder: { type: 'string' },
  camera: { type: 'string' },
  minScore: { type: 'number', minimum: -1, maximum: 1 },
  sort: { type: 'string', enum: ['score', 'date'] },
} as const;

type Filters = {
  k: number;
  offset: number;
  after?: string;
  before?: string;
  folder?: string;
  camera?: string;
  minScore?: number;
  sort?: 'score' | 'date';
};

function searchOptions(q: Filters): SearchOptions {
  return {
    k: q.k,
    offset: q.offset,
    minScore: q.minScore,
    sort: q.sort,
    folder: q.folder || undefined,
    camera: q.camera || undefined,
    after: q.after ? parseDate(q.after, 'after') : undefined,
    before: q.before ? parseDate(q.before, 'before') : undefined,
  };
}

const toResult = (h: SearchHit) => ({
  id: h.id,
  path: h.paths[0] ?? null,
  score: h.score,
  width: h.width,
  height: h.height,
  taken: h.taken === null ? null : new Date(h.taken).toISOString(),
  camera: [h.make, h.model].filter(Boolean).join(' ') || null,
});

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { maxUploadBytes = 20 * 1024 * 1024, maxUploadPixels = 40_000_000 } = options;
  const db = openIndex(options.db, { readonly: true });
  const { clip } = await modelForIndex(db, options.db, options.model, options.load ?? {}, load);
  const thumbnails = new ThumbnailCache(options.thumbnails ?? `${options.db}.thumbnails`);
  const queries = new Map<string, Promise<Float32Array>>();
  const textVector = (q: string) => {
    let v = queries.get(q);
    if (!v) {
      v = queryVector(clip, [{ weight: 1, text: q }]);
      v.catch(() => queries.delete(q));
      queries.set(q, v);
      const oldest = queries.keys().next();
      if (queries.size > QUERY_CACHE_SIZE && !oldest.done) queries.delete(oldest.value);
    }
    return v;
  };

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 1, fields: 20 } });
  app.addHook('onClose', async () => {
    db.close();
    await clip.model.release();
  });
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error instanceof InputError ? 400 : (error.statusCode ?? 500);
    void reply.status(status).send({ error: status >= 500 ? 'internal error' : error.message });
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send({ error: 'not found' });
  });

  /** The photo with this id and the path it is served from, or undefined after a 404 reply. */
  const photoOr404 = (id: string, reply: FastifyReply) => {
    const photo = /^\d{1,15}$/.test(id) ? photoById(db, Number(id)) : undefined;
    const path = photo?.paths[0];
    if (!photo || path === undefined) {
      void reply.status(404).send({ error: 'not found' });
      return undefined;
    }
    return { ...photo, path };
  };

  app.get<{ Querystring: Filters & { q: string } }>(
    '/api/search',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['q'],
          properties: { q: { type: 'string', minLength: 1, maxLength: 1000 }, ...filtersSchema },
        },
      },
    },
    async (request) => {
      const vector = await textVector(request.query.q);
      return { results: searchVector(db, vector, searchOptions(request.query)).map(toResult) };
    },
  );

  // Image → image: one uploaded file (multipart field "image"), filters in the query string.
  app.post<{ Querystring: Filters }>(
    '/api/search',
    { schema: { querystring: { type: 'object', properties: filtersSchema } } },
    async (request, reply) => {
      if (!request.isMultipart())
        return reply.status(415).send({ error: 'expected multipart/form-data with an "image" file' });
      const file = await request.file();
      if (!file) return reply.status(400).send({ error: 'no image in the upload' });
      const bytes = await file.toBuffer().catch((e: Error & { code?: string }) => {
        if (e.code === 'FST_REQ_FILE_TOO_LARGE') return undefined;
        throw e;
      });
      if (!bytes) return reply.status(413).send({ error: `image larger than ${maxUploadBytes} bytes` });
      const meta = await sharp(bytes)
        .metadata()
        .catch(() => undefined);
      if (!meta?.width || !meta.height)
        return reply.status(400).send({ error: 'the upload is not an image this server reads' });
      if (meta.width * meta.height > Math.min(maxUploadPixels, MAX_PIXELS))
        return reply.status(413).send({ error: `image larger than ${maxUploadPixels} pixels` });
      const vector = await queryVector(clip, [{ weight: 1, image: bytes }]);
      return { results: searchVector(db, vector, searchOptions(request.query)).map(toResult) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: Filters }>(
    '/api/similar/:id',
    { schema: { querystring: { type: 'object', properties: filtersSchema } } },
    async (request, reply) => {
      const photo = photoOr404(request.params.id, reply);
      if (!photo) return reply;
      const vector = photoVector(db, photo.id);
      if (!vector) return reply.status(404).send({ error: 'not found' });
      return {
        results: searchVector(db, vector, { ...searchOptions(request.query), excludeId: photo.id }).map(toResult),
      };
    },
  );

  app.get<{ Params: { id: string } }>('/api/photos/:id/thumbnail', async (request, reply) => {
    const photo = photoOr404(request.params.id, reply);
    if (!photo) return reply;
    const sha = db.prepare('SELECT sha256 FROM photos WHERE id = ?').pluck().get(photo.id) as string;
    const file = await thumbnails.get(sha, photo.path);
    return reply.type('image/jpeg').header('cache-control', 'private, max-age=86400').send(createReadStream(file));
  });

  app.get<{ Params: { id: string } }>('/api/photos/:id/image', async (request, reply) => {
    const photo = photoOr404(request.params.id, reply);
    if (!photo) return reply;
    const { path } = photo;
    const type = TYPES[extname(path).toLowerCase()];
    if (type?.startsWith('image/')) return reply.type(type).send(createReadStream(path));
    // TIFF, HEIF: not shown by browsers; sent as JPEG.
    return reply
      .type('image/jpeg')
      .send(await sharp(path, { limitInputPixels: MAX_PIXELS }).rotate().jpeg({ quality: 90 }).toBuffer());
  });

  app.get('/api/status', async () => {
    const progress = readMeta(db, 'progress');
    return {
      count: photoCount(db),
      files: db.prepare('SELECT count(*) FROM files').pluck().get(),
      model: storedModel(db)?.name ?? null,
      indexing: progress ? (JSON.parse(progress) as unknown) : null,
    };
  });

  for (const [route, file] of Object.entries(UI_FILES)) {
    app.get(route, async (_request, reply) => {
      const path = join(UI_DIR, file);
      if (!existsSync(path))
        return reply.status(500).send({ error: `the web page is not built (${path} missing): run npm run build` });
      return reply
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .header('cache-control', 'no-cache')
        .send(readFileSync(path));
    });
  }
  return app;
}
