import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { classPromptSamples } from '../src/train/class-prompts.js';

test('class prompts: one sample per image, its class renamed by classes.txt, templates drawn per image', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-class-prompts-'));
  try {
    for (const [folder, files] of [
      ['n02', ['x.png']],
      ['n01', ['y.png', 'z.png']],
    ] as const) {
      mkdirSync(join(dir, folder));
      for (const f of files) writeFileSync(join(dir, folder, f), '');
    }
    writeFileSync(join(dir, 'classes.txt'), 'apple\nbanana\n'); // line i names the i-th sorted folder
    const samples = classPromptSamples(dir, ['a photo of a {}.', 'a {}']);
    assert.deepEqual(
      samples.map((s) => s.image),
      [join(dir, 'n01', 'y.png'), join(dir, 'n01', 'z.png'), join(dir, 'n02', 'x.png')],
    );
    const expected = ['apple', 'apple', 'banana'];
    samples.forEach((s, i) => assert.ok([`a photo of a ${expected[i]}.`, `a ${expected[i]}`].includes(s.caption)));
    assert.deepEqual(classPromptSamples(dir, ['a photo of a {}.', 'a {}']), samples, 'seeded: the same draw');
    writeFileSync(join(dir, 'classes.txt'), 'apple\n');
    assert.throws(() => classPromptSamples(dir, ['{}']), /1 class names for 2 sub-folders/);
    assert.throws(() => classPromptSamples(dir, []), /needs at least one template/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
