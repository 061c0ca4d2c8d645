// `clip search` and `clip dupes`: query a photo index built by `clip index`.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InputError } from '../errors.js';
import { parseDate } from '../search/dates.js';
import {
  findDuplicates,
  modelForIndex,
  openIndex,
  parseQuery,
  queryVector,
  searchVector,
  type QueryTerm,
} from '../search/index.js';
import { load } from '../index.js';
import { loadOptions, modelOptions, positiveInt, UsageError } from './options.js';

/** Results one query may return (searchVector pages through at most 4095). */
const MAX_K = 4095;
const topK = (v: string) => {
  const n = positiveInt(v);
  if (n > MAX_K) throw new InvalidArgumentError(`expected at most ${MAX_K}, got "${v}"`);
  return n;
};
const cosine = (v: string) => {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!(n >= -1 && n <= 1)) throw new InvalidArgumentError(`expected a cosine between -1 and 1, got "${v}"`);
  return n;
};
const date = (v: string) => {
  try {
    return parseDate(v, 'date');
  } catch {
    throw new InvalidArgumentError(`expected a date such as 2020-01-31 or 2020-01-31T18:30, got "${v}"`);
  }
};

/** The query argument's terms; a query that cannot be read is a usage error. */
function queryTerms(query: string): QueryTerm[] {
  try {
    return parseQuery(query);
  } catch (e) {
    throw e instanceof InputError ? new UsageError(e.message) : e;
  }
}

export function registerSearch(program: Command): void {
  modelOptions(program.command('search').description('find photos in an index by text, image, or a weighted mix'))
    .argument('[query]', 'a text, or a mix such as \'"a dog" + 0.5*beach.jpg - "blurry"\'')
    .requiredOption('--db <file>', 'the index built by `clip index`')
    .option('-k, --top <k>', `results to print (at most ${MAX_K})`, topK, 20)
    .option('--image <path>', 'search by this image (added to the query if both are given)')
    .option('--min-score <cosine>', 'drop results below this cosine similarity', cosine)
    .option('--after <date>', 'only photos taken on or after this date (EXIF), e.g. 2020-01-01', date)
    .option('--before <date>', 'only photos taken before this date (EXIF)', date)
    .option('--folder <dir>', 'only photos under this folder')
    .option('--camera <text>', 'only photos whose camera make or model contains this')
    .addOption(new Option('--sort <by>', 'order of the results').choices(['score', 'date']).default('score'))
    .addOption(
      new Option(
        '--mode <mode>',
        'exact, or approximate (sign-bit and int8 passes, then exact rescoring); auto: approximate above 100k photos',
      )
        .choices(['auto', 'exact', 'approximate'])
        .default('auto'),
    )
    .option('--paths-only', 'print only the paths, one per line (for piping)')
    .option('--json', 'print one JSON array [{"path", "score"}], best first')
    .addHelpText(
      'after',
      '\nThe model is the one stored in the index (--model only checks it). Examples:\n' +
        '  clip search "a red bicycle at the beach" --db photos.clip.db -k 10\n' +
        '  clip search \'"a dog" + 0.5*beach.jpg - "blurry"\' --db photos.clip.db --after 2020-01-01 --json',
    )
    .action(async (query: string | undefined, o: Record<string, unknown>, cmd: Command) => {
      const terms: QueryTerm[] = query !== undefined ? queryTerms(query) : [];
      if (o.image) terms.push({ weight: 1, image: o.image as string });
      if (!terms.length) throw new UsageError('clip search: give a query text or --image <path>');
      if (o.after !== undefined && o.before !== undefined && (o.after as number) >= (o.before as number))
        throw new UsageError('--after: must be earlier than --before');
      const dbPath = o.db as string;
      const db = openIndex(dbPath, { readonly: true });
      const modelGiven = cmd.getOptionValueSource('model') !== 'default';
      const { clip } = await modelForIndex(
        db,
        dbPath,
        modelGiven ? (o.model as string) : undefined,
        loadOptions(o),
        load,
      );
      const vector = await queryVector(clip, terms);
      await clip.model.release();
      const k = o.top as number;
      const hits = searchVector(db, vector, {
        k,
        minScore: o.minScore as number | undefined,
        sort: o.sort as 'score' | 'date',
        mode: o.mode as 'auto',
        after: o.after as number | undefined,
        before: o.before as number | undefined,
        folder: o.folder as string | undefined,
        camera: o.camera as string | undefined,
      });
      db.close();
      // Exact duplicates share a photo: each of their paths is a result of its own.
      const rows = hits.flatMap((h) => h.paths.map((path) => ({ path, score: h.score }))).slice(0, k);
      if (o.json) console.log(JSON.stringify(rows));
      else if (o.pathsOnly) for (const r of rows) console.log(r.path);
      else for (const r of rows) console.log(`${r.score.toFixed(4)}  ${r.path}`);
    });

  program
    .command('dupes')
    .description('list exact and near-duplicate photos in an index')
    .requiredOption('--db <file>', 'the index built by `clip index`')
    .option('--threshold <cosine>', 'near duplicates: cosine similarity at least this', cosine, 0.95)
    .option('--json', 'print {"exact": [[paths]], "near": [{"paths", "score"}]}')
    .addHelpText('after', '\nExample:\n  clip dupes --db photos.clip.db --threshold 0.97')
    .action((o: Record<string, unknown>) => {
      const db = openIndex(o.db as string, { readonly: true });
      const report = findDuplicates(db, o.threshold as number);
      db.close();
      if (o.json) {
        console.log(JSON.stringify(report));
        return;
      }
      for (const paths of report.exact) console.log(`exact:\n${paths.map((p) => `  ${p}`).join('\n')}`);
      for (const g of report.near)
        console.log(`near (${g.score.toFixed(4)}):\n${g.paths.map((p) => `  ${p}`).join('\n')}`);
      if (!report.exact.length && !report.near.length) console.error('no duplicates');
    });
}
