// Where downloaded checkpoints, vocab files and compiled ONNX models are kept.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `CLIP_CACHE_DIR` if set, else `~/.cache/clip` (the reference's default download root). */
export function cacheDir(override?: string): string {
  return override ?? process.env.CLIP_CACHE_DIR ?? join(homedir(), '.cache', 'clip');
}
