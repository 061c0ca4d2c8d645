// The queue's parts that need no Redis: .npy encoding, atomic shard replacement, the manifest,
// content-derived run and job ids, reading a shard's inputs, a job's embedding (bit-identical to
// embedImages with the same batches) and the worker's refusal of a model it does not have.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { embedImages, expandImagePaths, isImageName, load, normalizeRows, toFloat32 } from '../src/index.js';
import { connectRedis, redactUrl } from '../src/queue/connection.js';
import { embedShard, readShardInputs } from '../src/queue/embed-shard.js';
import {
  expandInputs,
  jobId,
  jobsOf,
  planShards,
  runIdOf,
  type InputItem,
  type RunSettings,
  type RunSpec,
} from '../src/queue/job.js';
import { claimOutput, writeManifestIfComplete } from '../src/queue/manifest.js';
import { ModelRefusedError, modelFingerprint, WorkerModels } from '../src/queue/model.js';
import { decodeNpy, encodeNpy } from '../src/npy.js';
import { doneShards, writeShard, type ShardRow } from '../src/queue/shard.js';
import { tarMembers } from '../src/queue/tar-index.js';
import { writeImages, writeTinyModel } from './queue-setup.js';

let dir = '';
let model = '';
let images = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-queue-unit-'));
  model = writeTinyModel(dir);
  images = await writeImages(dir, 9, 40);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const settings = (sha256: string, extra: Partial<RunSettings> = {}): RunSettings => ({
  model: { ref: model, sha256 },
  batchSize: 2,
  shardSize: 4,
  preprocess: { fastJpeg: false },
  output: { dtype: 'float32', normalize: false },
  ...extra,
});

/** A run over `paths` recorded in a fresh output folder, as the producer records it. */
async function recordRun(paths: InputItem[], extra: Partial<RunSettings> = {}) {
  const out = mkdtempSync(join(dir, 'out-'));
  const s = settings(await modelFingerprint(model), extra);
  const { inputs, ranges } = planShards(paths, s.shardSize);
  const spec: RunSpec = { ...s, runId: runIdOf(s, out, inputs), out, images: paths.length, shards: ranges.length };
  await claimOutput(spec, inputs);
  return { spec, jobs: jobsOf(spec, ranges) };
}

test('.npy: numpy header layout (64-byte aligned), and decode inverts encode', () => {
  const values = Float32Array.from([1, -2.5, 3e-8, 0, 7, 1e20]);
  const npy = encodeNpy(new Uint8Array(values.buffer), 'float32', [2, 3]);
  assert.equal(npy.subarray(0, 8).toString('latin1'), '\x93NUMPY\x01\x00');
  const headerEnd = 10 + npy.readUInt16LE(8);
  assert.equal(headerEnd % 64, 0);
  assert.equal(
    npy.toString('latin1', 10, headerEnd).trimEnd(),
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
  );
  const back = decodeNpy(npy);
  assert.deepEqual(back.shape, [2, 3]);
  assert.deepEqual(new Float32Array(back.data.slice().buffer), values);
  assert.throws(() => decodeNpy(npy.subarray(0, npy.length - 4), 'x.npy'), /x\.npy: 20 data bytes for shape \(2, 3\)/);
});

