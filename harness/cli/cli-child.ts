/**
 * The `tiketi-sim` command as a child process, the way a user or CI runs it: for end-to-end tests
 * that judge its exit code, its output and the processes it leaves behind.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { descendantsOf, isAlive } from '../run/process-tree.ts';

const BIN = fileURLToPath(new URL('../../bin/tiketi-sim.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliExit {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every process the command started while it ran (seen every 250 ms). */
  descendants: number[];
}

/** Runs the CLI until it exits; past `timeoutMs` it gets Ctrl-C (SIGINT), as a user would send. */
export async function runCli(
  args: string[],
  timeoutMs: number,
  onStderrLine: (line: string) => void = () => {},
): Promise<CliExit> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    for (const line of String(d).split('\n')) onStderrLine(line);
  });
  const seen = new Set<number>();
  const watch = setInterval(() => {
    for (const pid of descendantsOf(child.pid!)) seen.add(pid);
  }, 250);
  const killer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(watch);
  clearTimeout(killer);
  return { code, stdout, stderr, descendants: [...seen] };
}

/** Those of `pids` still alive after up to 10 s. */
export async function stillAlive(pids: number[]): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return pids.filter(isAlive);
}

/**
 * The last line of a `--json` command's output, parsed. A command that printed none fails the test
 * with its exit code and the end of its stderr: what it said when it stopped, not a JSON parse error.
 */
export function lastJsonLine<T>(run: Pick<CliExit, 'code' | 'stdout' | 'stderr'>): T {
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    const said = run.stderr.trim().split('\n').slice(-40).join('\n');
    throw new Error(`the command printed no JSON result (exit code ${run.code}); its stderr ended:\n${said}`);
  }
}

/**
 * Runs a short CLI command (usage errors, `list`, `export`) to its end, asynchronously: a test
 * worker blocked in spawnSync cannot answer vitest's own messages, which time out under load.
 */
export function runCliBriefly(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
