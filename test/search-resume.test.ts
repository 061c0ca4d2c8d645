// kill -9 during `clip index`, at several points, then resume: the index ends equal to one built
// in a single uninterrupted run (same paths, hashes, metadata and bit-identical vectors). While the
// indexer writes, this test reads the index from another connection (WAL readers).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openIndex } from '../src/search/db.js';
import { dumpIndex, runCli, startCli, writePhoto, writeTinyModel } from './search-helpers.js';

const PHOTOS = 48;
let dir = '';
let model = '';
let bpe = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-resume-'));
  [model, bpe] = writeTinyModel(dir);
  mkdirSync(join(dir, 'photos', 'sub'), { recursive: true });
  for (let i = 0; i < PHOTOS; i++)
    await writePhoto(join(dir, 'photos', i % 3 ? '' : 'sub', `p${String(i).padStart(2, '0')}.jpg`), i, 640, 480);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const indexArgs = (db: string) => [
  'index',
  join(dir, 'photos'),
  '--db',
  db,
  '--model',
  model,
  '--bpe',
  bpe,
  '-b',
  '2',
  '--json',
];

/** Files committed so far, read from a second connection while the indexer runs. */
function committed(db: string): number {
  try {
    const c = openIndex(db, { readonly: true });
    try {
      return c.prepare('SELECT count(*) FROM files').pluck().get() as number;
    } finally {
      c.close();
    }
  } catch {
    return 0; // not created yet
  }
}

test('clip index killed with SIGKILL at several points resumes to the index of one uninterrupted run', async () => {
  const whole = join(dir, 'whole.db');
  const r = runCli({}, ...indexArgs(whole));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    added: PHOTOS,
    updated: 0,
    removed: 0,
    unchanged: 0,
    failed: 0,
    total: PHOTOS,
  });

  const resumed = join(dir, 'resumed.db');
  const killedAt: number[] = [];
  for (const target of [6, 20, 34]) {
    const child = startCli({}, ...indexArgs(resumed));
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));
    for (let i = 0; i < 3000 && committed(resumed) < target && child.exitCode === null; i++) await sleep(5);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', 'the indexer was still running when killed');
    killedAt.push(committed(resumed));
  }
  assert.ok(
    killedAt[0]! < killedAt[1]! && killedAt[1]! < killedAt[2]! && killedAt[2]! < PHOTOS,
    `killed at ${killedAt.join(', ')} files`,
  );

  const last = runCli({}, ...indexArgs(resumed));
  assert.equal(last.status, 0, last.stderr);
  const summary = JSON.parse(last.stdout) as Record<string, number>;
  assert.equal(summary.unchanged, killedAt[2], 'committed batches are not redone');
  assert.equal(summary.added, PHOTOS - killedAt[2]!);
  assert.deepEqual(dumpIndex(resumed), dumpIndex(whole));
});
