// A cross-process lock, so two processes fetching the same file don't write the same `.part` at
// once: the second one waits and then finds the finished file. proper-lockfile does the locking
// (an atomic mkdir of `<file>.lock`, whose mtime the holder refreshes; a lock not refreshed for
// `staleMs` belonged to a crashed process and is taken over); this module adds the waiting, with
// an abort signal and a callback when the wait starts.
import { lock } from 'proper-lockfile';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOptions {
  /** A lock not refreshed this long is taken over (default 10 s, at least 2 s; refreshed every staleMs/2). */
  staleMs?: number;
  /** How often a waiter looks again (default 200 ms). */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called once when the lock is busy and we start waiting. */
  onWait?: () => void;
}

/** Waits for the lock on `file` (held as `<file>.lock`); resolves to the function that releases it. */
export async function acquireLock(file: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const stale = Math.max(2000, options.staleMs ?? 10_000);
  let waiting = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const release = await lock(file, {
        stale,
        realpath: false, // the file being downloaded does not exist yet
        // A lock taken over while we still hold it (we stalled past `stale`): the download goes on,
        // and the checksum check after it rejects a file that two writers mixed.
        onCompromised: () => {},
      });
      return async () =>
        release().catch(() => {
          /* taken over meanwhile */
        });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
    }
    if (!waiting) {
      waiting = true;
      options.onWait?.();
    }
    await sleep(options.pollMs ?? 200, undefined, { signal: options.signal });
  }
}
