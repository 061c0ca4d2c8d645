// Usage errors of the search commands (`clip index`, `clip search`, `clip dupes`, `clip serve`), run as
// the real binary: a bad flag value, a missing or unreadable query, bad dates, thresholds and ports are
// one line naming the flag, exit status 2, no stack trace, before any index or model is opened.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI } from './tiny-cli-model.js';

const dir = mkdtempSync(join(tmpdir(), 'clip-search-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** Never created: a usage error must come before the index is opened (or created). */
const DB = join(dir, 'never.db');

function run(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CLIP_OFFLINE: '1', CLIP_CACHE_DIR: join(dir, 'cache') },
  });
}

const CASES: [string, string[], RegExp][] = [
  ['search: -k 0', ['search', 'a dog', '--db', DB, '-k', '0'], /-k, --top.*expected a positive integer, got "0"/],
  ['search: -k -1', ['search', 'a dog', '--db', DB, '-k', '-1'], /-k, --top.*got "-1"/],
  ['search: -k abc', ['search', 'a dog', '--db', DB, '-k', 'abc'], /-k, --top.*got "abc"/],
  ['search: -k 2.5', ['search', 'a dog', '--db', DB, '-k', '2.5'], /-k, --top.*got "2.5"/],
  ['search: -k too large', ['search', 'a dog', '--db', DB, '-k', '100000'], /-k, --top.*at most 4095/],
  ['search: no query', ['search', '--db', DB], /give a query text or --image/],
  ['search: empty query', ['search', '', '--db', DB], /query: empty/],
  ['search: unclosed quote', ['search', '"a dog + cat', '--db', DB], /query: unclosed "/],
  ['search: two operators', ['search', '"a dog" + - "cat"', '--db', DB], /query: two operators/],
  ['search: --after abc', ['search', 'x', '--db', DB, '--after', 'abc'], /--after.*expected a date.*got "abc"/],
  ['search: --after 2020-02-31', ['search', 'x', '--db', DB, '--after', '2020-02-31'], /--after.*"2020-02-31"/],
  ['search: --before 1', ['search', 'x', '--db', DB, '--before', '1'], /--before.*got "1"/],
  [
    'search: --after not before --before',
    ['search', 'x', '--db', DB, '--after', '2021-01-01', '--before', '2020-01-01'],
    /--after: must be earlier than --before/,
  ],
  ['search: --min-score 2', ['search', 'x', '--db', DB, '--min-score', '2'], /--min-score.*cosine.*got "2"/],
  ['search: --min-score empty', ['search', 'x', '--db', DB, '--min-score', ''], /--min-score.*got ""/],
  ['search: --sort size', ['search', 'x', '--db', DB, '--sort', 'size'], /--sort.*size/],
  ['search: --mode fast', ['search', 'x', '--db', DB, '--mode', 'fast'], /--mode.*fast/],
  ['search: --threads 0', ['search', 'x', '--db', DB, '--threads', '0'], /--threads.*got "0"/],
  ['search: no --db', ['search', 'x'], /--db/],
  ['dupes: --threshold 1.5', ['dupes', '--db', DB, '--threshold', '1.5'], /--threshold.*cosine.*got "1.5"/],
  ['dupes: --threshold abc', ['dupes', '--db', DB, '--threshold', 'abc'], /--threshold.*got "abc"/],
  ['dupes: --threshold NaN', ['dupes', '--db', DB, '--threshold', 'NaN'], /--threshold.*got "NaN"/],
  ['index: no folders', ['index', '--db', DB], /give folders to index, or --import/],
  ['index: folders and --import', ['index', dir, '--db', DB, '--import', dir], /not both/],
  ['index: -b 0', ['index', dir, '--db', DB, '-b', '0'], /--batch-size.*got "0"/],
  ['index: -b 1x', ['index', dir, '--db', DB, '-b', '1x'], /--batch-size.*got "1x"/],
  ['serve: --port 70000', ['serve', '--db', DB, '--port', '70000'], /--port.*0-65535, got "70000"/],
  ['serve: --port -1', ['serve', '--db', DB, '--port', '-1'], /--port.*got "-1"/],
  ['serve: --port http', ['serve', '--db', DB, '--port', 'http'], /--port.*got "http"/],
];

describe('search commands: usage errors exit 2 with one line naming the flag', { concurrency: 4 }, () => {
  for (const [name, args, message] of CASES)
    test(name, () => {
      const r = run(args);
      assert.equal(r.status, 2, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`);
      assert.match(lines[0] ?? '', /^clip: /);
      assert.match(lines[0] ?? '', message);
      assert.equal(r.stdout, '');
      assert.equal(existsSync(DB), false, 'the index is not created by a call that fails its checks');
    });
});
