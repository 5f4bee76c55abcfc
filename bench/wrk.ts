/**
 * wrk, the reference HTTP load generator of the benchmarks: requests per second and P99 of one
 * run against a URL. Asynchronous, so servers in the calling process keep answering.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface WrkResult {
  rps: number;
  p99Ms: number;
}

/** Whether `tool` is on the PATH (wrk, haproxy). */
export function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

/** wrk's own summary, as JSON from a `done` hook: no parsing of its human output. */
const REPORT_SCRIPT =
  'done = function(s, l, r) io.write(string.format("JSON {\\"rps\\":%f,\\"p99\\":%f}\\n", s.requests / (s.duration / 1e6), l:percentile(99) / 1000)) end\n';

export async function wrk(
  url: string,
  options: { threads?: number; connections: number; seconds: number },
): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'wrk-'));
  try {
    const script = join(dir, 'report.lua');
    writeFileSync(script, REPORT_SCRIPT);
    const args = [
      `-t${options.threads ?? 2}`,
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '-s',
      script,
      url,
    ];
    const { stdout } = await promisify(execFile)('wrk', args, { encoding: 'utf8' });
    const parsed = JSON.parse(/JSON (.*)/.exec(stdout)![1]!) as { rps: number; p99: number };
    return { rps: Math.round(parsed.rps), p99Ms: Math.round(parsed.p99 * 100) / 100 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
