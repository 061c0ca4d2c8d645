// The model zoo: which files make up each model, where they are hosted and how to check them.
// Pure data and small functions; downloading lives in download.ts and fetch.ts.
import { at } from '../checked.js';
import { InputError } from '../errors.js';
import type { ConfigOverrides } from '../models/config.js';

/** How a downloaded file is checked when no SHA-256 is published for it. */
export type FileCheck = 'safetensors' | 'torch-zip' | 'json' | 'bpe-merges';

/** One file to fetch: where from, where to keep it (relative to the cache dir) and how to verify it. */
export interface RemoteFile {
  readonly url: string;
  /** Path under the cache directory. */
  readonly dest: string;
  /** Published SHA-256 (hex); when absent, `check` verifies the file's format and size instead. */
  readonly sha256?: string;
  readonly check?: FileCheck;
}

/** An official OpenAI release: a TorchScript archive plus the shared BPE merges file. */
export interface OpenAIModelSource {
  readonly kind: 'openai';
  readonly name: string;
  readonly weights: RemoteFile;
  readonly bpe: RemoteFile;
}

/** A Hugging Face `CLIPModel` repository (weights use HF key names; see weights/keymap/hf.ts). */
export interface HuggingFaceModelSource {
  readonly kind: 'huggingface';
  readonly name: string;
  readonly repo: string;
  /** Alternatives in order of preference: the first one the server has is used. */
  readonly weights: readonly RemoteFile[];
  readonly config: RemoteFile;
  /** open_clip hub repositories without transformers files: open_clip_config.json + open_clip weights. */
  readonly openClip: { readonly config: RemoteFile; readonly weights: readonly RemoteFile[] };
  readonly vocab: RemoteFile;
  readonly merges: RemoteFile;
  /** When the repository has no vocab.json/merges.txt (open_clip's default tokenizer is CLIP's). */
  readonly bpe: RemoteFile;
}

/** A released Chinese-CLIP model: the reference's training-layout checkpoint plus its BERT vocab. */
export interface ChineseClipModelSource {
  readonly kind: 'chinese-clip';
  readonly name: string;
  readonly weights: RemoteFile;
  readonly vocab: RemoteFile;
  /** What the weights cannot tell (ViT-H/14's 80-wide vision heads). */
  readonly overrides: ConfigOverrides;
}

export type ModelSource = OpenAIModelSource | HuggingFaceModelSource | ChineseClipModelSource;

// The reference's clip/clip.py `_MODELS`: the SHA-256 of each file is the URL's second-to-last
// path segment (the reference verifies downloads against it the same way).
const OPENAI_MODELS: Readonly<Record<string, string>> = Object.fromEntries(
  (
    [
      ['RN50', 'afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762', 'RN50.pt'],
      ['RN101', '8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599', 'RN101.pt'],
      ['RN50x4', '7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd', 'RN50x4.pt'],
      ['RN50x16', '52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa', 'RN50x16.pt'],
      ['RN50x64', 'be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c', 'RN50x64.pt'],
      ['ViT-B/32', '40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af', 'ViT-B-32.pt'],
      ['ViT-B/16', '5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f', 'ViT-B-16.pt'],
      ['ViT-L/14', 'b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836', 'ViT-L-14.pt'],
      ['ViT-L/14@336px', '3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02', 'ViT-L-14-336px.pt'],
    ] as const
  ).map(([name, sha256, file]) => [name, `https://openaipublic.azureedge.net/clip/models/${sha256}/${file}`]),
);

/** The tokenizer's merges, as shipped in the openai/CLIP repository (pinned to a commit). */
export const BPE_FILE: RemoteFile = {
  url:
    'https://raw.githubusercontent.com/openai/CLIP/d05afc436d78f1c48dc0dbf8e5980a9d471f35f6/clip/' +
    'bpe_simple_vocab_16e6.txt.gz',
  dest: 'bpe_simple_vocab_16e6.txt.gz',
  sha256: '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a',
};

