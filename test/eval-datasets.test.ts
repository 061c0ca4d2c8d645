// The evaluation datasets' readers on small hand-made files: an ImageFolder with and without
// classes.txt, a filepath,label CSV (names and indices), Fashion-MNIST IDX files, caption pairs.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  firstItems,
  readCaptionPairs,
  readFashionMnist,
  readImageFolder,
  readLabelCsv,
  readLabelledDataset,
} from '../src/eval/datasets.js';
import { readIdx } from '../src/eval/fashion-mnist.js';
import { InputError } from '../src/errors.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'clip-eval-data-'));
  for (const [folder, files] of [
    ['n02', ['b.png', 'a.png']],
    ['n01', ['c.png']],
  ] as const) {
    mkdirSync(join(dir, 'folder', folder), { recursive: true });
    for (const f of files) writeFileSync(join(dir, 'folder', folder, f), `bytes of ${folder}/${f}`);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('readImageFolder: sorted sub-folders are the classes; classes.txt renames them in that order', () => {
  const plain = readImageFolder(join(dir, 'folder'));
  assert.deepEqual(plain.classes, ['n01', 'n02']);
  assert.deepEqual(
    plain.inputs,
    ['n01/c.png', 'n02/a.png', 'n02/b.png'].map((f) => join(dir, 'folder', f)),
  );
  assert.deepEqual([...plain.labels], [0, 1, 1]);
  writeFileSync(join(dir, 'folder', 'classes.txt'), 'tench\ngoldfish\n');
  try {
    const named = readImageFolder(join(dir, 'folder'));
    assert.deepEqual(named.classes, ['tench', 'goldfish']);
    assert.deepEqual([...named.labels], [0, 1, 1]);
    assert.equal(named.fingerprint(), plain.fingerprint(), 'the same image bytes');
    writeFileSync(join(dir, 'folder', 'classes.txt'), 'tench\n');
    assert.throws(() => readImageFolder(join(dir, 'folder')), /1 class names for 2 sub-folders/);
  } finally {
    rmSync(join(dir, 'folder', 'classes.txt'));
  }
  assert.equal(firstItems(plain, 2).inputs.length, 2);
  assert.notEqual(firstItems(plain, 2).fingerprint(), plain.fingerprint());
});

test('readImageFolder follows symbolic links and nested folders (as torchvision), leaves hidden files out', () => {
  const root = join(dir, 'linked');
  mkdirSync(join(root, 'b', 'nested'), { recursive: true });
  writeFileSync(join(root, 'b', 'nested', 'x.png'), 'x');
  writeFileSync(join(root, 'b', '.DS_Store'), 'junk');
  symlinkSync(join(dir, 'folder', 'n01'), join(root, 'a')); // a linked class folder
  symlinkSync(join(dir, 'folder', 'n02', 'a.png'), join(root, 'b', 'y.png')); // a linked image
  const data = readImageFolder(root);
  assert.deepEqual(data.classes, ['a', 'b']);
  assert.deepEqual(data.inputs, [
    join(root, 'a', 'c.png'),
    join(root, 'b', 'nested', 'x.png'),
    join(root, 'b', 'y.png'),
  ]);
  assert.deepEqual([...data.labels], [0, 1, 1]);
});

test('readLabelCsv: labels by name (classes sorted) or by index into classes.txt; unknown labels name the row', () => {
  mkdirSync(join(dir, 'csv'), { recursive: true });
  writeFileSync(join(dir, 'csv', 'set.csv'), 'filepath,label\nx.png,dog\ny.png,cat\n"z, w.png",dog\n');
  const byName = readLabelledDataset(join(dir, 'csv', 'set.csv'));
  assert.deepEqual(byName.classes, ['cat', 'dog']);
  assert.deepEqual([...byName.labels], [1, 0, 1]);
  assert.equal(byName.inputs[2], join(dir, 'csv', 'z, w.png'));
  mkdirSync(join(dir, 'indexed'));
  writeFileSync(join(dir, 'indexed', 'classes.txt'), 'airplane\nbird\n');
  writeFileSync(join(dir, 'indexed', 'set.csv'), 'filepath,label\nx.png,1\ny.png,airplane\nz.png,7\n');
  assert.throws(
    () => readLabelCsv(join(dir, 'indexed', 'set.csv')),
    (e: Error) => e instanceof InputError && /row 4 has label "7"/.test(e.message),
  );
  writeFileSync(join(dir, 'indexed', 'set.csv'), 'filepath,label\nx.png,1\ny.png,airplane\n');
  assert.deepEqual([...readLabelCsv(join(dir, 'indexed', 'set.csv')).labels], [1, 0]);
  assert.throws(() => readLabelledDataset(join(dir, 'nope')), /no such dataset/);
});

test('readFashionMnist: gzipped IDX images and labels as raw 28×28 gray pixels; bad files are named', () => {
  const idx = (magic: number, dims: number[], data: Uint8Array) => {
    const header = Buffer.alloc(4 + 4 * dims.length);
    header.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
    return gzipSync(Buffer.concat([header, data]));
  };
  const fm = join(dir, 'fashion');
  mkdirSync(fm);
  const pixels = Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 251);
  writeFileSync(join(fm, 't10k-images-idx3-ubyte.gz'), idx(0x803, [2, 28, 28], pixels));
  writeFileSync(join(fm, 't10k-labels-idx1-ubyte.gz'), idx(0x801, [2], Uint8Array.from([9, 0])));
  const data = readFashionMnist('t10k', fm);
  assert.equal(data.source, 'fashion-mnist t10k');
  assert.deepEqual([...data.labels], [9, 0]);
  assert.equal(data.classes[9], 'ankle boot');
  const second = data.inputs[1] as { width: number; height: number; channels: number; data: Uint8Array };
  assert.deepEqual([second.width, second.height, second.channels], [28, 28, 1]);
  assert.deepEqual([...second.data], [...pixels.subarray(784)]);
  assert.match(data.fingerprint(), /^[0-9a-f]{64}$/);
  writeFileSync(join(fm, 't10k-labels-idx1-ubyte.gz'), idx(0x801, [2], Uint8Array.from([10, 0])));
  assert.throws(() => readFashionMnist('t10k', fm), /label 10 at row 0, expected 0\.\.9/);
  writeFileSync(join(fm, 'bad.gz'), idx(0x803, [1, 2], Uint8Array.from([1, 2])));
  assert.throws(() => readIdx(join(fm, 'bad.gz'), 3), /14 bytes, too short for an idx header/);
  assert.throws(() => readIdx(join(fm, 'bad.gz'), 2), /idx magic 0x803, expected 0x802/);
  assert.throws(() => readFashionMnist('train', fm), /cannot read the idx file \(ENOENT\)/);
});

test('readCaptionPairs: an image repeated on several rows has several captions', () => {
  writeFileSync(
    join(dir, 'pairs.csv'),
    'filepath,title\na.png,a red square\nb.png,a blue circle\na.png,something red\n',
  );
  const pairs = readCaptionPairs(join(dir, 'pairs.csv'));
  assert.deepEqual(pairs.images, [join(dir, 'a.png'), join(dir, 'b.png')]);
  assert.deepEqual(pairs.texts, ['a red square', 'a blue circle', 'something red']);
  assert.deepEqual(pairs.textImage, [0, 1, 0]);
});
