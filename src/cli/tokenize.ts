// `clip tokenize`: token ids of texts (clip.tokenize), or texts back from ids (--decode).
import { at } from '../checked.js';
import type { Command } from 'commander';
import { defaultTokenizer } from '../zoo/tokenizer.js';
import { positiveInt, UsageError } from './options.js';

interface TokenizeCliOptions {
  decode?: boolean;
  bpe?: string;
  contextLength: number;
  truncate?: boolean;
  pad?: boolean;
}

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description('print the token ids of each text, one line per text (SOT … EOT; --pad for the whole row)')
    .argument('<inputs...>', 'texts, or token ids with --decode')
    .option('--decode', 'the inputs are token ids: print the text they decode to')
    .option('--bpe <path>', 'merges file (default: $CLIP_BPE_PATH, else bpe_simple_vocab_16e6.txt.gz in the cache)')
    .option('--context-length <n>', 'row length, SOT and EOT included (at least 2)', positiveInt, 77)
    .option('--truncate', 'cut texts longer than the context instead of failing')
    .option('--pad', 'print the zero padding too')
    .addHelpText(
      'after',
      `
Examples:
  clip tokenize "a photo of a cat"          (49406 320 1125 539 320 2368 49407)
  clip tokenize --decode 320 1125 539 320 2368`,
    )
    .action((inputs: string[], o: TokenizeCliOptions) => {
      if (o.contextLength < 2 || o.contextLength > 65536) {
        throw new UsageError(`--context-length ${o.contextLength}: expected 2 (SOT and EOT) to 65536 tokens per row`);
      }
      const tokenizer = defaultTokenizer(o.bpe);
      if (o.decode) {
        const ids = inputs
          .flatMap((arg) => arg.split(/[\s,]+/).filter(Boolean))
          .map((v) => {
            const n = Number(v);
            if (!Number.isInteger(n)) throw new UsageError(`--decode expects integer token ids, got "${v}"`);
            return n;
          });
        console.log(tokenizer.decode(ids));
        return;
      }
      const { data, shape } = tokenizer.tokenize(inputs, { contextLength: o.contextLength, truncate: o.truncate });
      const width = at(shape, 1);
      for (let i = 0; i < inputs.length; i++) {
        const row = Array.from(data.subarray(i * width, (i + 1) * width));
        // Padding is what follows EOT; the row's last EOT is where the model reads the text feature.
        const end = o.pad ? width : row.lastIndexOf(tokenizer.eotToken) + 1;
        console.log(row.slice(0, end).join(' '));
      }
    });
}