/** The ViT releases as converted by Hugging Face (same weights, `CLIPModel` naming). */
export const HF_OPENAI_REPOS: Readonly<Record<string, string>> = {
  'ViT-B/32': 'openai/clip-vit-base-patch32',
  'ViT-B/16': 'openai/clip-vit-base-patch16',
  'ViT-L/14': 'openai/clip-vit-large-patch14',
  'ViT-L/14@336px': 'openai/clip-vit-large-patch14-336',
};

export const HF_HUB_PREFIX = 'hf-hub:';
export const CHINESE_CLIP_PREFIX = 'cn-clip/';

// Chinese-CLIP's released checkpoints, as its reference `cn_clip.clip.utils._MODELS` lists them
// (no checksum is published: checked as torch zip files). Heads are width / 64 everywhere except
// ViT-H/14's vision tower (head width 80).
const CN_CLIP_BASE = 'https://clip-cn-beijing.oss-cn-beijing.aliyuncs.com/checkpoints';
const CHINESE_CLIP_MODELS: Readonly<Record<string, { file: string; overrides: ConfigOverrides }>> = {
  RN50: { file: 'clip_cn_rn50.pt', overrides: {} },
  'ViT-B-16': { file: 'clip_cn_vit-b-16.pt', overrides: {} },
  'ViT-L-14': { file: 'clip_cn_vit-l-14.pt', overrides: {} },
  'ViT-L-14-336': { file: 'clip_cn_vit-l-14-336.pt', overrides: {} },
  'ViT-H-14': { file: 'clip_cn_vit-h-14.pt', overrides: { visionHeads: 16 } },
};
/** The BERT vocab all released Chinese-CLIP models share (also in cn_clip/clip/vocab.txt). */
const CHINESE_CLIP_VOCAB: RemoteFile = {
  url: 'https://huggingface.co/OFA-Sys/chinese-clip-vit-base-patch16/resolve/main/vocab.txt',
  dest: 'cn-clip/vocab.txt',
  sha256: '45bbac6b341c319adc98a532532882e91a9cefc0329aa57bac9ae761c27b291c',
};

/** Chinese-CLIP model names for `load` (`cn-clip/ViT-B-16`, ...). */
export function availableChineseClipModels(): string[] {
  return Object.keys(CHINESE_CLIP_MODELS).map((n) => CHINESE_CLIP_PREFIX + n);
}
const HF_ENDPOINT = 'https://huggingface.co';

/** The reference's `clip.available_models()`, in the same order. */
export function availableModels(): string[] {
  return Object.keys(OPENAI_MODELS);
}

/**
 * A reference name (`ViT-B/32`) or `hf-hub:owner/repo` → the files that make up the model.
 * Names are resolved forgivingly when that is unambiguous (see canonicalModelName).
 */
export function resolveModel(name: string): ModelSource {
  const canonical = canonicalModelName(name);
  const url = OPENAI_MODELS[canonical];
  if (url !== undefined) {
    const parts = new URL(url).pathname.split('/');
    const [sha256, file] = parts.slice(-2);
    if (!sha256 || !file) throw new Error(`${url}: expected .../<sha256>/<file>`);
    return { kind: 'openai', name: canonical, weights: { url, dest: file, sha256 }, bpe: BPE_FILE };
  }
  if (canonical.startsWith(HF_HUB_PREFIX)) return huggingFaceSource(canonical, canonical.slice(HF_HUB_PREFIX.length));
  const cn = CHINESE_CLIP_MODELS[canonical.slice(CHINESE_CLIP_PREFIX.length)];
  if (canonical.startsWith(CHINESE_CLIP_PREFIX) && cn) {
    return {
      kind: 'chinese-clip',
      name: canonical,
      overrides: cn.overrides,
      vocab: CHINESE_CLIP_VOCAB,
      weights: { url: `${CN_CLIP_BASE}/${cn.file}`, dest: `cn-clip/${cn.file}`, check: 'torch-zip' },
    };
  }
  if (looksLikePath(name)) {
    throw new InputError(`${name}: no such file (a model given as a path must exist; \`clip models\` lists the names)`);
  }
  const suggestion = closestName(name);
  throw new InputError(
    `model "${name}" not found; ${suggestion ? `did you mean "${suggestion}"? ` : ''}` +
      `available models = ${JSON.stringify(availableModels())}, ` +
      `Chinese-CLIP: ${JSON.stringify(availableChineseClipModels())}, ` +
      `or "${HF_HUB_PREFIX}owner/repo" for a Hugging Face CLIPModel repository ` +
      `(e.g. ${HF_HUB_PREFIX}${HF_OPENAI_REPOS['ViT-B/32']}), or pass a checkpoint file path`,
  );
}

