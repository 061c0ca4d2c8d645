// Chinese-CLIP tokenizer throughput: texts/second and CPU time per text of
// WordPieceTokenizer.tokenize() (context 52) on 10,000 generated mixed Chinese/English captions,
// side by side with the Python reference, cn_clip.clip.tokenize (BERT FullTokenizer), when a
// Python can import cn_clip.
//   node dist/bench/wordpiece.js [--json] [--vocab <vocab.txt>] [--captions <n>] [--rounds <n>]
//     [--python <executable>] [--pythonpath <dir>]
// Protocol, the same on both sides: load the vocabulary (not timed), warm up on 1,000 other
// captions, then time `rounds` passes over the captions in batches of 100; the median pass is
// reported, as wall time and as CPU time (fairer on a shared machine). Every output row of ours
// is compared with the reference's.
// The reference needs torch (cn_clip.clip imports its model module) and cn_clip itself, e.g.
//   apt-get install python3-torch python3-six; pip install --target /tmp/pycn cn_clip --no-deps
//   node dist/bench/wordpiece.js --pythonpath /tmp/pycn      (or CLIP_BENCH_PYTHONPATH=/tmp/pycn)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WordPieceTokenizer } from '../src/text/wordpiece.js';
import { seededUniform } from '../src/models/random.js';
import {
  BATCH,
  LABEL,
  WARMUP,
  differingRows,
  header,
  parseTextBenchOptions,
  pythonCandidates,
  rates,
  row,
  runPythonJson,
  speedup,
  timeOurs,
  withCaptionsFile,
  type Pass,
  type PythonCommand,
} from './text-timing.js';

const CONTEXT_LENGTH = 52;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHINESE_FIXTURES = join(
  process.env.CLIP_SHARED_DIR ?? resolve(repoRoot, '..', 'shared'),
  'fixtures',
  'chinese-clip',
);

// ---- deterministic, varied captions ----

/** Used when the fixtures are absent: captions of the kind Chinese-CLIP is fed (written for this bench). */
const BUILT_IN_FRAGMENTS: readonly string[] = [
  '一只橘猫趴在窗台上晒太阳',
  '两个小孩在海边堆沙堡',
  '夜晚的上海外滩灯火通明',
  '一碗热气腾腾的牛肉面',
  '雪山脚下的湖泊倒映着蓝天',
  '穿着汉服的女孩在古镇里拍照',
  '秋天的银杏叶铺满了小路',
  '一辆红色的自行车停在咖啡馆门口',
  '熊猫正在吃竹子',
  '老人在公园里下象棋',
  '雨后的街道上行人撑着伞',
  '桌上放着一台笔记本电脑和一杯拿铁',
  '高铁驶过金黄色的稻田',
  '北京故宫的红墙和琉璃瓦',
  '一只金毛犬叼着飞盘奔跑',
  '沙漠中的骆驼队',
  '這是一張台北101的夜景照片',
  '香港維多利亞港的日落',
  'A photo of a dog 一张狗的照片',
  'iPhone 手机的产品图',
  '2023年春节的烟花表演',
  '《西游记》插画：孙悟空大闹天宫',
  '美食博主的早餐分享 😋',
  'Nike 运动鞋，白色，42码',
];

/**
 * The fixture categories that read like real captions (not the edge cases: controls, [UNK] bait, 200-letter words…).
 */
const CAPTION_CATEGORIES = new Set([
  'simplified_chinese',
  'traditional_chinese',
  'chinese_punctuation',
  'fullwidth',
  'mixed_chinese_english',
  'english',
  'accents',
  'numbers',
  'emoji',
  'urls',
  'misc',
]);

/**
 * Caption fragments: the 16 captions of the chinese-clip README's "Outputs" section and the
 * caption-like texts of its tokenizer_cases.json, read at run time; else the built-in list.
 */
