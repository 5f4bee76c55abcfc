/**
 * How fast this machine is right now, by a fixed yardstick: a node:http "hello world" in its own
 * process under wrk (2 threads, 50 connections), the median of a few short rounds. Machines of
 * the same kind differ about 2× from day to day (59k req/s one day, 29k another): a bench's wall
 * times are read beside the yardstick measured in the same run. It is a moment's reading (it
 * moved 23k–40k within one hour), so it tells what kind of hour a figure comes from; it does not
 * convert one run's wall time into another's.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuBusyMeter } from '../harness/metrics/cpu-busy.ts';
import { freePort } from '../servers/ports.ts';
import { onPath, wrk } from './wrk.ts';

export interface MachineReference {
  /** Median requests per second over the rounds. */
  rps: number;
  rounds: number[];
  /** Wall seconds waited for the machine to settle first (`settle`). */
  settledAfterSeconds: number;
  /** The CPU's busy share over the last second before measuring (0–1). */
  busyBefore: number;
}

/** A second with the CPU under this share busy counts as settled. */
const SETTLED_CPU_BUSY = 0.15;
/** Measured anyway after this long: a machine that never settles is the machine of the hour. */
const SETTLE_MAX_MS = 30_000;

/**
 * Waits, up to SETTLE_MAX_MS, for a second with the CPU under SETTLED_CPU_BUSY: measured right
 * after a rehearsal, the yardstick met that rehearsal's teardown (processes exiting, Redis and
 * PostgreSQL writing their last pages) and read low.
 */
async function settle(): Promise<{ seconds: number; busy: number }> {
  const started = performance.now();
  const cpu = cpuBusyMeter();
  for (;;) {
    await sleep(1_000);
    const busy = cpu()?.busy ?? 0;
    const waited = performance.now() - started;
    if (busy < SETTLED_CPU_BUSY || waited >= SETTLE_MAX_MS)
      return { seconds: Math.round(waited / 100) / 10, busy };
  }
}

const HELLO_WORLD = `
  const http = require('node:http');
  http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }); res.end('ok'); })
    .listen(Number(process.argv[1]), '127.0.0.1', () => process.send('up'));
  process.on('disconnect', () => process.exit(0));
`;

/**
 * Measures the yardstick once the machine has settled (`settle`); `missing` says why not when
 * wrk is not installed.
 */
export async function measureMachineReference(
  options: { rounds?: number; seconds?: number } = {},
): Promise<MachineReference | { missing: string }> {
  if (!onPath('wrk')) return { missing: 'wrk not found (apt-get install wrk)' };
  const settled = await settle();
  const port = await freePort();
  const server = spawn(process.execPath, ['-e', HELLO_WORLD, String(port)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await new Promise((resolve, reject) => {
      server.once('message', resolve);
      server.once('exit', (code) => reject(new Error(`the reference server exited (code ${code})`)));
    });
    const rounds: number[] = [];
    for (let i = 0; i < (options.rounds ?? 3); i++)
      rounds.push(
        (await wrk(`http://127.0.0.1:${port}/`, { connections: 50, seconds: options.seconds ?? 3 })).rps,
      );
    const sorted = [...rounds].sort((a, b) => a - b);
    return {
      rps: sorted[Math.floor(sorted.length / 2)]!,
      rounds,
      settledAfterSeconds: settled.seconds,
      busyBefore: settled.busy,
    };
  } finally {
    server.kill('SIGKILL');
  }
}
