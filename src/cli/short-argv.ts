// Keeps the command line of the process that starts ONNX Runtime short, whatever the user passed.
// ONNX Runtime's environment set-up reads /proc/self/cmdline and recurses deeper the longer it is
// (~270 bytes of stack per byte: `clip embed dir/*.jpg` with ~30 KB of paths overflows the default
// 8 MB stack and the process dies with SIGSEGV, printing nothing). No stack size cures that, so when
// the arguments are long, `clip` re-runs itself with them in a private temporary file and a short
// command line. Imported first by main.ts, before anything loads onnxruntime-node or sharp.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Set only for the re-run child: the file that holds its real arguments (JSON array). */
const ARGV_FILE_ENV = 'CLIP_INTERNAL_ARGV_FILE';
/** Far below the ~26 KB that still passed at an 8 MB stack, so smaller stacks are covered too. */
export const MAX_COMMAND_LINE_BYTES = 4096;

function commandLineBytes(argv: readonly string[]): number {
  return argv.reduce((sum, arg) => sum + Buffer.byteLength(arg) + 1, 0);
}

function takeArgumentsFromFile(file: string): void {
  delete process.env[ARGV_FILE_ENV];
  const args = JSON.parse(readFileSync(file, 'utf8')) as string[];
  rmSync(file, { force: true });
  process.argv.splice(2, Infinity, ...args);
}

/** Runs this same script again with the arguments in a file, and exits as it exited. */
function rerunWithArgumentsInFile(): never {
  const folder = mkdtempSync(join(tmpdir(), 'clip-argv-'));
  const file = join(folder, 'argv.json');
  writeFileSync(file, JSON.stringify(process.argv.slice(2)), { mode: 0o600 });
  const script = process.argv[1];
  if (script === undefined) throw new Error('cannot rerun: process.argv has no script path');
  const child = spawnSync(process.execPath, [...process.execArgv, script], {
    stdio: 'inherit',
    env: { ...process.env, [ARGV_FILE_ENV]: file },
  });
  rmSync(folder, { recursive: true, force: true });
  if (child.error) {
    console.error(`clip: cannot re-run itself with its long argument list in a file (${child.error.message})`);
    process.exit(1);
  }
  if (child.signal) {
    process.kill(process.pid, child.signal);
    process.exit(128 + (constants.signals[child.signal] ?? 0));
  }
  process.exit(child.status ?? 1);
}

const argvFile = process.env[ARGV_FILE_ENV];
if (argvFile) takeArgumentsFromFile(argvFile);
else if (commandLineBytes([process.execPath, ...process.execArgv, ...process.argv.slice(1)]) > MAX_COMMAND_LINE_BYTES) {
  rerunWithArgumentsInFile();
}
