/**
 * Benchmark (not a test): the ALB emulator against HAProxy, side by side in one run, on the same
 * two backends, driven by wrk at 50 connections. HAProxy is configured like the ALB here:
 * round robin with `cookie AWSALB insert`. Then: memory per idle proxied WebSocket, and holding
 * N of them (default 25,000) across ALB workers and client processes.
 *
 *   npx tsx bench/alb.ts [--seconds 10] [--connections 50] [--websockets 25000] [--rounds 3]
 *
 * The two proxies take turns (HAProxy, ALB, HAProxy, ALB, ...) for `--rounds` rounds, and the
 * medians are compared, so a slow spell on this shared machine does not land on one side only.
 *
 * Needs `haproxy` and `wrk` (apt-get install haproxy wrk); says so and exits 2 without them.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAlb } from '../harness/alb/alb.ts';
import { ManualClock } from '../harness/clock/clock.ts';
import { designTopology } from '../infra/topology.ts';
import { freePort } from '../servers/ports.ts';
import { benchArgs } from './args.ts';
import { onPath, wrk } from './wrk.ts';

const { values } = benchArgs(
  'npx tsx bench/alb.ts [--seconds 10] [--connections 50] [--websockets 25000] [--alb-workers 2] [--rounds 3]',
  {
    allowPositionals: true,
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      websockets: { type: 'string', default: '25000' },
      'alb-workers': { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
      // Child mode (below): `--hold <port> <count>`.
      hold: { type: 'boolean' },
    },
  },
);
const seconds = Number(values.seconds as string);
const connections = Number(values.connections as string);
const websockets = Number(values.websockets as string);
const rounds = Number(values.rounds as string);

for (const tool of ['haproxy', 'wrk']) {
  if (!onPath(tool)) {
    console.error(`${tool} not found: apt-get install haproxy wrk`);
    process.exit(2);
  }
}

const SELF = fileURLToPath(import.meta.url);
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', cleanup);

/** A backend: a small node:http server in its own process that also accepts WebSocket upgrades. */
async function backend(): Promise<number> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '-e',
      `
    const http = require('node:http');
    const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }); res.end('ok'); });
    s.on('upgrade', (req, socket) => { socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'); socket.on('error', () => {}); });
    s.maxConnections = 30000;
    s.listen(${port}, '127.0.0.1', () => process.send && process.send('up'));
  `,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  children.push(child);
  await new Promise((r) => child.once('message', r));
  return port;
}

function rssKb(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    const status = execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
    return sum + Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }, 0);
}

