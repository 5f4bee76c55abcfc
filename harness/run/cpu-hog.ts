/**
 * One busy core, on purpose: a child process spinning until it is killed (by its pid). Benchmarks
 * and tests use it to check that a noisy machine slows a rehearsal down without changing its
 * verdicts (bench/verdicts.ts).
 */
import { spawn } from 'node:child_process';

export interface CpuHog extends AsyncDisposable {
  readonly pid: number;
  /** Kills the spinning process and waits until it is gone. */
  stop(): Promise<void>;
}

/**
 * Spins, and looks up now and then whether its parent (pid in argv, as the child may start after
 * a quick parent is gone) is still there: an orphan stops itself.
 */
const SPIN =
  'const parent = Number(process.argv[1]); for (;;) { for (let i = 0; i < 1e7; i++); if (process.ppid !== parent) process.exit(0); }';

export async function startCpuHog(): Promise<CpuHog> {
  const child = spawn(process.execPath, ['-e', SPIN, String(process.pid)], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    await exited;
  };
  return { pid: child.pid!, stop, [Symbol.asyncDispose]: stop };
}