test('numpy.load reads our float32 and float16 files (skipped without python3 + numpy)', (t) => {
  if (spawnSync('python3', ['-c', 'import numpy']).status !== 0) {
    t.skip('SKIPPED: python3 with numpy not found');
    return;
  }
  const values = Float32Array.from([0.1, -2, 65504, 1 / 3]);
  const f32 = join(dir, 'a.npy');
  writeFileSync(f32, encodeNpy(new Uint8Array(values.buffer), 'float32', [2, 2]));
  const f16 = join(dir, 'b.npy');
  writeFileSync(f16, encodeNpy(Uint8Array.from([0x66, 0x2e, 0x00, 0xc0, 0xff, 0x7b, 0x55, 0x35]), 'float16', [1, 4]));
  const r = spawnSync(
    'python3',
    [
      '-c',
      `import numpy as np
a = np.load('${f32}'); b = np.load('${f16}')
print(a.dtype, a.shape, repr(a.tolist())); print(b.dtype, b.shape, repr(b.astype('float32').tolist()))`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const [l1, l2] = r.stdout.trim().split('\n');
  assert.equal(l1, `float32 (2, 2) [[${Math.fround(0.1)}, -2.0], [65504.0, ${Math.fround(1 / 3)}]]`);
  assert.equal(l2, 'float16 (1, 4) [[0.0999755859375, -2.0, 65504.0, 0.333251953125]]');
});

test('a shard written twice holds the second write only, no temporary files left; float16 on request', async () => {
  const out = mkdtempSync(join(dir, 'shard-'));
  const rowsA: ShardRow[] = [
    { path: '/a.jpg', sha256: 'aa', width: 3, height: 2, ok: true },
    { path: '/b.jpg', ok: false, error: 'bad' },
    { path: '/c.jpg', sha256: 'cc', width: 1, height: 1, ok: true },
  ];
  await writeShard(out, 7, rowsA, Float32Array.from([1, 2, 0, 0, 3, 4]), 2, 'float32');
  await writeShard(out, 7, rowsA.slice(0, 2), Float32Array.from([0.1, -2, 0, 0]), 2, 'float16');
  assert.deepEqual(readdirSync(out).sort(), ['.run', 'shard-00007.jsonl', 'shard-00007.npy']);
  const lines = readFileSync(join(out, 'shard-00007.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ShardRow);
  assert.deepEqual(lines, rowsA.slice(0, 2));
  const npy = decodeNpy(readFileSync(join(out, 'shard-00007.npy')));
  assert.equal(npy.dtype, 'float16');
  assert.deepEqual(npy.shape, [2, 2]);
  assert.deepEqual([...new Uint16Array(npy.data.slice().buffer)], [0x2e66, 0xc000, 0, 0]);
  assert.deepEqual([...toFloat32({ dtype: 'float16', shape: [4], bytes: npy.data })], [0.0999755859375, -2, 0, 0]);
  assert.deepEqual([...doneShards(out)], [7]);
  assert.deepEqual(readdirSync(join(out, '.run', 'done')), ['shard-00007.json']);
});

test('run ids depend on the model hash, settings, output folder and inputs; job ids on the shard', async () => {
  const paths = expandImagePaths([images]);
  const { inputs } = planShards(paths, 4);
  const a = runIdOf(settings('1'.repeat(64)), '/out', inputs);
  assert.equal(runIdOf(settings('1'.repeat(64)), '/out', inputs), a, 'the same run gets the same id');
  assert.notEqual(runIdOf(settings('2'.repeat(64)), '/out', inputs), a);
  assert.notEqual(
    runIdOf(settings('1'.repeat(64), { output: { dtype: 'float16', normalize: false } }), '/out', inputs),
    a,
  );
  assert.notEqual(runIdOf(settings('1'.repeat(64)), '/elsewhere', inputs), a);
  assert.notEqual(runIdOf(settings('1'.repeat(64)), '/out', planShards(paths.slice(1), 4).inputs), a);
  assert.equal(jobId(a, 3), `${a}-3`);
});

test('a shard reads exactly its slice of the inputs file; another run is refused in the same folder', async () => {
  const paths = expandImagePaths([images]);
  const { spec, jobs } = await recordRun(paths);
  assert.equal(jobs.length, 3);
  assert.deepEqual(
    jobs.map((j) => j.inputs.count),
    [4, 4, 2],
  );
  const read = await Promise.all(jobs.map((j) => readShardInputs(j)));
  assert.deepEqual(read.flat(), paths);
  await claimOutput(spec, planShards(paths, 4).inputs); // the same run again: accepted
  const other = { ...spec, runId: 'ffffffffffffffff' };
  await assert.rejects(claimOutput(other, Buffer.alloc(0)), /holds another run/);
});

test('list files name images relative to their folder; a missing path is a clear error', () => {
  const list = join(dir, 'list.txt');
  writeFileSync(list, '# two of them\nimages/photo-001.jpg\n\n' + join(images, 'photo-000.jpg') + '\n');
  assert.deepEqual(expandInputs([list]), [join(images, 'photo-001.jpg'), join(images, 'photo-000.jpg')]);
  assert.throws(() => expandInputs([join(dir, 'nope.jpg')]), /nope\.jpg: no such file or folder/);
  writeFileSync(join(dir, 'fake.tar'), Buffer.alloc(1024, 1));
  assert.throws(
    () => expandInputs([join(dir, 'fake.tar')]),
    /fake\.tar: not a tar archive \(no ustar header at byte 0\)/,
  );
});

/** A WebDataset-style shard written by GNU tar: every photo as <key>.jpg beside a <key>.txt caption. */
function writeShardTar(format: 'gnu' | 'pax' | 'ustar'): { tar: string; names: string[] } {
  const staging = mkdtempSync(join(dir, `tar-${format}-`));
  // Long enough for a GNU long name, a pax path record or a ustar name prefix.
  const folder = join(staging, `${'deep-folder-name-'.repeat(5)}x`);
  mkdirSync(folder);
  const names: string[] = [];
  for (const file of readdirSync(images).sort()) {
    const key = `${'sample-with-a-long-key-'.repeat(2)}${file.replace(/\.jpg$/, '')}`;
    copyFileSync(join(images, file), join(folder, `${key}.jpg`));
    writeFileSync(join(folder, `${key}.txt`), 'a caption');
    names.push(`${folder.slice(staging.length + 1)}/${key}.jpg`);
  }
  const tar = join(dir, `shard-${format}.tar`);
  const r = spawnSync('tar', [`--format=${format}`, '-cf', tar, '-C', staging, folder.slice(staging.length + 1)]);
  assert.equal(r.status, 0, String(r.stderr));
  return { tar, names: names.sort() };
}

test('WebDataset shards (GNU, pax, ustar tars): image members by offset, embedded like the files', async () => {
  const clip = await load(model);
  const reference = new Map<string, Float32Array>();
  const files = expandImagePaths([images]);
  for await (const b of embedImages(clip, files, { batchSize: 2 })) {
    for (const e of b.embeddings) reference.set(basename(e.input as string), e.embedding);
  }
  for (const format of ['gnu', 'pax', 'ustar'] as const) {
    const { tar, names } = writeShardTar(format);
    const members = tarMembers(tar, isImageName);
    assert.deepEqual(members.map((m) => m.name).sort(), names, format);
    const fd = openSync(tar, 'r');
    for (const m of members) {
      const bytes = Buffer.alloc(m.size);
      readSync(fd, bytes, 0, m.size, m.offset);
      assert.deepEqual(bytes, readFileSync(join(images, m.name.replace(/^.*sample-with-a-long-key-/, ''))), m.name);
    }
    closeSync(fd);
    const { spec, jobs } = await recordRun(expandInputs([tar]));
    for (const job of jobs) await embedShard(job, clip);
    const manifest = (await writeManifestIfComplete(spec.out))!;
    assert.deepEqual({ images: manifest.images, failed: manifest.failed }, { images: 10, failed: 1 });
    for (const shard of manifest.shards) {
      const rows = readFileSync(join(spec.out, shard.metadata), 'utf8').trim().split('\n');
      const values = new Float32Array(decodeNpy(readFileSync(join(spec.out, shard.embeddings))).data.slice().buffer);
      rows
        .map((l) => JSON.parse(l) as ShardRow)
        .forEach((row, i) => {
          assert.ok(row.path.startsWith(`${tar}#`), row.path);
          const file = row.path.replace(/^.*sample-with-a-long-key-/, '');
          if (!row.ok) return assert.match(row.error, /^.*\.tar#.*broken\.jpg: not a readable image/);
          assert.deepEqual(values.subarray(i * 8, (i + 1) * 8), reference.get(file), row.path);
        });
    }
  }
  await clip.model.release();
});

test('a job embeds bit-identically to embedImages with the same batches; a corrupt image is a zero row', async () => {
  const paths = expandImagePaths([images]);
  const clip = await load(model);
  const reference = new Map<string, Float32Array>();
  for await (const b of embedImages(clip, paths, { batchSize: 2 }))
    for (const e of b.embeddings) reference.set(e.input as string, e.embedding);
  for (const normalize of [false, true]) {
    const { spec, jobs } = await recordRun(paths, { output: { dtype: 'float32', normalize } });
    for (const job of jobs.reverse()) {
      assert.equal(await writeManifestIfComplete(spec.out), undefined, 'no manifest while shards are missing');
      await embedShard(job, clip);
    }
    const manifest = (await writeManifestIfComplete(spec.out))!;
    assert.equal(manifest.complete, true);
    assert.deepEqual(
      { images: manifest.images, failed: manifest.failed, dim: manifest.dim, normalized: manifest.normalized },
      { images: 10, failed: 1, dim: 8, normalized: normalize },
    );
    assert.deepEqual(
      manifest.shards.map((s) => s.rows),
      [4, 4, 2],
    );
    const seen: string[] = [];
    for (const shard of manifest.shards) {
      const rows = readFileSync(join(spec.out, shard.metadata), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ShardRow);
      const values = new Float32Array(decodeNpy(readFileSync(join(spec.out, shard.embeddings))).data.slice().buffer);
      rows.forEach((row, i) => {
        seen.push(row.path);
        const got = values.subarray(i * 8, (i + 1) * 8);
        if (!row.ok) {
          assert.match(row.error, /broken\.jpg: not a readable image/);
          assert.deepEqual([...got], new Array(8).fill(0));
          return;
        }
        assert.equal(row.sha256, createHashOf(row.path));
        const want = normalize
          ? normalizeRows({ data: reference.get(row.path)!, shape: [1, 8] }).data
          : reference.get(row.path)!;
        assert.deepEqual(got, want, `${row.path} (normalize ${normalize})`);
      });
    }
    assert.deepEqual(seen, paths);
  }
  await clip.model.release();
});

const createHashOf = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('a worker refuses a job whose model it cannot find, or whose weights differ from the hashed ones', async () => {
  const models = new WorkerModels({ offline: true, cacheDir: join(dir, 'empty-cache') });
  await assert.rejects(
    models.get({ ref: 'ViT-B/32', sha256: 'ab'.repeat(32) }),
    (e: Error) =>
      e instanceof ModelRefusedError &&
      /model ViT-B\/32 \(sha256 abab.*\) is not available on this worker/.test(e.message),
  );
  const copy = join(dir, 'other-model');
  mkdirSync(copy, { recursive: true });
  copyFileSync(join(model, 'model.safetensors'), join(copy, 'model.safetensors'));
  const real = await modelFingerprint(copy);
  assert.equal(real, await modelFingerprint(model), 'a folder digest does not depend on where the folder is');
  await assert.rejects(
    models.get({ ref: copy, sha256: 'cd'.repeat(32) }),
    new RegExp(`this worker's copy has sha256 ${real}, the job asks for cdcd`),
  );
  const clip = await models.get({ ref: copy, sha256: real });
  assert.equal(clip.model.config.embedDim, 8);
  await clip.model.release();
});

test('Redis URLs: the password never shows in messages; other schemes are a clear error', () => {
  assert.equal(redactUrl('rediss://user:p%40ss@host:6380/2'), 'rediss://user:***@host:6380/2');
  assert.equal(redactUrl('redis://:secret@10.0.0.1:6379/0'), 'redis://:***@10.0.0.1:6379/0');
  assert.equal(redactUrl('redis://host:6379'), 'redis://host:6379');
  assert.throws(
    () => connectRedis('http://host:6379'),
    /--queue http:\/\/host:6379: expected redis:\/\/\[user:password@\]host\[:port\]\[\/db\] or rediss:\/\/ for TLS/,
  );
});
