// A Redis connection from a `redis://` or `rediss://` (TLS) URL; user, password and database
// number in the URL are passed through to ioredis. A lost connection is retried with backoff
// (0.5 s, 1 s, … up to 5 s) and said once on stderr, and again when it is back.

import { Redis } from 'ioredis';
import { InputError } from '../errors.js';

/** The URL with its password replaced, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * `giveUpAfter`: reconnection attempts before commands fail (producers and `--status` should
 * end with an error; workers, the default, wait for Redis as long as it takes).
 */
export function connectRedis(url: string, { giveUpAfter = Infinity }: { giveUpAfter?: number } = {}): Redis {
  if (!/^rediss?:\/\//.test(url)) throw new InputError(`--queue ${url}: expected redis://[user:password@]host[:port][/db] or rediss:// for TLS`);
  const where = redactUrl(url);
  const redis = new Redis(url, {
    // BullMQ's workers block on Redis and need commands to wait for a reconnection, not fail.
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => (attempt > giveUpAfter ? null : Math.min(attempt * 500, 5000)),
  });
  let down = false;
  redis.on('error', (e: Error) => {
    if (down) return;
    down = true;
    console.error(`clip: lost the connection to Redis at ${where} (${e.message}); retrying with backoff`);
  });
  redis.on('ready', () => {
    if (down) console.error(`clip: connected to Redis at ${where} again`);
    down = false;
  });
  redis.on('end', () => {
    if (down) console.error(`clip: gave up reconnecting to Redis at ${where}`);
  });
  return redis;
}
