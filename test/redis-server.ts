// A throw-away redis-server for tests: a free loopback port, a temporary folder, no persistence.
// Tests that need it skip loudly when the binary is absent (`apt-get install redis-server`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** `skip` option for node:test: false when redis-server can run, else a loud reason. */
export function needsRedis(): false | string {
  if (existsSync(BINARY) && spawnSync(BINARY, ['--version']).status === 0) return false;
  const reason = `SKIPPED: ${BINARY} not found (apt-get install redis-server, or set REDIS_SERVER)`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server and starts an empty one on the same port (what a restart without persistence does). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Serve TLS only (`rediss://`) with this certificate and key (self-signed: clients trust `cert`). */
  tls?: { cert: string; key: string };
  password?: string;
}

export async function startRedis({ tls, password }: RedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'clip-redis-'));
  const port = await freePort();
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key]
    : ['--port', String(port)];
  const secure = tls ? ['--tls-ca-cert-file', tls.cert, '--tls-auth-clients', 'no'] : [];
  const auth = password ? ['--requirepass', password] : [];
  const args = [...listen, ...secure, ...auth, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(BINARY, args, { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await accepts(port)); i++) await sleep(50);
    if (!(await accepts(port))) throw new Error(`redis-server did not start on port ${port}`);
    return child;
  };
  const halt = async (child: ChildProcess) => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  let child = await launch();
  return {
    url: `${tls ? 'rediss' : 'redis'}://${password ? `:${password}@` : ''}127.0.0.1:${port}`,
    port,
    restart: async () => {
      await halt(child);
      child = await launch();
    },
    stop: async () => {
      await halt(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
