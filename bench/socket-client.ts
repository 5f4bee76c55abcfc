/**
 * Benchmark (not a test): socket.io-client against harness/load/light-socket.ts, side by side in
 * one run. A plain Socket.IO server runs in a child process (no ALB); each client kind then runs in
 * a fresh child process of its own (so neither inherits the other's heap), opens N connections
 * with the journey's options and listeners, and receives M broadcasts to all. Per connection:
 * RSS, heap and external growth (KB, after a full GC), client CPU ms per connect (process.cpuUsage,
 * user + system), client CPU µs per received message, and socket.io-client / light ratios. JSON.
 *
 *   npx tsx bench/socket-client.ts [--connections 5000] [--messages 20] [--gap-ms 100]
 *
 * Run it under the shared CPU lock: flock /tmp/tiketi-cpu.lock npx tsx bench/socket-client.ts
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.ts';

type Kind = 'socket.io-client' | 'light';
const KINDS: Kind[] = ['socket.io-client', 'light'];

interface ClientResult {
  connections: number;
  messagesReceived: number;
  rssKBPerConnection: number;
  heapKBPerConnection: number;
  externalKBPerConnection: number;
  cpuMsPerConnect: number;
  cpuUsPerMessage: number;
  connectWallMs: number;
}

type FromClient =
  | {
      type: 'connected';
      connectCpuUs: number;
      connectWallMs: number;
      rss: number;
      heap: number;
      external: number;
    }
  | { type: 'listening' }
  | { type: 'done'; messageCpuUs: number; received: number };
type ToClient = { type: 'expect' } | { type: 'close' };
type ToServer = { type: 'broadcast'; messages: number; gapMs: number };
type FromServer =
  | { type: 'port'; port: number }
  | { type: 'broadcasted' }
  | { type: 'clients'; count: number };

const SELF = fileURLToPath(import.meta.url);
const { values } = benchArgs(
  'npx tsx bench/socket-client.ts [--connections 5000] [--messages 20] [--gap-ms 100] [--batch 250]',
  {
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      kind: { type: 'string' },
      url: { type: 'string' },
      connections: { type: 'string', default: '5000' },
      messages: { type: 'string', default: '20' },
      'gap-ms': { type: 'string', default: '100' },
      batch: { type: 'string', default: '250' },
    },
  },
);
const connections = Number(values.connections as string);
const messages = Number(values.messages as string);
const gapMs = Number(values['gap-ms'] as string);
const batch = Number(values.batch as string);

const send = (message: FromClient | FromServer) => process.send?.(message);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The plain Socket.IO server: WebSocket only, default heartbeat, broadcasts on request. */
async function runServer(): Promise<void> {
  const { Server } = await import('socket.io');
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  process.on('message', async (message: ToServer | { type: 'clients' }) => {
    if (message.type === 'clients') return send({ type: 'clients', count: io.engine.clientsCount });
    for (let i = 0; i < message.messages; i++) {
      io.emit('queue:update', {
        eventId: 'bench',
        position: i + 1,
        queueSize: connections,
        sentAt: Date.now(),
      });
      await sleep(message.gapMs);
    }
    send({ type: 'broadcasted' });
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'port', port: (http.address() as AddressInfo).port });
}

/** What both clients have in common here: the journey's calls. */
interface AnySocket {
  on(event: string, listener: (...args: never[]) => void): unknown;
  close(): unknown;
  io: { on(event: string, listener: () => void): unknown; opts: { extraHeaders?: Record<string, string> } };
}

