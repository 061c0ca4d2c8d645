// What a user feeds `clip` ends in the right answer or one clear line (exit 1, or 2 for usage
// errors naming the flag), never a crash: long command lines, long lists from files, bad numbers,
// empty inputs, duplicate labels, outputs, model names, training outputs and resumes. Self-contained:
// a random-weight model, a tiny BPE merges file and generated images; the command runs as a process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { randomStateDict } from '../src/models/random.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { CFG, CLI, MERGES } from './tiny-cli-model.js';

const VERSION = (
  JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

let dir = '';
let model = '';
let red = '';
function run(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    input: options.input,
    timeout: 120_000,
    env: { ...process.env, CLIP_OFFLINE: '1', CLIP_CACHE_DIR: join(dir, 'cache'), ...options.env },
  });
}
/** The process ended with `status` and printed one line on stderr matching `message`. */
function assertFails(r: ReturnType<typeof run>, status: number, message: RegExp): void {
  assert.equal(r.status, status, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`);
  assert.match(lines[0]!, /^clip: /);
  assert.match(lines[0]!, message);
}

// The commands are separate processes: run the tests side by side.
describe('clip on hostile input', { concurrency: 4 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'clip-cli-hard-'));
    model = join(dir, 'model');
    mkdirSync(model);
    writeSafetensors(join(model, 'model.safetensors'), randomStateDict(CFG, 11));
    writeFileSync(join(model, 'bpe_simple_vocab_16e6.txt'), MERGES);
    red = join(dir, 'red.png');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 30, b: 90 } } })
      .png()
      .toFile(red);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('1 MB of arguments: clip re-runs itself with a short command line instead of crashing in ONNX Runtime', () => {
    const texts = Array.from({ length: 10_000 }, (_, i) => `text ${i} ${'x'.repeat(90)}`);
    const r = run(['embed', red, '--model', model, '--truncate', '--text', ...texts]);
    assert.equal(r.signal, null, 'no crash');
    assert.equal(r.status, 0, r.stderr.slice(-500));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1 + texts.length);
    assert.equal((JSON.parse(lines[0]!) as { image: string }).image, red);
    assert.equal((JSON.parse(lines.at(-1)!) as { text: string }).text, texts.at(-1));
  });

  test('a library process with a huge command line gets an InputError before ONNX Runtime, not a segfault', () => {
    const LOAD = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'load.js');
    const script = `const { load } = await import(${JSON.stringify(LOAD)});
      const clip = await load(${JSON.stringify(model)});
      await clip.model.encodeText(clip.tokenize(['cat'])).then(
        () => console.log('ran'),
        (e) => console.log(e.name, e.message),
      );`;
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script, ...Array.from({ length: 400 }, () => 'x'.repeat(100))],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.signal, null, 'no crash');
    assert.match(r.stdout, /^InputError this process's command line is \d+ bytes; ONNX Runtime overflows its stack/);
  });

  test('100,000 labels from --labels-file; labels may contain commas', () => {
    const labels = Array.from({ length: 100_000 }, (_, i) => `thing ${i}`);
    labels[7] = 'a cat, sleeping';
    writeFileSync(join(dir, 'labels.txt'), `${labels.join('\n')}\n`);
    const r = run([
      'classify',
      red,
      '--model',
      model,
      '--labels-file',
      join(dir, 'labels.txt'),
      '--template',
      '{}',
      '-k',
      '3',
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const { predictions } = JSON.parse(r.stdout) as { predictions: { label: string; probability: number }[] };
    assert.equal(predictions.length, 3);
    for (const p of predictions) assert.ok(labels.includes(p.label) && p.probability > 0 && p.probability < 1);
    // a byte-order mark and CRLF lines, as Windows editors write
    const input = '\uFEFFa cat, sleeping\r\na dog\r\n\r\n';
    const comma = run(['classify', red, '--model', model, '--labels-file', '-', '--template', '{}', '--json'], {
      input,
    });
    assert.equal(comma.status, 0, comma.stderr);
    assert.deepEqual(
      (JSON.parse(comma.stdout) as { predictions: { label: string }[] }).predictions.map((p) => p.label).sort(),
      ['a cat, sleeping', 'a dog'],
    );
  });

  test('bad numbers are usage errors (exit 2) naming the flag, before any work', () => {
    const m = ['--model', model];
    const cases: [string[], RegExp][] = [
      [['classify', red, ...m, '--labels', 'a,b', '-k', 'abc'], /-k, --top <k>.*'abc'.*positive integer/],
      [['classify', red, ...m, '--labels', 'a,b', '-k', '-1'], /-k, --top <k>.*'-1'/],
      [['classify', red, ...m, '--labels', 'a,b', '-k', '0'], /-k, --top <k>.*'0'/],
      [['embed', red, ...m, '-b', 'abc'], /--batch-size <n>.*'abc'/],
      [['embed', red, ...m, '-b', '0'], /--batch-size <n>.*'0'/],
      [['embed', red, ...m, '--threads', '0'], /--threads <n>.*'0'/],
      [['embed', red, ...m, '--threads', 'abc'], /--threads <n>.*'abc'/],
      [['embed', red, ...m, '--threads', '1000000000'], /--threads <n>.*'1000000000'.*from 1 to 1024/],
      [
        ['train', ...m, '-o', join(dir, 'x.safetensors'), '--folder', dir, '--lr', 'abc'],
        /--lr <x>.*'abc'.*positive number/,
      ],
      [['train', ...m, '-o', join(dir, 'x.safetensors'), '--folder', dir, '-e', 'abc'], /--epochs <n>.*'abc'/],
      [['train', ...m, '-o', join(dir, 'x.safetensors'), '--folder', dir, '--wd', '-1'], /--wd <x>.*'-1'/],
      [['tokenize', 'x', '--context-length', '1'], /--context-length 1: expected 2 \(SOT and EOT\) to 65536/],
      [['tokenize', 'x', '--context-length', '1000000000'], /--context-length 1000000000: expected 2/],
    ];
    for (const [args, message] of cases) assertFails(run(args), 2, message);
  });

  test('no inputs, an empty folder, duplicate labels, a missing list file: clear errors', () => {
    const m = ['--model', model];
    assertFails(run(['embed', ...m]), 2, /nothing to embed/);
    assertFails(run(['classify', ...m, '--labels', 'a,b']), 2, /no images to classify/);
    assertFails(run(['classify', red, ...m]), 2, /--labels "a,b,c" or --labels-file/);
    assertFails(run(['classify', red, ...m, '--labels', 'cat,dog,cat']), 2, /labels must be distinct; repeated: "cat"/);
    assertFails(
      run(['classify', red, ...m, '--labels', 'a,b', '--templates-file', join(dir, 'none.txt')]),
      2,
      /--templates-file .*none\.txt: no such file/,
    );
    assertFails(
      run(['classify', red, ...m, '--labels', 'a,b', '--template', 'a photo']),
      2,
      /template "a photo" has no \{\}/,
    );
    assertFails(
      run(['embed', ...m, '--files-from', join(dir, 'none.txt')]),
      2,
      /--files-from .*none\.txt: no such file/,
    );
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    const r = run(['embed', empty, red, ...m]);
    assert.equal(r.status, 1, 'an empty folder is reported and makes the exit status 1');
    assert.match(r.stderr, /skipped: .*empty: the folder holds no image files/);
    assert.match(r.stderr, /embedded 1 of 2 images in .* images\/s\), 1 skipped/);
    assert.equal(r.stdout.trim().split('\n').length, 1, 'the other image is still embedded');
  });

  test('texts longer than the context: an error naming --truncate, unless --truncate is given', () => {
    const long = 'cat '.repeat(40);
    assertFails(run(['embed', '--model', model, '--text', long]), 1, /is too long: .*--truncate/);
    assertFails(
      run(['classify', red, '--model', model, '--labels', `${long},dog`, '--template', '{}']),
      1,
      /is too long: .*--truncate/,
    );
    assert.equal(
      run(['classify', red, '--model', model, '--labels', `${long},dog`, '--template', '{}', '--truncate']).status,
      0,
    );
  });

  test('--out writes .jsonl, or .npy with the rows named beside it; --files-from - reads paths from stdin', () => {
    const blue = join(dir, 'blue.png');
    writeFileSync(blue, readFileSync(red)); // same pixels, another name
    const jsonl = join(dir, 'out.jsonl');
    const npy = join(dir, 'out.npy');
    const list = `${red}\n${blue}\n`;
    assert.equal(
      run(['embed', '--files-from', '-', '--text', 'cat', '--model', model, '--out', jsonl], { input: list }).status,
      0,
    );
    assert.equal(
      run(['embed', '--files-from', '-', '--text', 'cat', '--model', model, '--out', npy], { input: list }).status,
      0,
    );
    const rows = readFileSync(jsonl, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { image?: string; text?: string; embedding: number[] });
    assert.deepEqual(
      rows.map((r) => r.image ?? r.text),
      [red, blue, 'cat'],
    );
    const bytes = readFileSync(npy);
    assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
    const headerEnd = 10 + bytes.readUInt16LE(8);
    assert.equal(headerEnd % 64, 0);
    assert.match(
      bytes.subarray(10, headerEnd).toString('latin1'),
      /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 8\), \} *\n$/,
    );
    const matrix = new Float32Array(bytes.buffer.slice(bytes.byteOffset + headerEnd, bytes.byteOffset + bytes.length));
    assert.equal(matrix.length, 3 * 8);
    rows.forEach((row, i) => row.embedding.forEach((v, k) => assert.equal(matrix[i * 8 + k], Math.fround(v))));
    const named = readFileSync(`${npy}.rows.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(named, [{ image: red }, { image: blue }, { text: 'cat' }]);
    assertFails(
      run(['embed', red, '--model', model, '--out', join(dir, 'out.csv')]),
      2,
      /--out .*out\.csv: expected a file name ending in \.npy or \.jsonl/,
    );
    assertFails(
      run(['embed', red, '--model', model, '--out', join(dir, 'nope', 'x.npy')]),
      2,
      /folder .*nope does not exist/,
    );
  });

  const hasScript = existsSync('/usr/bin/script');
  test('on a terminal, a progress bar with skipped images above it, then the summary', {
    skip: hasScript ? false : 'needs /usr/bin/script for a pseudo-terminal',
  }, () => {
    const command = [
      process.execPath,
      CLI,
      'embed',
      red,
      red,
      join(dir, 'nothere.png'),
      '--model',
      model,
      '--out',
      join(dir, 'tty.jsonl'),
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const r = spawnSync('/usr/bin/script', ['-qec', command, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, CLIP_OFFLINE: '1' },
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /embedded .* \d\/3 images \| \d failed \| [\d.]+ images\/s/);
    assert.match(r.stdout, /skipped: .*nothere\.png: cannot read the file \(ENOENT\)/);
    assert.match(r.stdout, /embedded 2 of 3 images in [\d.]+ s \([\d.]+ images\/s\), 1 skipped/);
  });

  test("--version, and an example in every command's --help", () => {
    const v = run(['--version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), VERSION);
    for (const command of ['embed', 'classify', 'train', 'tokenize', 'models', 'download']) {
      const r = run([command, '--help']);
      assert.equal(r.status, 0, command);
      assert.match(r.stdout, /Examples?:\n {2}clip /, command);
    }
    const train = run(['train', '--help']).stdout;
    for (const flag of ['--device', '--threads', '--cache-dir', '--offline', '--mirror', '--bpe'])
      assert.ok(train.includes(flag), `train ${flag}`);
    assertFails(run(['embed', red, '--nope']), 2, /unknown option '--nope'/);
  });

  test("model names and paths in the user's terms", () => {
    assertFails(run(['embed', '--text', 'x', '--model', join(dir, 'missing.pt')]), 1, /missing\.pt: no such file/);
    assertFails(
      run(['embed', '--text', 'x', '--model', 'vit-b/33']),
      1,
      /model "vit-b\/33" not found; did you mean "ViT-B\/32"\?/,
    );
    // Forgiving names resolve to the registry's (and then need the cache, offline here).
    assertFails(
      run(['embed', '--text', 'x', '--model', 'vit-b-32']),
      1,
      /offline mode .*ViT-B-32\.pt is not in the cache.*--model <file> --bpe/,
    );
    assertFails(
      run(['download', 'ViT-B/32'], { env: { CLIP_MIRROR: 'mirror.example.com' } }),
      1,
      /CLIP_MIRROR is "mirror\.example\.com"; expected an http/,
    );
    // No network (nothing listens on the discard port): the way out without network is named.
    assertFails(
      run(['embed', '--text', 'x'], { env: { CLIP_OFFLINE: '', CLIP_MIRROR: 'http://127.0.0.1:9' } }),
      1,
      /could not connect to 127\.0\.0\.1:9 .*CLIP_OFFLINE=1, or pass a local checkpoint: --model <file> --bpe /,
    );
    assertFails(
      run(['embed', '--text', 'x', '--model', model, '--device', 'cuda']),
      1,
      /--device cuda: .*no CUDA provider.*"GPU" in the README/,
    );
  });

  /** A folder of 4 captioned images for training. */
  async function trainingFolder(): Promise<string> {
    const folder = join(dir, 'pairs');
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < 4; i++) {
      await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 60 * i, g: 40, b: 200 - 40 * i } } })
        .png()
        .toFile(join(folder, `${i}.png`));
      writeFileSync(join(folder, `${i}.txt`), `cat ${i}`);
    }
    return folder;
  }

  test('clip train checks -o first, refuses to overwrite or resume another run, stops on a NaN loss', async () => {
    const folder = await trainingFolder();
    const start = join(model, 'model.safetensors');
    const out = join(dir, 'run.safetensors');
    const common = ['--folder', folder, '--bpe', join(model, 'bpe_simple_vocab_16e6.txt'), '-b', '2', '--threads', '1'];
    assertFails(
      run(['train', '-m', start, '-o', join(dir, 'nope', 'run.safetensors'), ...common]),
      2,
      /-o\/--output .*folder .*nope does not exist/,
    );
    assertFails(run(['train', '-m', start, '-o', start, ...common]), 2, /is the model it starts from/);
    assertFails(run(['train', '-m', start, '-o', out, ...common, '--resume']), 2, /--resume: .*does not exist/);
    assertFails(
      run(['train', '-m', start, '-o', out, ...common.slice(2), '--csv', join(dir, 'none.csv')]),
      2,
      /--csv .*none\.csv: no such file/,
    );
    assertFails(
      run(['train', '-m', start, '-o', out, ...common, '--csv', join(dir, 'none.csv')]),
      2,
      /exactly one of --csv, --folder, --folder-classes or --shards/,
    );
    const first = run(['train', '-m', start, '-o', out, ...common]);
    assert.equal(first.status, 0, first.stderr);
    const written = statSync(out).mtimeMs;
    assertFails(
      run(['train', '-m', start, '-o', out, ...common]),
      2,
      /exists: pass --resume to continue that run, or --overwrite/,
    );
    assertFails(
      run(['train', '-m', start, '-o', out, ...common, '-b', '4', '--resume', '-e', '2']),
      2,
      /--resume: .* was started with other --batch-size/,
    );
    assert.equal(statSync(out).mtimeMs, written, 'refusals leave the run untouched');
    const resumed = run(['train', '-m', start, '-o', out, ...common, '--resume', '-e', '2']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout) as { steps: number }).steps, 4);

    // A model whose logit scale is NaN: the loss is NaN at the first step; nothing is written.
    const weights = randomStateDict(CFG, 11);
    const scale = weights.get('logit_scale')!;
    new DataView(scale.bytes.buffer, scale.bytes.byteOffset).setFloat32(0, NaN, true);
    writeSafetensors(join(dir, 'nan.safetensors'), weights);
    const nanOut = join(dir, 'nan-run.safetensors');
    assertFails(
      run(['train', '-m', join(dir, 'nan.safetensors'), '-o', nanOut, ...common]),
      1,
      /the loss is NaN at step 1 .*nothing was saved/,
    );
    assert.equal(existsSync(nanOut), false);
  });
});
