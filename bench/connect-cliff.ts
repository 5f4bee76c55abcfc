/**
 * Benchmark (not a test): what a TCP connect costs as connections from one address to one address
 * and port pile up — the cliff that made the ALB emulator accept on several node addresses
 * (harness/alb/alb.ts, NODE_ADDRESSES). A server process listens on `--addresses` loopback
 * addresses (one port); `--clients` processes, started one after the other and each holding its
 * connections open, connect `--per-client` times each, spread round robin over the addresses, and
 * print the CPU (user + system) per connect for every batch of 1,000.
 *
 *   npx tsx bench/connect-cliff.ts [--addresses 1] [--clients 2] [--per-client 9000]
 *
 * Run it once with `--addresses 1` and once with `--addresses 4`, side by side. Each process holds
 * its sockets under the 20,000 open files a process may have here.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { freePort } from '../servers/ports.ts';
import { benchArgs } from './args.ts';

const BATCH = 1_000;
const { values } = benchArgs(
  'npx tsx bench/connect-cliff.ts [--addresses 1] [--clients 2] [--per-client 9000]',
  {
    options: {
      addresses: { type: 'string', default: '1' },
      clients: { type: 'string', default: '2' },
      'per-client': { type: 'string', default: '9000' },
      role: { type: 'string' },
      port: { type: 'string' },
    },
  },
);
const hosts = Array.from({ length: Number(values.addresses) }, (_, i) => `127.0.0.${i + 1}`);

/** A child: the server (accepts and holds) or a client (connects, reports, holds until told). */
async function child(role: string, port: number): Promise<void> {
  const held: Socket[] = [];
  // The bench went (a crash, Ctrl-C): so does this process, with its sockets.
  process.on('disconnect', () => process.exit(0));
  if (role === 'server') {
    for (const host of hosts)
      await new Promise<void>((resolve) =>
        createServer((socket) => held.push(socket.on('error', () => {}))).listen(
          { port, host, backlog: 4_096 },
          resolve,
        ),
      );
    process.send?.({ ready: true });
  } else {
    const total = Number(values['per-client']);
    for (let done = 0; done < total; done += BATCH) {
      const before = process.cpuUsage();
      await Promise.all(
        Array.from(
          { length: Math.min(BATCH, total - done) },
          (_, i) =>
            new Promise<void>((resolve, reject) => {
              const socket = connect({ port, host: hosts[(done + i) % hosts.length]! }, resolve);
              socket.on('error', reject);
              held.push(socket);
            }),
        ),
      );
      const used = process.cpuUsage(before);
      process.send?.({ connections: done + BATCH, userUs: used.user / BATCH, systemUs: used.system / BATCH });
    }
    process.send?.({ ready: true });
  }
  process.on('message', () => process.exit(0));
}

function start(
  role: string,
  port: number,
  onReport: (r: Record<string, number>) => void,
): Promise<ChildProcess> {
  const args = ['--role', role, '--port', String(port), '--addresses', String(hosts.length)];
  args.push('--per-client', String(values['per-client']));
  const c = fork(new URL(import.meta.url).pathname, args, { execArgv: ['--import', 'tsx'] });
  return new Promise((resolve) =>
    c.on('message', (m: Record<string, number> & { ready?: boolean }) =>
      m.ready ? resolve(c) : onReport(m),
    ),
  );
}

if (values.role) await child(values.role, Number(values.port));
else {
  const port = await freePort();
  const started: ChildProcess[] = [await start('server', port, () => {})];
  let before = 0;
  console.log(`${hosts.length} address(es), port ${port}: CPU per connect, by connections already open`);
  try {
    for (let i = 0; i < Number(values.clients); i++) {
      started.push(
        await start('client', port, (r) => {
          const open = before + r.connections! - BATCH;
          console.log(
            `  ${String(open).padStart(6)}+${BATCH}: ${(r.userUs! + r.systemUs!).toFixed(0).padStart(5)} µs (system ${r.systemUs!.toFixed(0)})`,
          );
        }),
      );
      before += Number(values['per-client']);
    }
  } finally {
    for (const c of started.reverse()) c.send('stop');
  }
}
