// Tokenizer throughput: texts/second of tokenize() on 10,000 generated captions, side by side with
// the Python reference tokenizer on the same captions when python3 has `regex` (and `ftfy`).
//   node dist/bench/tokenize.js [--json] [--bpe <merges file>] [--captions <n>]
// Protocol, the same on both sides: load the vocabulary (not timed), warm up on 1,000 other
// captions, then time one pass over the captions in batches of 100 with truncate=True.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { fixText } from '../src/text/ftfy/index.js';
import { Tokenizer } from '../src/text/tokenizer.js';
import { DEFAULT_BPE_FILE, findMergesFile } from '../src/text/vocab.js';

const BATCH = 100;
const WARMUP = 1000;

// ---- deterministic, varied captions ----

/** mulberry32: a small seeded PRNG, so every run (and the Python side) sees the same captions. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SUBJECTS = ['dog', 'cat', 'golden retriever', 'tabby kitten', 'horse', 'red fox', 'owl', 'child', 'woman', 'man', 'group of friends',
  'chef', 'cyclist', 'surfer', 'astronaut', 'old fishing boat', 'vintage car', 'steam locomotive', 'bowl of ramen', 'slice of pizza',
  'cup of coffee', 'lighthouse', 'skyscraper', 'cathedral', 'bridge', 'mountain lake', 'waterfall', 'sunflower', 'cactus', 'robot'];
const ADJECTIVES = ['small', 'large', 'old', 'shiny', 'blurry', 'colourful', 'black and white', 'bright', 'dark', 'wet', 'snow-covered',
  'hand-drawn', 'tiny', 'giant', 'rusty', 'cute', 'famous', 'empty', 'crowded', 'ancient'];
const ACTIONS = ['sitting', 'running', 'sleeping', 'standing', 'jumping', 'waiting', 'floating', 'parked', 'resting', 'glowing'];
const PLACES = ['on a beach at sunset', 'in a busy street', 'next to a window', 'in the snow', 'under a clear blue sky', 'in a forest',
  'on a wooden table', 'in front of a brick wall', 'at night', 'in the rain', 'on top of a hill', 'in a kitchen', 'near the harbour',
  'in Zürich', 'outside a café in Montréal', 'in Kyoto', 'at the Musée d’Orsay', 'by the Río Grande'];
const STYLES = ['a photo of', 'a close-up photo of', 'a painting of', 'a sketch of', 'an illustration of', 'a 3D render of',
  'a low resolution photo of', 'a cropped photo of', 'a black and white photo of', 'a satellite image of', 'a cartoon', 'art of'];
const EXTRAS = ['', '', '', ' #travel #photography', ' 😀', ' 🐶❤️', ' (2019)', ' — shot on 35mm film', ' [stock photo]', ' &amp; friends',
  ', 4K, HDR', ' 猫の写真', ' 강아지', ' “award-winning”', ' don’t miss it!', ' … and more', ' v2.0', ' 100% organic', ' @home'];
const CLAUSES = ['while two people walk past', 'with mountains in the background', 'surrounded by autumn leaves',
  'as the light fades behind the hills', 'with a reflection in the water below', 'next to a sign that reads "open 24 hours"',
  'and a dog watching from the doorway', 'beside a stack of old books and a half-empty glass of wine'];

/** Captions from 2 words to a few that overflow 77 tokens: prompts, alt-text, long descriptions. */
function generateCaptions(count: number, seed: number): string[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const captions: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = random();
    let caption: string;
    if (kind < 0.3) caption = `${pick(STYLES)} a ${pick(SUBJECTS)}.`;
    else if (kind < 0.55) caption = `${pick(SUBJECTS)} ${pick(PLACES)}`;
    else if (kind < 0.85) caption = `A ${pick(ADJECTIVES)} ${pick(SUBJECTS)} ${pick(ACTIONS)} ${pick(PLACES)}, ${pick(CLAUSES)}${pick(EXTRAS)}`;
    else {
      const clauses = Array.from({ length: 3 + Math.floor(random() * 6) }, () => `${pick(ADJECTIVES)} ${pick(SUBJECTS)} ${pick(ACTIONS)} ${pick(PLACES)} ${pick(CLAUSES)}`);
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
 * result. ftfy is used when importable; otherwise cleaning skips it (and says so).
 */
const PYTHON_REFERENCE = String.raw`
import gzip, html, json, sys, time
from functools import lru_cache
import regex as re
try:
    import ftfy
    fix_text = ftfy.fix_text
    ftfy_version = ftfy.__version__
except ImportError:
    fix_text = lambda text: text
    ftfy_version = None

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
        self.pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)

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

bpe_path, captions_path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(captions_path, encoding='utf-8'))
tokenizer = SimpleTokenizer(bpe_path)
for start in range(0, len(data['warmup']), batch):
    tokenize(tokenizer, data['warmup'][start:start+batch], truncate=True)
rows = []
t0 = time.perf_counter()
for start in range(0, len(data['captions']), batch):
    rows.extend(tokenize(tokenizer, data['captions'][start:start+batch], truncate=True))
seconds = time.perf_counter() - t0
json.dump({'seconds': seconds, 'rows': rows, 'ftfy': ftfy_version, 'regex': re.__version__, 'python': sys.version.split()[0]}, sys.stdout)
`;

interface PythonResult { seconds: number; rows: number[][]; ftfy: string | null; regex: string; python: string }

/** Runs the Python reference, or returns why it can't. */
function runPython(bpePath: string, captions: string[], warmup: string[]): PythonResult | string {
  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import regex'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return `${python} with the regex module is not available (Debian: apt-get install python3-regex; ftfy: python3-ftfy where it exists)`;
  }
  if (!bpePath.endsWith('.gz')) return `the Python reference reads a gzip'd merges file; ${bpePath} is not one`;
  const dir = mkdtempSync(join(tmpdir(), 'clip-bench-tok-'));
  try {
    const input = join(dir, 'captions.json');
    writeFileSync(input, JSON.stringify({ captions, warmup }));
    const run = spawnSync(python, ['-c', PYTHON_REFERENCE, bpePath, input, String(BATCH)], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (run.status !== 0) return `the Python reference failed: ${run.stderr.trim().split('\n').at(-1)}`;
    return JSON.parse(run.stdout) as PythonResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main ----

function timeOurs(tokenizer: Tokenizer, captions: string[], warmup: string[]): { seconds: number; rows: Int32Array[] } {
  for (let s = 0; s < warmup.length; s += BATCH) tokenizer.tokenize(warmup.slice(s, s + BATCH), { truncate: true });
  const rows: Int32Array[] = [];
  const t0 = performance.now();
  for (let s = 0; s < captions.length; s += BATCH) {
    const { data, shape } = tokenizer.tokenize(captions.slice(s, s + BATCH), { truncate: true });
    for (let r = 0; r < shape[0]!; r++) rows.push(data.subarray(r * shape[1]!, (r + 1) * shape[1]!));
  }
  return { seconds: (performance.now() - t0) / 1000, rows };
}

/** --bpe, else $CLIP_BPE_PATH or the cache, else the golden fixtures' copy beside the checkout. */
function locateMerges(given?: string): string | undefined {
  if (given) return given;
  try {
    return findMergesFile();
  } catch {
    const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const shared = join(process.env.CLIP_SHARED_DIR ?? resolve(repoRoot, '..', 'shared'), 'fixtures', 'openai-clip', DEFAULT_BPE_FILE);
    return existsSync(shared) ? shared : undefined;
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

function main(): void {
  const opts = new Command('bench-tokenize')
    .option('--json', 'print one JSON line instead of text')
    .option('--bpe <path>', 'merges file (default: $CLIP_BPE_PATH, the cache, or ../shared fixtures)')
    .option('--captions <n>', 'number of captions', positiveInt, 10_000)
    .parse()
    .opts<{ json?: boolean; bpe?: string; captions: number }>();
  const bpePath = locateMerges(opts.bpe);
  if (bpePath === undefined) {
    console.log(`SKIPPED tokenize bench: no ${DEFAULT_BPE_FILE} (pass --bpe <path> or set CLIP_BPE_PATH)`);
    return;
  }
  const captions = generateCaptions(opts.captions, 1);
  const warmup = generateCaptions(WARMUP, 2);
  const tokenizer = Tokenizer.fromMergesFile(bpePath);
  const ours = timeOurs(tokenizer, captions, warmup);
  const lengths = ours.rows.map((row) => row.indexOf(tokenizer.eotToken) + 1);
  const meanTokens = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  const truncated = captions.filter((c) => tokenizer.encode(c).length + 2 > 77).length;
  const oursRate = captions.length / ours.seconds;
  // fixText's share, for reading the ratio when the Python side has no ftfy.
  const t0 = performance.now();
  for (const caption of captions) fixText(caption);
  const fixTextShare = (performance.now() - t0) / 1000 / ours.seconds;

  const python = runPython(bpePath, captions, warmup);
  const record: Record<string, unknown> = {
    bench: 'tokenize', captions: captions.length, batch: BATCH, meanTokens: Number(meanTokens.toFixed(1)), truncated,
    oursTextsPerSecond: Math.round(oursRate), fixTextShare: Number(fixTextShare.toFixed(2)),
  };
  let comparison: string[];
  if (typeof python === 'string') {
    record.python = { skipped: python };
    comparison = [`  python reference  SKIPPED: ${python}`];
  } else {
    const pyRate = captions.length / python.seconds;
    // Rows that differ are expected only where ftfy would change the text and Python ran without it.
    const differing = captions.map((_, i) => i).filter((i) => !ours.rows[i]!.every((v, j) => v === python.rows[i]![j]));
    const explained = python.ftfy === null ? differing.filter((i) => fixText(captions[i]!) !== captions[i]).length : 0;
    Object.assign(record, {
      pythonTextsPerSecond: Math.round(pyRate), ratio: Number((oursRate / pyRate).toFixed(2)),
      python: { version: python.python, regex: python.regex, ftfy: python.ftfy }, rowsDiffering: differing.length, rowsDifferingWhereFtfyChangesText: explained,
    });
    const ftfyNote = python.ftfy === null ? 'ftfy not installed: its cleaning skips ftfy, ours runs fixText' : `ftfy ${python.ftfy}`;
    comparison = [
      `  python reference  ${Math.round(pyRate).toLocaleString('en-US').padStart(9)} texts/s  (Python ${python.python}, regex ${python.regex}, ${ftfyNote})`,
      `  ratio             ${(oursRate / pyRate).toFixed(2)}x faster than the reference`,
      `  identical rows    ${captions.length - differing.length}/${captions.length}`
        + (differing.length ? ` (${explained} of the ${differing.length} others are texts that ftfy changes)` : ''),
    ];
  }
  if (opts.json) {
    console.log(JSON.stringify(record));
    return;
  }
  console.log(`tokenize: ${captions.length} captions, mean ${meanTokens.toFixed(1)} tokens, ${truncated} truncated; batches of ${BATCH}, truncate=true`);
  console.log(`  clip-ts           ${Math.round(oursRate).toLocaleString('en-US').padStart(9)} texts/s  (Node ${process.versions.node}; fixText ≈ ${Math.round(100 * fixTextShare)}% of it)`);
  for (const line of comparison) console.log(line);
}

main();