async function runClient(kind: Kind, url: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the client with --expose-gc');
  // The journey's options (its reconnection delays at time scale 1).
  const options = (i: number) => ({
    auth: { token: `token-${i}`, eventId: 'bench' },
    transports: ['websocket'],
    extraHeaders: { cookie: 'AWSALB=bench' },
    forceNew: true,
    reconnection: true,
    reconnectionDelay: 1_000,
    reconnectionDelayMax: 5_000,
  });
  let connect: (i: number) => AnySocket;
  if (kind === 'light') {
    const { io } = await import('../harness/load/light-socket.ts');
    connect = (i) => io(url, options(i)) as unknown as AnySocket;
  } else {
    const { io } = await import('socket.io-client');
    connect = (i) => io(url, options(i)) as unknown as AnySocket;
  }

  let received = 0;
  let connectedCount = 0;
  /** The journey's listeners, more or less: connect/disconnect counters, a payload handler, the hook. */
  const listen = (socket: AnySocket) => {
    socket.on('connect', () => {
      connectedCount++;
    });
    socket.on('disconnect', () => {
      connectedCount--;
    });
    socket.on('queue:update', (u: { position: number; sentAt: number }) => {
      if (u.sentAt > 0) received++;
    });
    socket.io.on('reconnect_attempt', () => {
      socket.io.opts.extraHeaders = { cookie: 'AWSALB=bench' };
    });
  };
  const openBatch = async (from: number, to: number, into: AnySocket[]) => {
    const target = connectedCount + (to - from);
    for (let i = from; i < to; i++) {
      const socket = connect(i);
      listen(socket);
      into.push(socket);
    }
    while (connectedCount < target) await sleep(5);
  };

  // Warm up: module initialisation and JIT are not per connection.
  const warm: AnySocket[] = [];
  await openBatch(0, 50, warm);
  for (const socket of warm) socket.close();
  await sleep(300);
  gc();
  gc();
  const before = process.memoryUsage();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const sockets: AnySocket[] = [];
  for (let from = 0; from < connections; from += batch)
    await openBatch(from, Math.min(connections, from + batch), sockets);
  const connectCpu = process.cpuUsage(cpu0);
  const connectWallMs = performance.now() - wall0;
  await sleep(500);
  gc();
  gc();
  const after = process.memoryUsage();
  send({
    type: 'connected',
    connectCpuUs: connectCpu.user + connectCpu.system,
    connectWallMs,
    rss: after.rss - before.rss,
    heap: after.heapUsed - before.heapUsed,
    external: after.external - before.external,
  });

  process.on('message', async (message: ToClient) => {
    if (message.type === 'close') {
      for (const socket of sockets) socket.close();
      await sleep(200);
      process.exit(0);
    }
    received = 0;
    const cpu1 = process.cpuUsage();
    send({ type: 'listening' });
    const expected = connections * messages;
    while (received < expected) await sleep(10);
    const messageCpu = process.cpuUsage(cpu1);
    send({ type: 'done', messageCpuUs: messageCpu.user + messageCpu.system, received });
  });
}

function next<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) before ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function measure(kind: Kind, url: string): Promise<ClientResult> {
  const child = fork(SELF, ['--role', 'client', '--kind', kind, '--url', url, ...forwarded()], {
    execArgv: [...process.execArgv, '--expose-gc'],
  });
  children.push(child);
  try {
    const connected = await next<Extract<FromClient, { type: 'connected' }>>(child, 'connected');
    const listening = next<FromClient>(child, 'listening');
    child.send({ type: 'expect' } satisfies ToClient);
    await listening;
    const done = next<Extract<FromClient, { type: 'done' }>>(child, 'done');
    const broadcasted = next<FromServer>(server, 'broadcasted');
    server.send({ type: 'broadcast', messages, gapMs } satisfies ToServer);
    await broadcasted;
    const result = await done;
    child.send({ type: 'close' } satisfies ToClient);
    await once(child, 'exit');
    const kb = (bytes: number) => round(bytes / 1024 / connections, 2);
    return {
      connections,
      messagesReceived: result.received,
      rssKBPerConnection: kb(connected.rss),
      heapKBPerConnection: kb(connected.heap),
      externalKBPerConnection: kb(connected.external),
      cpuMsPerConnect: round(connected.connectCpuUs / 1_000 / connections, 3),
      cpuUsPerMessage: round(result.messageCpuUs / result.received, 2),
      connectWallMs: Math.round(connected.connectWallMs),
    };
  } finally {
    child.kill('SIGKILL');
  }
}

function forwarded(): string[] {
  return ['--connections', String(connections), '--messages', String(messages), '--batch', String(batch)];
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const children: ChildProcess[] = [];
let server: ChildProcess;

async function main(): Promise<void> {
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
  server = fork(SELF, ['--role', 'server', ...forwarded()], { execArgv: process.execArgv });
  children.push(server);
  const { port } = await next<Extract<FromServer, { type: 'port' }>>(server, 'port');
  const url = `http://127.0.0.1:${port}`;
  const results = {} as Record<Kind, ClientResult>;
  for (const kind of KINDS) {
    results[kind] = await measure(kind, url);
    // The server lets the previous client's sockets go before the next one starts.
    for (;;) {
      const clients = next<Extract<FromServer, { type: 'clients' }>>(server, 'clients');
      server.send({ type: 'clients' });
      if ((await clients).count === 0) break;
      await sleep(100);
    }
  }
  const official = results['socket.io-client'];
  const light = results.light;
  const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 2) : null);
  console.log(
    JSON.stringify(
      {
        node: process.version,
        connections,
        broadcasts: messages,
        gapMs,
        clients: results,
        ratios: {
          note: 'socket.io-client / light',
          rss: ratio(official.rssKBPerConnection, light.rssKBPerConnection),
          heap: ratio(official.heapKBPerConnection, light.heapKBPerConnection),
          cpuPerConnect: ratio(official.cpuMsPerConnect, light.cpuMsPerConnect),
          cpuPerMessage: ratio(official.cpuUsPerMessage, light.cpuUsPerMessage),
        },
      },
      null,
      2,
    ),
  );
  server.kill('SIGTERM');
}

if (values.role === 'server') await runServer();
else if (values.role === 'client') await runClient(values.kind as Kind, values.url as string);
else await main();
