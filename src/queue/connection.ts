// A Redis connection from a `redis://` or `rediss://` (TLS) URL; user, password and database
// number in the URL are passed through to ioredis. A lost connection is retried with backoff
// (0.5 s, 1 s, … up to 5 s) and said once on stderr, and again when it is back. A refused
// password is not retried: it will not get better.

import { Redis } from 'ioredis';
import { InputError } from '../errors.js';

/** The URL with its password replaced, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

const AUTH_ERROR = /WRONGPASS|NOAUTH|NOPERM|invalid password/i;

export interface QueueConnection {
  redis: Redis;
  /** Resolves once connected; rejects with the reason when Redis cannot be used (refused password, gave up). */
  ready: Promise<void>;
  /** True while the connection is down (callers keep quiet about the errors that follow). */
  isDown(): boolean;
}

/**
 * `giveUpAfter`: reconnection attempts before giving up (producers and `--status` should end
 * with an error; workers, the default, wait for Redis as long as it takes).
 */
export function connectRedis(url: string, { giveUpAfter = Infinity }: { giveUpAfter?: number } = {}): QueueConnection {
  if (!/^rediss?:\/\//.test(url))
    throw new InputError(`--queue ${url}: expected redis://[user:password@]host[:port][/db] or rediss:// for TLS`);
  const where = redactUrl(url);
  let lastError = 'unknown error';
  let fatal = false;
  const redis = new Redis(url, {
    // BullMQ's workers block on Redis and need commands to wait for a reconnection, not fail.
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => (fatal || attempt > giveUpAfter ? null : Math.min(attempt * 500, 5000)),
  });
  let down = false;
  const lost = (why: string) => {
    if (down || fatal) return;
    down = true;
    console.error(`clip: lost the connection to Redis at ${where} (${why}); retrying with backoff`);
  };
  redis.on('error', (e: Error) => {
    lastError = e.message;
    if (AUTH_ERROR.test(e.message)) fatal = true;
    lost(e.message);
  });
  redis.on('reconnecting', () => lost('connection closed')); // a server that shut down cleanly sends no error

  const ready = new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.on('end', () => reject(new InputError(`cannot use Redis at ${where}: ${lastError}`)));
  });
  ready.catch(() => undefined); // the caller awaits it; an end after that is reported by 'error' above
  redis.on('ready', () => {
    if (down) console.error(`clip: connected to Redis at ${where} again`);
    down = false;
  });
  return { redis, ready, isDown: () => down || fatal };
}
