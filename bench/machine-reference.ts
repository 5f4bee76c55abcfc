/**
 * How fast this machine is right now, by a fixed yardstick: a node:http "hello world" in its own
 * process under wrk (2 threads, 50 connections), the median of a few short rounds. Machines of
 * the same kind differ about 2× from day to day (59k req/s one day, 29k another): a bench's wall
 * times are read beside the yardstick measured in the same run. It is a moment's reading (it
 * moved 23k–40k within one hour), so it tells what kind of hour a figure comes from; it does not
 * convert one run's wall time into another's.
 */
import { spawn } from 'node:child_process';
import { freePort } from '../servers/ports.ts';
import { onPath, wrk } from './wrk.ts';

export interface MachineReference {
  /** Median requests per second over the rounds. */
  rps: number;
  rounds: number[];
}

const HELLO_WORLD = `
  const http = require('node:http');
  http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }); res.end('ok'); })
    .listen(Number(process.argv[1]), '127.0.0.1', () => process.send('up'));
  process.on('disconnect', () => process.exit(0));
`;

/** Measures the yardstick; `missing` says why not when wrk is not installed. */
export async function measureMachineReference(
  options: { rounds?: number; seconds?: number } = {},
): Promise<MachineReference | { missing: string }> {
  if (!onPath('wrk')) return { missing: 'wrk not found (apt-get install wrk)' };
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
    return { rps: sorted[Math.floor(sorted.length / 2)]!, rounds };
  } finally {
    server.kill('SIGKILL');
  }
}