function loadFragments(): { fragments: string[]; source: string } {
  const readme = join(CHINESE_FIXTURES, 'README.md');
  const cases = join(CHINESE_FIXTURES, 'tokenizer_cases.json');
  if (!existsSync(readme) || !existsSync(cases))
    return { fragments: [...BUILT_IN_FRAGMENTS], source: 'built-in captions, no fixtures found' };
  const outputs = readFileSync(readme, 'utf8').split('## Outputs')[1]?.split('\n## ')[0] ?? '';
  // The captions are listed as: 0. `"一只猫坐在沙发上"`
  const listed = [...outputs.matchAll(/^\d+\. `(".*")`$/gm)].map((m) => JSON.parse(m[1]!) as string);
  const { cases: entries } = JSON.parse(readFileSync(cases, 'utf8')) as { cases: { category: string; text: string }[] };
  const texts = entries.filter((c) => CAPTION_CATEGORIES.has(c.category)).map((c) => c.text);
  const fragments = [...listed, ...texts].filter((t) => t.trim() !== '');
  return {
    fragments,
    source: `${listed.length} README captions + ${texts.length} tokenizer cases from ${CHINESE_FIXTURES}`,
  };
}

const JOINERS = ['，', '。', '；', '、', ' ', '', ', ', '：'];
const ENDINGS = ['', '', '', '。', '！', '？', ' #旅行', ' 😀', '（高清）', ' 4K', ' HD wallpaper', '…'];