/** Case, "/", "@" and "-" differences and open_clip's "-336" for "@336px" do not matter. */
function nameKey(name: string): string {
  return name
    .toLowerCase()
    .replace(/[/@_\s]/g, '-')
    .replace(/px$/, '');
}

const KNOWN_NAMES = (): string[] => [...availableModels(), ...availableChineseClipModels()];

/**
 * The registry's spelling of `name`: itself when known; else the one known name it matches
 * ignoring case and open_clip's spelling (`vit-b/32`, `ViT-B-32`, `cn-clip/vit-b-16`); else a
 * Hugging Face `owner/repo` with the `hf-hub:` prefix added; else `name` unchanged.
 */
export function canonicalModelName(name: string): string {
  if (OPENAI_MODELS[name] !== undefined || name.startsWith(HF_HUB_PREFIX)) return name;
  const matches = KNOWN_NAMES().filter((known) => nameKey(known) === nameKey(name));
  if (matches.length === 1) return at(matches, 0);
  // owner/repo, unless it looks like a mistyped zoo name (`ViT-B/33`, `cn-clip/ViT-X`).
  const zooLike = /^(vit|rn)/i.test(name) || name.startsWith(CHINESE_CLIP_PREFIX) || closestName(name) !== undefined;
  if (/^[\w.-]+\/[\w.-]+$/.test(name) && !looksLikePath(name) && !zooLike) return HF_HUB_PREFIX + name;
  return name;
}

/** A file path rather than a name: starts like one or ends in a checkpoint extension. */
function looksLikePath(name: string): boolean {
  return (
    /^(\.{1,2}[/\\]|[/\\~])/.test(name) ||
    /\.(pt|pth|bin|safetensors|ckpt|onnx)$/i.test(name) ||
    name.includes('\\') ||
    name.split('/').length > 2
  );
}

/** The known name closest to `name` (edit distance on the forgiving key), if reasonably close. */
function closestName(name: string): string | undefined {
  let best: { known: string; distance: number } | undefined;
  for (const known of KNOWN_NAMES()) {
    const distance = editDistance(nameKey(name), nameKey(known));
    if (!best || distance < best.distance) best = { known, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(nameKey(name).length / 3)) ? best.known : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        at(previous, j) + 1,
        at(current, j - 1) + 1,
        at(previous, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return at(previous, b.length);
}

// Hugging Face publishes no checksum we could pin here (files under `main` may change), so these
// are checked by format and size instead; download.ts also verifies against the SHA-256 the Hub
// sends for large files (`X-Linked-Etag`).
function huggingFaceSource(name: string, repo: string): HuggingFaceModelSource {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.includes('..')) {
    throw new InputError(`"${name}": expected ${HF_HUB_PREFIX}owner/repo (letters, digits, "-", "_", ".")`);
  }
  const file = (path: string, check: FileCheck): RemoteFile => ({
    url: `${HF_ENDPOINT}/${repo}/resolve/main/${path}`,
    dest: `hf/${repo}/${path}`,
    check,
  });
  return {
    kind: 'huggingface',
    name,
    repo,
    weights: [file('model.safetensors', 'safetensors'), file('pytorch_model.bin', 'torch-zip')],
    config: file('config.json', 'json'),
    openClip: {
      config: file('open_clip_config.json', 'json'),
      weights: [file('open_clip_model.safetensors', 'safetensors'), file('open_clip_pytorch_model.bin', 'torch-zip')],
    },
    vocab: file('vocab.json', 'json'),
    merges: file('merges.txt', 'bpe-merges'),
    bpe: BPE_FILE,
  };
}
