// What a benchmark ran on, printed at the top of every run: int8 speed depends on the CPU's
// integer dot-product instructions (AVX-512 VNNI / AVX-VNNI / AMX vs AVX2's vpmaddubsw), and
// every figure on the ONNX Runtime build.

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';

/** The /proc/cpuinfo flags that decide int8 and fp32 GEMM speed, in this order when present. */
const FLAGS = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8'];

export interface Machine {
  cpu: string;
  flags: string[];
  vnni: boolean;
  cores: number;
  onnxruntime: string;
  node: string;
}

export function describeMachine(): Machine {
  const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const present = new Set((/^flags\s*:(.*)$/m.exec(info)?.[1] ?? '').trim().split(/\s+/));
  const flags = FLAGS.filter((f) => present.has(f));
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? 'unknown CPU',
    flags,
    vnni: flags.some((f) => f.includes('vnni')),
    cores: availableParallelism(),
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    node: process.version,
  };
}

/** One line: "Intel(R) Xeon(R) Processor, 2 cores, avx2 avx512f … (VNNI: yes), onnxruntime-node 1.30.0, node v20". */
export function machineLine(m: Machine = describeMachine()): string {
  const flags = `${m.flags.join(' ') || 'no AVX2'} (VNNI: ${m.vnni ? 'yes' : 'no'})`;
  return `${m.cpu}, ${m.cores} cores, ${flags}, onnxruntime-node ${m.onnxruntime}, node ${m.node}`;
}
