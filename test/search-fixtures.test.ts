// `clip index` + `clip search --json` on the fixture photos with the fixture checkpoint (a
// real-format CLIP): every score is the cosine of model.encodeImage / model.encodeText features
// within 1e-5, and the ranking is the brute-force one. Skips loudly without ../shared.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertTopK, cosine, indexWithReference, textFeature } from './search-brute.js';
import { CHINESE_FIXTURES, needsFixtures, OPENAI_FIXTURES } from './fixtures.js';
import { runCli } from './search-helpers.js';

const skip = needsFixtures(OPENAI_FIXTURES);
const dir = mkdtempSync(join(tmpdir(), 'clip-search-fx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const name of ['vit-tiny.safetensors', 'rn-tiny.jit.pt']) {
  test(`clip search --json scores equal brute-force cosines of ${name}`, { skip }, async () => {
    const model = join(OPENAI_FIXTURES, 'models', name);
    const bpe = join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz');
    const images = join(OPENAI_FIXTURES, 'images');
    const db = join(dir, `${name}.db`);
    const { clip, features, summary } = await indexWithReference(db, images, model, ['--bpe', bpe]);
    const n = features.size;
    assert.deepEqual(summary, { added: n, updated: 0, removed: 0, unchanged: 0, failed: 0, total: n });
    for (const caption of ['a photo of an astronaut', 'a rocket on the launch pad', 'a cat', 'coffee']) {
      const t = await textFeature(clip, caption);
      const reference = new Map([...features].map(([p, f]) => [p, cosine(f, t)]));
      const s = runCli({}, 'search', caption, '--db', db, '-k', '7', '--json', '--bpe', bpe);
      assert.equal(s.status, 0, s.stderr);
      assertTopK(JSON.parse(s.stdout), reference, 7, caption);
    }
    const query = join(images, 'rocket.jpg');
    const q = features.get(query)!;
    const byImage = new Map([...features].map(([p, f]) => [p, cosine(f, q)]));
    const s = runCli({}, 'search', '--image', query, '--db', db, '-k', '5', '--json');
    assert.equal(s.status, 0, s.stderr);
    assertTopK(JSON.parse(s.stdout), byImage, 5, 'image query');
    await clip.model.release();
  });
}

test('Chinese queries with a Chinese-CLIP checkpoint: clip search --json scores equal brute-force cosines', {
  skip: needsFixtures(CHINESE_FIXTURES),
}, async () => {
  const model = join(CHINESE_FIXTURES, 'models', 'vit-tiny.pt');
  const vocab = join(CHINESE_FIXTURES, 'vocab.txt');
  const images = join(CHINESE_FIXTURES, 'images');
  const db = join(dir, 'cn.db');
  const { clip, features } = await indexWithReference(db, images, model, ['--vocab', vocab]);
  for (const caption of ['一只猫', '火箭发射台', '一杯咖啡']) {
    const t = await textFeature(clip, caption);
    const s = runCli({}, 'search', caption, '--db', db, '-k', '5', '--json');
    assert.equal(s.status, 0, s.stderr);
    assertTopK(JSON.parse(s.stdout), new Map([...features].map(([p, f]) => [p, cosine(f, t)])), 5, caption);
  }
  await clip.model.release();
});
