// Tokenizer throughput: texts/second and CPU time per text of tokenize() on 10,000 generated
// captions, side by side with the Python reference tokenizer on the same captions: ftfy.fix_text
// + the regex module + SimpleTokenizer, as clip.tokenize runs it, and the same without ftfy.
//   node dist/bench/tokenize.js [--json] [--bpe <merges file>] [--captions <n>] [--rounds <n>]
//     [--python <executable>] [--pythonpath <dir>]
// Protocol, the same on both sides: load the vocabulary (not timed), warm up on 1,000 other
// captions, then time `rounds` passes over the captions in batches of 100 with truncate=True;
// the median pass is reported, as wall time and as CPU time (fairer on a shared machine).
// Every output row of ours is compared with the reference's.
// The Python side needs `regex` (Debian: apt-get install python3-regex) and ftfy 6.3.1, which
// Debian doesn't package; from a pip index:
//   pip install --target /tmp/pyftfy ftfy==6.3.1 wcwidth
//   node dist/bench/tokenize.js --pythonpath /tmp/pyftfy      (or CLIP_BENCH_PYTHONPATH=/tmp/pyftfy)
// Without ftfy the comparison is with the reference minus ftfy, and says so.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixText } from '../src/text/ftfy/index.js';
import { Tokenizer } from '../src/text/tokenizer.js';
import { DEFAULT_BPE_FILE } from '../src/text/vocab.js';
import { findMergesFile } from '../src/zoo/tokenizer.js';
import { seededUniform } from '../src/models/random.js';
import {
  BATCH,
  LABEL,
  WARMUP,
  differingRows,
  header,
  medianPass,
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

// ---- deterministic, varied captions ----

const SUBJECTS = [
  'dog',
  'cat',
  'golden retriever',
  'tabby kitten',
  'horse',
  'red fox',
  'owl',
  'child',
  'woman',
  'man',
  'group of friends',
  'chef',
  'cyclist',
  'surfer',
  'astronaut',
  'old fishing boat',
  'vintage car',
  'steam locomotive',
  'bowl of ramen',
  'slice of pizza',
  'cup of coffee',
  'lighthouse',
  'skyscraper',
  'cathedral',
  'bridge',
  'mountain lake',
  'waterfall',
  'sunflower',
  'cactus',
  'robot',
];
const ADJECTIVES = [
  'small',
  'large',
  'old',
  'shiny',
  'blurry',
  'colourful',
  'black and white',
  'bright',
  'dark',
  'wet',
  'snow-covered',
  'hand-drawn',
  'tiny',
  'giant',
  'rusty',
  'cute',
  'famous',
  'empty',
  'crowded',
  'ancient',
];
const ACTIONS = [
  'sitting',
  'running',
  'sleeping',
  'standing',
  'jumping',
  'waiting',
  'floating',
  'parked',
  'resting',
  'glowing',
];
const PLACES = [
  'on a beach at sunset',
  'in a busy street',
  'next to a window',
  'in the snow',
  'under a clear blue sky',
  'in a forest',
  'on a wooden table',
  'in front of a brick wall',
  'at night',
  'in the rain',
  'on top of a hill',
  'in a kitchen',
  'near the harbour',
  'in Zürich',
  'outside a café in Montréal',
  'in Kyoto',
  'at the Musée d’Orsay',
  'by the Río Grande',
];
const STYLES = [
  'a photo of',
  'a close-up photo of',
  'a painting of',
  'a sketch of',
  'an illustration of',
  'a 3D render of',
  'a low resolution photo of',
  'a cropped photo of',
  'a black and white photo of',
  'a satellite image of',
  'a cartoon',
  'art of',
];
const EXTRAS = [
  '',
  '',
  '',
  ' #travel #photography',
  ' 😀',
  ' 🐶❤️',
  ' (2019)',
  ' — shot on 35mm film',
  ' [stock photo]',
  ' &amp; friends',
  ', 4K, HDR',
  ' 猫の写真',
  ' 강아지',
  ' “award-winning”',
  ' don’t miss it!',
  ' … and more',
  ' v2.0',
  ' 100% organic',
  ' @home',
];
const CLAUSES = [
  'while two people walk past',
  'with mountains in the background',
  'surrounded by autumn leaves',
  'as the light fades behind the hills',
  'with a reflection in the water below',
  'next to a sign that reads "open 24 hours"',
  'and a dog watching from the doorway',
  'beside a stack of old books and a half-empty glass of wine',
];

/** Captions from 2 words to a few that overflow 77 tokens: prompts, alt-text, long descriptions. */
function generateCaptions(count: number, seed: number): string[] {
  const random = seededUniform(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const captions: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = random();
    let caption: string;
    if (kind < 0.3) caption = `${pick(STYLES)} a ${pick(SUBJECTS)}.`;
    else if (kind < 0.55) caption = `${pick(SUBJECTS)} ${pick(PLACES)}`;
    else if (kind < 0.85)
      caption =
        `A ${pick(ADJECTIVES)} ${pick(SUBJECTS)} ${pick(ACTIONS)} ${pick(PLACES)}, ` +
        `${pick(CLAUSES)}${pick(EXTRAS)}`;
    else {
      const clauses = Array.from(
        { length: 3 + Math.floor(random() * 6) },
        () => `${pick(ADJECTIVES)} ${pick(SUBJECTS)} ${pick(ACTIONS)} ${pick(PLACES)} ${pick(CLAUSES)}`,
      );
      caption = `${pick(STYLES)} ${clauses.join('; ')}.${pick(EXTRAS)}`;
    }
    if (random() < 0.1) caption = caption.toUpperCase();
    if (random() < 0.05) caption = `  ${caption.replaceAll(' ', '  ')}\n`;
    captions.push(caption);
  }
  return captions;
}

// ---- the Python reference ----

/**
 * Mirrors clip/simple_tokenizer.py (SimpleTokenizer: bytes_to_unicode, get_pairs, basic_clean,
 * whitespace_clean, bpe, encode) and clip.tokenize of openai/CLIP, which isn't installable here;
 * the algorithm is the reference's line for line, with lists instead of a torch tensor for the
 * result. basic_clean calls ftfy.fix_text when asked to (the reference), else skips it.
 */
const PYTHON_REFERENCE = String.raw`
import gzip, html, json, sys, time
from functools import lru_cache
import regex as re

bpe_path, captions_path = sys.argv[1], sys.argv[2]
batch, rounds, with_ftfy = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == '1'
if with_ftfy:
    import ftfy
    fix_text = ftfy.fix_text
else:
    fix_text = lambda text: text

@lru_cache()
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~")+1))+list(range(ord("¡"), ord("¬")+1))+list(range(ord("®"), ord("ÿ")+1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8+n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))

def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs

def basic_clean(text):
    text = fix_text(text)
    text = html.unescape(html.unescape(text))
    return text.strip()

def whitespace_clean(text):
    text = re.sub(r'\s+', ' ', text)
    text = text.strip()
    return text

class SimpleTokenizer(object):
    def __init__(self, bpe_path):
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        merges = gzip.open(bpe_path).read().decode("utf-8").split('\n')
        merges = merges[1:49152-256-2+1]
        merges = [tuple(merge.split()) for merge in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v+'</w>' for v in vocab]
        for merge in merges:
            vocab.append(''.join(merge))
        vocab.extend(['<|startoftext|>', '<|endoftext|>'])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {'<|startoftext|>': '<|startoftext|>', '<|endoftext|>': '<|endoftext|>'}
        self.pat = re.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            re.IGNORECASE)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + ( token[-1] + '</w>',)
        pairs = get_pairs(word)
        if not pairs:
            return token+'</w>'
        while True:
            bigram = min(pairs, key = lambda pair: self.bpe_ranks.get(pair, float('inf')))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word)-1 and word[i+1] == second:
                    new_word.append(first+second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            new_word = tuple(new_word)
            word = new_word
            if len(word) == 1:
                break
            else:
                pairs = get_pairs(word)
        word = ' '.join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(basic_clean(text)).lower()
        for token in re.findall(self.pat, text):
            token = ''.join(self.byte_encoder[b] for b in token.encode('utf-8'))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(' '))
        return bpe_tokens

def tokenize(tokenizer, texts, context_length=77, truncate=False):
    if isinstance(texts, str):
        texts = [texts]
    sot_token = tokenizer.encoder["<|startoftext|>"]
    eot_token = tokenizer.encoder["<|endoftext|>"]
    all_tokens = [[sot_token] + tokenizer.encode(text) + [eot_token] for text in texts]
    result = [[0] * context_length for _ in all_tokens]
    for i, tokens in enumerate(all_tokens):
        if len(tokens) > context_length:
            if truncate:
                tokens = tokens[:context_length]
                tokens[-1] = eot_token
            else:
                raise RuntimeError(f"Input {texts[i]} is too long for context length {context_length}")
        result[i][:len(tokens)] = tokens
    return result

data = json.load(open(captions_path, encoding='utf-8'))
tokenizer = SimpleTokenizer(bpe_path)
for start in range(0, len(data['warmup']), batch):
    tokenize(tokenizer, data['warmup'][start:start+batch], truncate=True)
passes = []
for _ in range(rounds):
    rows = []
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(data['captions']), batch):
        rows.extend(tokenize(tokenizer, data['captions'][start:start+batch], truncate=True))
    passes.append({'wall': time.perf_counter() - wall, 'cpu': time.process_time() - cpu})
json.dump({'passes': passes, 'rows': rows}, sys.stdout)
`;

/** What the chosen python3 can import; regex null means it can't run the reference at all. */
const PYTHON_PROBE = String.raw`
import json, sys
found = {'python': sys.version.split()[0], 'regex': None, 'ftfy': None}
try:
    import regex
    found['regex'] = regex.__version__
    import ftfy
    found['ftfy'] = ftfy.__version__
except ImportError:
    pass
print(json.dumps(found))
`;

interface PythonSetup extends PythonCommand {
  python: string;
  regex: string;
  ftfy: string | null;
}
interface PythonResult {
  passes: Pass[];
  rows: number[][];
}

/**
 * The Python to run the reference with: $PYTHON, else Debian's /usr/bin/python3 (whose
 * python3-regex is the reference's regex 2022.10.31) or python3 on the PATH, preferring one that
 * also has ftfy; `pythonPath` goes in front of PYTHONPATH. A string says why there is none.
 */
function findPython(pythonPath: string | undefined, given: string | undefined): PythonSetup | string {
  const candidates = pythonCandidates(pythonPath, given);
  const usable: PythonSetup[] = [];
  for (const { executable, env } of candidates) {
    const probe = spawnSync(executable, ['-c', PYTHON_PROBE], { encoding: 'utf8', env });
    if (probe.error || probe.status !== 0) continue;
    const found = JSON.parse(probe.stdout) as { python: string; regex: string | null; ftfy: string | null };
    if (found.regex !== null)
      usable.push({ executable, env, python: found.python, regex: found.regex, ftfy: found.ftfy });
  }
  return (
    usable.find((p) => p.ftfy !== null) ??
    usable[0] ??
    `no ${candidates.map((c) => c.executable).join(' or ')} with the regex module (Debian: apt-get install ` +
      `python3-regex)`
  );
}

/** Runs the Python reference, with or without ftfy, or returns why it failed. */
function runPython(
  setup: PythonSetup,
  withFtfy: boolean,
  bpePath: string,
  captionsFile: string,
  rounds: number,
): PythonResult | string {
  return runPythonJson<PythonResult>(setup, PYTHON_REFERENCE, [
    bpePath,
    captionsFile,
    String(BATCH),
    String(rounds),
    withFtfy ? '1' : '0',
  ]);
}

/** --bpe, else $CLIP_BPE_PATH or the cache, else the golden fixtures' copy beside the checkout. */
function locateMerges(given?: string): string | undefined {
  if (given) return given;
  try {
    return findMergesFile();
  } catch {
    const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const shared = join(
      process.env.CLIP_SHARED_DIR ?? resolve(repoRoot, '..', 'shared'),
      'fixtures',
      'openai-clip',
      DEFAULT_BPE_FILE,
    );
    return existsSync(shared) ? shared : undefined;
  }
}

function main(): void {
  const opts = parseTextBenchOptions(
    'bench-tokenize',
    { option: 'bpe', description: 'merges file (default: $CLIP_BPE_PATH, the cache, or ../shared fixtures)' },
    'ftfy',
  );
  const bpePath = locateMerges(opts.bpe);
  if (bpePath === undefined) {
    console.log(`SKIPPED tokenize bench: no ${DEFAULT_BPE_FILE} (pass --bpe <path> or set CLIP_BPE_PATH)`);
    return;
  }
  const captions = generateCaptions(opts.captions, 1);
  const warmup = generateCaptions(WARMUP, 2);
  const tokenizer = Tokenizer.fromMergesFile(bpePath);
  const ours = timeOurs((texts) => tokenizer.tokenize(texts, { truncate: true }), captions, warmup, opts.rounds);
  const oursRates = rates(ours.passes, captions.length);
  const lengths = ours.rows.map((row) => row.indexOf(tokenizer.eotToken) + 1);
  const meanTokens = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  const truncated = captions.filter((c) => tokenizer.encode(c).length + 2 > 77).length;
  // fixText's share of our CPU time.
  const cpu = process.cpuUsage();
  for (const caption of captions) fixText(caption);
  const used = process.cpuUsage(cpu);
  const fixTextShare = (used.user + used.system) / 1e6 / medianPass(ours.passes).cpu;

  const record: Record<string, unknown> = {
    bench: 'tokenize',
    captions: captions.length,
    batch: BATCH,
    rounds: opts.rounds,
    meanTokens: Number(meanTokens.toFixed(1)),
    truncated,
    ours: { ...oursRates, node: process.versions.node, fixTextCpuShare: Number(fixTextShare.toFixed(2)) },
    oursTextsPerSecond: oursRates.textsPerSecond,
  };
  const lines = [
    `tokenize: ${captions.length} captions, mean ${meanTokens.toFixed(1)} tokens, ${truncated} truncated; batches ` +
      `of ${BATCH}, truncate=true; median of ${opts.rounds} passes after a warm-up`,
    header(),
    `  ${'clip-ts'.padEnd(LABEL)} ${row(oursRates)}  (Node ${process.versions.node}; fixText ≈ ` +
      `${Math.round(100 * fixTextShare)}% of its CPU time)`,
  ];

  const setup = findPython(opts.pythonpath ?? process.env.CLIP_BENCH_PYTHONPATH, opts.python ?? process.env.PYTHON);
  if (typeof setup === 'string') {
    record.python = { skipped: setup };
    lines.push(`  python reference  SKIPPED: ${setup}`);
  } else {
    record.python = { executable: setup.executable, version: setup.python, regex: setup.regex, ftfy: setup.ftfy };
    withCaptionsFile(captions, warmup, (input) => {
      const sides = setup.ftfy === null ? [false] : [true, false];
      let ratioLine: string | undefined;
      for (const withFtfy of sides) {
        const name = withFtfy ? `python + ftfy ${setup.ftfy}` : 'python, no ftfy';
        const key = withFtfy ? 'withFtfy' : 'withoutFtfy';
        const result = runPython(setup, withFtfy, bpePath, input, opts.rounds);
        if (typeof result === 'string') {
          (record.python as Record<string, unknown>)[key] = { failed: result };
          lines.push(`  ${name.padEnd(LABEL)} FAILED: ${result}`);
          continue;
        }
        const pyRates = rates(result.passes, captions.length);
        // Without ftfy, rows may differ only where ftfy would change the text.
        const differing = differingRows(ours.rows, result.rows);
        const unexplained = withFtfy
          ? differing.length
          : differing.filter((i) => fixText(captions[i]!) === captions[i]).length;
        (record.python as Record<string, unknown>)[key] = {
          ...pyRates,
          rowsDiffering: differing.length,
          rowsDifferingUnexplained: unexplained,
        };
        lines.push(
          `  ${name.padEnd(LABEL)} ${row(pyRates)}  ` +
            `${differing.length === 0 ? 'rows identical' : `${differing.length} rows differ`}` +
            (withFtfy ? '' : ` (${differing.length - unexplained} where ftfy changes the text)`),
        );
        if (unexplained > 0) {
          // A speed figure for wrong output means nothing: say which text and fail the run.
          const first = withFtfy ? differing[0]! : differing.find((i) => fixText(captions[i]!) === captions[i])!;
          lines.push(`  MISMATCH on caption ${first}: ${JSON.stringify(captions[first])}`);
          process.exitCode = 1;
        }
        if (withFtfy === sides[0]) {
          // The ratio is against the reference pipeline itself when ftfy is there.
          const ratio = speedup(oursRates, pyRates);
          Object.assign(record, {
            pythonTextsPerSecond: pyRates.textsPerSecond,
            ratio: ratio.wall,
            cpuRatio: ratio.cpu,
            ratioAgainst: name,
          });
          ratioLine =
            `  ratio vs ${name}: ${ratio.wall}x by wall time, ${ratio.cpu}x by CPU time` +
            (withFtfy
              ? ''
              : `\n  (ftfy not importable by ${setup.executable}: pip install --target DIR ftfy==6.3.1 wcwidth, ` +
                `then --pythonpath DIR)`);
        }
      }
      lines.push(`  (Python ${setup.python}, regex ${setup.regex}: ${setup.executable})`);
      if (ratioLine !== undefined) lines.push(ratioLine);
    });
  }
  console.log(opts.json ? JSON.stringify(record) : lines.join('\n'));
}

main();
