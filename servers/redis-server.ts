/** A real `redis-server` on a free loopback port, its data in a temp folder removed on stop. */
import { connect } from 'node:net';
import { requireRedis } from './binaries.ts';
import { freePort } from './ports.ts';
import { type LogSink, type ManagedProcess, startProcess } from './process.ts';
import { makeRunDir, sweepStaleRunDirs } from './run-dir.ts';

export interface RedisServerOptions {
  /** @default 'redis' */
  name?: string;
  /** @default a free port */
  port?: number;
  /** Extra `--key value` arguments, e.g. `['--replicaof', '127.0.0.1', '6390']`. */
  extraArgs?: string[];
  log?: LogSink;
}

export interface StartedRedis extends AsyncDisposable {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Sends one inline command and resolves with the first reply line, or the whole bulk reply. */
export function redisCommand(
  port: number,
  command: string,
  host = '127.0.0.1',
  timeoutMs = 2_000,
  bulk = false,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    const timer = setTimeout(
      () => socket.destroy(new Error(`no reply from redis on ${host}:${port}`)),
      timeoutMs,
    );
    let reply = '';
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      const end = reply.indexOf('\r\n');
      if (end < 0) return;
      // A bulk reply is `$<length>\r\n<payload>\r\n`; wait for the whole payload.
      const length = bulk && reply.startsWith('$') ? Number(reply.slice(1, end)) : -1;
      if (length >= 0 && reply.length < end + 2 + length) return;
      clearTimeout(timer);
      socket.end();
      resolve(length >= 0 ? reply.slice(end + 2, end + 2 + length) : reply.slice(0, end));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<StartedRedis> {
  const { redisServer } = requireRedis();
  sweepStaleRunDirs();
  const name = options.name ?? 'redis';
  const port = options.port ?? (await freePort());
  const dir = makeRunDir(name);
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir.path,
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'no',
    '--daemonize', 'no',
    ...(options.extraArgs ?? []),
  ]; // biome-ignore format: flag/value pairs read best one per pair
  let proc: ManagedProcess;
  try {
    proc = await startProcess({
      name,
      command: redisServer,
      args,
      log: options.log,
      ready: async () => (await redisCommand(port, 'PING')) === '+PONG',
    });
  } catch (err) {
    dir.remove();
    throw err;
  }
  const stop = async () => {
    await proc.stop('SIGTERM', 5_000);
    dir.remove();
  };
  return {
    name,
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid,
    process: proc,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
