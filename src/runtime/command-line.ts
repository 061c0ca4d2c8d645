// ONNX Runtime's environment set-up (the first session of a process) reads /proc/self/cmdline and
// recurses deeper the longer it is: ~270 bytes of stack per byte, so ~30 KB of arguments overflow
// the default 8 MB stack and the process dies with SIGSEGV, printing nothing. A clear error instead.
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

/** Half of what still passed at an 8 MB stack. */
const MAX_COMMAND_LINE_BYTES = 16 * 1024;

let checked = false;

/** Throws before ONNX Runtime would crash on this process's command line (Linux; elsewhere a no-op). */
export function checkCommandLineForOnnxRuntime(): void {
  if (checked) return;
  let bytes: number;
  try {
    bytes = readFileSync('/proc/self/cmdline').length;
  } catch {
    checked = true;
    return;
  }
  if (bytes > MAX_COMMAND_LINE_BYTES) {
    throw new InputError(
      `this process's command line is ${bytes} bytes; ONNX Runtime overflows its stack at start-up ` +
        `on command lines longer than ~30 KB (limit here ${MAX_COMMAND_LINE_BYTES}). ` +
        'Pass long lists through a file or ' +
        'standard input, or re-run the process with its arguments in a file (as the clip command does)',
    );
  }
  checked = true;
}