/** Child mode: open `count` idle WebSockets through the proxy, report, then hold them. */
if (process.argv[2] === '--hold') {
  const [port, count] = [Number(process.argv[3]), Number(process.argv[4])];
  const { connect } = await import('node:net');
  let open = 0;
  let failed = 0;
  const sockets: import('node:net').Socket[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.write(
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      s.once('data', (d) => {
        if (String(d).startsWith('HTTP/1.1 101')) open++;
        else failed++;
        resolve();
      });
      s.on('error', () => {
        failed++;
        resolve();
      });
      sockets.push(s);
    });
  for (let i = 0; i < count; i += 200)
    await Promise.all(Array.from({ length: Math.min(200, count - i) }, one));
  process.send?.({ open, failed });
  setInterval(() => {}, 60_000);
} else {
  const [a, b] = [await backend(), await backend()];
  // HAProxy: the reference, configured as the ALB behaves here.
  const haproxyPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'haproxy-'));
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    `global\n  maxconn 9000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  option http-keep-alive\nfrontend fe\n  bind 127.0.0.1:${haproxyPort}\n  default_backend be\nbackend be\n  balance roundrobin\n  cookie AWSALB insert indirect nocache\n  server a 127.0.0.1:${a} cookie a\n  server b 127.0.0.1:${b} cookie b\n`,
  );
  const haproxy = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg')], { stdio: 'inherit' });
  children.push(haproxy);
  await new Promise((r) => setTimeout(r, 500));

  const clock = new ManualClock(0);
  const alb = await startAlb({
    topology: designTopology,
    clock,
    workers: Number(values['alb-workers'] as string),
  });
  alb.registerTarget({ id: 'a', url: `http://127.0.0.1:${a}`, az: 'a' });
  alb.registerTarget({ id: 'b', url: `http://127.0.0.1:${b}`, az: 'b' });
  for (let i = 0; i < designTopology.loadBalancer.healthCheck.healthyThresholdCount; i++) {
    clock.advance(designTopology.loadBalancer.healthCheck.intervalSeconds * 1_000);
    await new Promise((r) => setTimeout(r, 100));
  }

  const runs: { haproxy: { rps: number; p99Ms: number }; albEmulator: { rps: number; p99Ms: number } }[] = [];
  for (let i = 0; i < rounds; i++)
    runs.push({
      haproxy: await wrk(`http://127.0.0.1:${haproxyPort}/`, { connections, seconds }),
      albEmulator: await wrk(`${alb.url}/`, { connections, seconds }),
    });
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const reference = {
    rps: median(runs.map((r) => r.haproxy.rps)),
    p99Ms: median(runs.map((r) => r.haproxy.p99Ms)),
  };
  const emulator = {
    rps: median(runs.map((r) => r.albEmulator.rps)),
    p99Ms: median(runs.map((r) => r.albEmulator.p99Ms)),
  };
  const result: Record<string, unknown> = {
    connections,
    seconds,
    rounds,
    albWorkers: Number(values['alb-workers'] as string),
    haproxy: reference,
    albEmulator: emulator,
    ratioRequestsPerSecond: Math.round((emulator.rps / reference.rps) * 100) / 100,
    perRound: runs.map((r) => ({
      haproxyRps: r.haproxy.rps,
      albRps: r.albEmulator.rps,
      ratio: Math.round((r.albEmulator.rps / r.haproxy.rps) * 100) / 100,
    })),
  };
  console.log(JSON.stringify(result, null, 2));
  await alb.stop();
  rmSync(dir, { recursive: true, force: true });

  if (websockets > 0) {
    // WebSockets need more proxy processes: 2 descriptors each, at most 20,000 per process.
    const wsWorkers = Math.max(2, Math.ceil((websockets * 2) / 16_000));
    const wsAlb = await startAlb({ topology: designTopology, clock, workers: wsWorkers });
    wsAlb.registerTarget({ id: 'a', url: `http://127.0.0.1:${a}`, az: 'a' });
    wsAlb.registerTarget({ id: 'b', url: `http://127.0.0.1:${b}`, az: 'b' });
    for (let i = 0; i < 3; i++) {
      clock.advance(30_000);
      await new Promise((r) => setTimeout(r, 100));
    }
    const workerPids = (wsAlb as unknown as { workers: ChildProcess[] }).workers.map((w) => w.pid!);
    const before = rssKb(workerPids);
    const perClient = 8_000;
    const holders = Math.ceil(websockets / perClient);
    const results = await Promise.all(
      Array.from({ length: holders }, (_, i) => {
        const child = fork(
          SELF,
          ['--hold', String(wsAlb.port), String(Math.min(perClient, websockets - i * perClient))],
          { execArgv: ['--import', 'tsx'] },
        );
        children.push(child);
        return new Promise<{ open: number; failed: number }>((r) =>
          child.once('message', r as (m: unknown) => void),
        );
      }),
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const held = results.reduce((s, r) => s + r.open, 0);
    const after = rssKb(workerPids);
    const perTarget = wsAlb.connectionsPerTarget();
    console.log(
      JSON.stringify(
        {
          websocketsRequested: websockets,
          websocketsHeld: held,
          failed: results.reduce((s, r) => s + r.failed, 0),
          albWorkers: wsWorkers,
          connectionsPerTarget: perTarget,
          albRssMb: { before: Math.round(before / 1024), after: Math.round(after / 1024) },
          albKbPerIdleWebSocket: held > 0 ? Math.round(((after - before) / held) * 10) / 10 : undefined,
        },
        null,
        2,
      ),
    );
    await wsAlb.stop();
  }
  cleanup();
  process.exit(0);
}
