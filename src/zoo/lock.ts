// A cross-process lock file, so two processes fetching the same file don't write the same
// `.part` at once: the second one waits and then finds the finished file.
// Created with O_EXCL ('wx'), which is atomic on local file systems. The holder touches the file's
// mtime while it works, so a lock whose holder crashed is recognised as stale: its process is gone
// (same host) or it has not been touched for `staleMs`.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOptions {
  /** A lock untouched this long is taken over (default 60 s; the holder touches it every staleMs/4). */
  staleMs?: number;
  /** How often a waiter looks again (default 200 ms). */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called once when the lock is busy and we start waiting. */
  onWait?: () => void;
}

interface Owner { pid: number; host: string; token: string }

/** Waits for the lock at `path`; resolves to the function that releases it. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const staleMs = options.staleMs ?? 60_000;
  const owner: Owner = { pid: process.pid, host: hostname(), token: randomUUID() };
  let waiting = false;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await tryCreate(path, owner)) break;
    if (await isStale(path, staleMs)) {
      await removeStale(path);
      continue;
    }
    if (!waiting) { waiting = true; options.onWait?.(); }
    await sleep(options.pollMs ?? 200, undefined, { signal: options.signal });
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => { /* lock removed by a stale-takeover; release() will notice */ });
  }, Math.max(10, staleMs / 4));
  heartbeat.unref();
  return async () => {
    clearInterval(heartbeat);
    // Only remove the lock if it is still ours (it may have been taken over as stale).
    if ((await readOwner(path))?.token === owner.token) await unlink(path).catch(() => {});
  };
}

async function tryCreate(path: string, owner: Owner): Promise<boolean> {
  try {
    const file = await open(path, 'wx');
    try { await file.writeFile(JSON.stringify(owner)); } finally { await file.close(); }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Owner;
  } catch {
    return undefined; // gone, or created but not yet written
  }
}

async function isStale(path: string, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return false; // released meanwhile: just try again
  }
  if (Date.now() - mtimeMs > staleMs) return true;
  const owner = await readOwner(path);
  return owner !== undefined && owner.host === hostname() && !processAlive(owner.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

// Rename aside, then delete: of several waiters that judged the same lock stale only one rename
// succeeds. (A waiter that judged it stale just before a new holder took over could still move the
// new lock aside; that race needs a crashed holder plus exact timing, and the checksum check after
// the download would still reject a file two writers mixed.)
async function removeStale(path: string): Promise<void> {
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    await rename(path, aside);
    await unlink(aside);
  } catch {
    /* someone else removed it first */
  }
}
