// A progress bar with rate and ETA on stderr while features are computed, only on a terminal
// (logs and pipes stay clean).

import cliProgress from 'cli-progress';

/** An onProgress callback drawing a bar titled `title`, and `stop` to end it; no-ops off a terminal. */
export function progressBar(title: string): { onProgress: (done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { onProgress: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% {value}/{total} images  {speed} images/s  ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let running = false;
  return {
    onProgress: (done, total) => {
      const speed = (done / Math.max(1e-3, (performance.now() - started) / 1000)).toFixed(0);
      if (!running) {
        bar.start(total, done, { speed });
        running = true;
      } else bar.update(done, { speed });
    },
    stop: () => {
      if (running) bar.stop();
    },
  };
}
