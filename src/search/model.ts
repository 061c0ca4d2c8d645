// The model of an index: loading it with the library's `load` (or `loadInWorker`), and its identity
// (what made the vectors) so that an index never mixes vectors of two models.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { CLIP, LoadedClip, LoadOptions } from '../index.js';
import { sameModel, storedModel, type IndexDb, type ModelIdentity } from './db.js';

/** What an index needs of a loaded model: `load`'s (search: text and images) or `loadInWorker`'s (indexing). */
export type IndexClip = Pick<LoadedClip, 'checkpoint' | 'transform'> & { model: Pick<CLIP, 'config' | 'release'> };

export interface IndexModel<C extends IndexClip = LoadedClip> {
  clip: C;
  identity: ModelIdentity;
}

/** `load`, or `loadInWorker` where the model should not block this thread (indexing). */
export type IndexLoader<C extends IndexClip> = (nameOrPath: string, options: LoadOptions) => Promise<C>;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Loads a model and computes its identity (a local path is recorded absolute, a name as given). */
export async function loadIndexModel<C extends IndexClip>(
  nameOrPath: string,
  options: LoadOptions,
  loader: IndexLoader<C>,
): Promise<IndexModel<C>> {
  const name = existsSync(nameOrPath) ? resolve(nameOrPath) : nameOrPath;
  // No spin-waiting between the model's operators: while indexing, the cores it would spin on
  // are decoding the next batch.
  const clip = await loader(name, { spinning: false, ...options });
  const identity: ModelIdentity = {
    name,
    checkpointSha256: await sha256File(clip.checkpoint),
    preprocessing: { ...clip.transform },
    ...(options.bpePath && { bpe: resolve(options.bpePath) }),
    ...(options.vocabPath && { vocab: resolve(options.vocabPath) }),
  };
  return { clip, identity };
}

/**
 * The model to query an index with: `model` if given (it must be the index's), else the one the
 * index records, with the tokenizer files recorded at index time unless others are given.
 */
export async function modelForIndex<C extends IndexClip>(
  db: IndexDb,
  dbPath: string,
  model: string | undefined,
  options: LoadOptions,
  loader: IndexLoader<C>,
): Promise<IndexModel<C>> {
  const stored = storedModel(db);
  if (!stored) throw new InputError(`${dbPath}: the index is empty (no model recorded); run \`clip index\` first`);
  const opened = await loadIndexModel(
    model ?? stored.name,
    {
      ...options,
      bpePath: options.bpePath ?? (stored.bpe && existsSync(stored.bpe) ? stored.bpe : undefined),
      vocabPath: options.vocabPath ?? (stored.vocab && existsSync(stored.vocab) ? stored.vocab : undefined),
    },
    loader,
  );
  if (!sameModel(stored, opened.identity)) {
    await opened.clip.model.release();
    throw new InputError(
      `${dbPath}: the index was built with ${stored.name}, not ${opened.identity.name} (other weights or transform); ` +
        "search without --model to use the index's model",
    );
  }
  return opened;
}
