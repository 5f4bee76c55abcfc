import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs a bench the way its usage says (`npx tsx bench/<name>.ts …`), with a bad command line. */
function runBench(name: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('a bench’s command line', () => {
  it('names an unknown option and shows the usage, exit 2, before anything starts', () => {
    const run = runBench('verdicts', ['peak-drop', '--keep', '/tmp/x']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("Unknown option '--keep'");
    expect(run.stderr).toContain('usage: npx tsx bench/verdicts.ts');
    expect(run.stderr).toContain('--keep-reports DIR');
    expect(run.stdout).toBe('');
  });

  it('is strict in the benches that once ignored a typo, and says which value is missing', () => {
    const typo = runBench('socket-client', ['--conections', '10']);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain("Unknown option '--conections'");
    const missing = runBench('alb', ['--rounds']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--rounds/);
    expect(missing.stderr).toContain('usage: npx tsx bench/alb.ts');
  });
});
