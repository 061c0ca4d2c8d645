// Progress of a command over many images: a bar on stderr when it is a terminal (skipped images
// are printed above it), and a closing summary line in every case.
import cliProgress from 'cli-progress';

export class ImageProgress {
  private readonly started = performance.now();
  private readonly bars?: cliProgress.MultiBar;
  private readonly bar?: cliProgress.SingleBar;
  private done = 0;
  private failed = 0;

  /** `verb` is what happens to each image ("embedded", "classified"). */
  constructor(
    private readonly total: number,
    private readonly verb: string,
  ) {
    if (!process.stderr.isTTY || total < 2) return;
    this.bars = new cliProgress.MultiBar(
      {
        format: `${verb} {bar} {value}/{total} images | {failed} failed | {rate} images/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar = this.bars.create(total, 0, { failed: 0, rate: '0.0' });
  }

  /** Reports a skipped image (on its own line, above the bar). */
  skip(message: string): void {
    this.failed++;
    if (this.bars) {
      this.bars.log(`skipped: ${message}\n`);
      this.bars.update();
    } else console.error(`skipped: ${message}`);
  }

  /** Counts `n` more images done. */
  advance(n: number): void {
    this.done += n;
    this.bar?.update(this.done + this.failed, { failed: this.failed, rate: this.rate().toFixed(1) });
  }

  private seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
  private rate(): number {
    return this.done / Math.max(this.seconds(), 1e-9);
  }

  /** Removes the bar and prints "embedded 98 of 100 images in 3.2 s (30.6 images/s), 2 skipped"; true if any failed. */
  finish(): boolean {
    this.bar?.update(this.done + this.failed, { failed: this.failed, rate: this.rate().toFixed(1) });
    this.bars?.stop();
    const skipped = this.failed ? `, ${this.failed} skipped` : '';
    const speed = `${this.seconds().toFixed(1)} s (${this.rate().toFixed(1)} images/s)`;
    console.error(`${this.verb} ${this.done} of ${this.total} images in ${speed}${skipped}`);
    return this.failed > 0;
  }
}
