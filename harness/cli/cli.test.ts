import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/tiketi-sim.js', import.meta.url));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('tiketi-sim CLI', () => {
  it('lists the built-in scenarios, one line each', () => {
    const { code, stdout } = cli('list');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^peak-drop\s+The design's peak/m);
    expect(stdout).toMatch(/^smoke\s+/m);
  });

  it('doctor reports what the local backend needs', () => {
    const { code, stdout } = cli('doctor', '--json');
    expect(code).toBe(0);
    const checks = JSON.parse(stdout) as { name: string; ok: boolean; required: boolean }[];
    expect(checks.filter((c) => c.required).map((c) => [c.name, c.ok])).toEqual([
      ['node', true],
      ['redis-server', true],
      ['postgresql', true],
    ]);
  });

  it('exits 2 with help on a usage error', () => {
    const { code, stderr } = cli('nope');
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command 'nope'/);
  });
});