/** Captions of 1 to 8 fragments joined by Chinese or ASCII punctuation: short queries to ones past 50 wordpieces. */
function generateCaptions(fragments: readonly string[], count: number, seed: number): string[] {
  const random = seededUniform(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  return Array.from({ length: count }, () => {
    const kind = random();
    const parts = kind < 0.5 ? 1 : kind < 0.8 ? 2 : kind < 0.95 ? 3 : 4 + Math.floor(random() * 5);
    let caption = pick(fragments);
    for (let i = 1; i < parts; i++) caption += pick(JOINERS) + pick(fragments);
    return caption + pick(ENDINGS);
  });
}

// ---- the Python reference ----

/** Times cn_clip.clip.tokenize with the same protocol; the rows are converted after the timing. */
const PYTHON_REFERENCE = String.raw`
import json, sys, time
import cn_clip.clip as clip

captions_path, batch, rounds, context_length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = json.load(open(captions_path, encoding='utf-8'))
for start in range(0, len(data['warmup']), batch):
    clip.tokenize(data['warmup'][start:start+batch], context_length=context_length)
passes = []
for _ in range(rounds):
    tensors = []
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(data['captions']), batch):
        tensors.append(clip.tokenize(data['captions'][start:start+batch], context_length=context_length))
    passes.append({'wall': time.perf_counter() - wall, 'cpu': time.process_time() - cpu})
rows = [row for t in tensors for row in t.tolist()]
json.dump({'passes': passes, 'rows': rows, 'python': sys.version.split()[0]}, sys.stdout)
`;

/**
 * The first of $PYTHON (or --python), else /usr/bin/python3 (Debian's, where python3-torch
 * installs) and python3, that can import cn_clip.clip; `pythonPath` goes in front of PYTHONPATH.
 * A string says why there is none.
 */
function findPython(pythonPath: string | undefined, given: string | undefined): PythonCommand | string {
  const failures: string[] = [];
  for (const python of pythonCandidates(pythonPath, given)) {
    const probe = spawnSync(python.executable, ['-c', 'import cn_clip.clip'], { encoding: 'utf8', env: python.env });
    if (!probe.error && probe.status === 0) return python;
    failures.push(`${python.executable}: ${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)}`);
  }
  return (
    `the Python reference (cn_clip) is not available (${failures.join('; ')}); ` +
    'install it with `pip install --target DIR cn_clip --no-deps` (it also needs torch and six) and pass ' +
    '--pythonpath DIR'
  );
}

interface PythonResult {
  passes: Pass[];
  rows: number[][];
  python: string;
  executable: string;
}

function runPython(python: PythonCommand, captionsFile: string, rounds: number): PythonResult | string {
  const result = runPythonJson<Omit<PythonResult, 'executable'>>(python, PYTHON_REFERENCE, [
    captionsFile,
    String(BATCH),
    String(rounds),
    String(CONTEXT_LENGTH),
  ]);
  return typeof result === 'string' ? result : { ...result, executable: python.executable };
}

function main(): void {
  const opts = parseTextBenchOptions(
    'bench-wordpiece',
    {
      option: 'vocab',
      description: 'BERT vocab.txt (default: $CLIP_VOCAB_PATH, else the ../shared chinese-clip fixture)',
    },
    'cn_clip',
  );
  const vocabPath = opts.vocab ?? process.env.CLIP_VOCAB_PATH ?? join(CHINESE_FIXTURES, 'vocab.txt');
  if (!existsSync(vocabPath)) {
    console.log(`SKIPPED wordpiece bench: no vocab.txt at ${vocabPath} (pass --vocab <path> or set CLIP_VOCAB_PATH)`);
    return;
  }
  const { fragments, source } = loadFragments();
  const captions = generateCaptions(fragments, opts.captions, 1);
  const warmup = generateCaptions(fragments, WARMUP, 2);
  const tokenizer = WordPieceTokenizer.fromVocabFile(vocabPath);
  const ours = timeOurs(
    (texts) => tokenizer.tokenize(texts, { contextLength: CONTEXT_LENGTH }),
    captions,
    warmup,
    opts.rounds,
  );
  const oursRates = rates(ours.passes, captions.length);
  const lengths = ours.rows.map((r) => r.indexOf(tokenizer.separatorToken) + 1);
  const meanTokens = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  const truncated = captions.filter((c) => tokenizer.encode(c).length > CONTEXT_LENGTH - 2).length;

  const record: Record<string, unknown> = {
    bench: 'wordpiece',
    captions: captions.length,
    captionSource: source,
    batch: BATCH,
    rounds: opts.rounds,
    contextLength: CONTEXT_LENGTH,
    meanTokens: Number(meanTokens.toFixed(1)),
    truncated,
    ours: { ...oursRates, node: process.versions.node },
    oursTextsPerSecond: oursRates.textsPerSecond,
  };
  const lines = [
    `wordpiece (Chinese-CLIP): ${captions.length} captions (${source}), mean ${meanTokens.toFixed(1)} tokens, ` +
      `${truncated} truncated;`,
    `  batches of ${BATCH}; median of ${opts.rounds} passes after a warm-up`,
    header(),
    `  ${'clip-ts'.padEnd(LABEL)} ${row(oursRates)}  (Node ${process.versions.node})`,
  ];

  const setup = findPython(opts.pythonpath ?? process.env.CLIP_BENCH_PYTHONPATH, opts.python ?? process.env.PYTHON);
  const result =
    typeof setup === 'string'
      ? setup
      : withCaptionsFile(captions, warmup, (file) => runPython(setup, file, opts.rounds));
  if (typeof result === 'string') {
    record.python = { skipped: result };
    lines.push(`  ${'python reference'.padEnd(LABEL)} SKIPPED: ${result}`);
  } else {
    const pyRates = rates(result.passes, captions.length);
    const differing = differingRows(ours.rows, result.rows);
    const ratio = speedup(oursRates, pyRates);
    record.python = {
      ...pyRates,
      executable: result.executable,
      version: result.python,
      rowsDiffering: differing.length,
    };
    Object.assign(record, { pythonTextsPerSecond: pyRates.textsPerSecond, ratio: ratio.wall, cpuRatio: ratio.cpu });
    lines.push(
      `  ${'cn_clip (python)'.padEnd(LABEL)} ${row(pyRates)}  ` +
        `${differing.length === 0 ? 'rows identical' : `${differing.length} rows differ`} (Python ${result.python})`,
    );
    lines.push(`  ratio clip-ts vs cn_clip: ${ratio.wall}x by wall time, ${ratio.cpu}x by CPU time`);
    if (differing.length > 0) {
      // A speed figure for wrong output means nothing: say which text and fail the run.
      lines.push(`  MISMATCH on caption ${differing[0]}: ${JSON.stringify(captions[differing[0]!])}`);
      process.exitCode = 1;
    }
  }
  console.log(opts.json ? JSON.stringify(record) : lines.join('\n'));
}

main();
