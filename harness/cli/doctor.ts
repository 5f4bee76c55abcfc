/** `tiketi-sim doctor`: what this machine has for each backend, and what to install for the rest. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findPostgres, findRedis } from '../../servers/binaries.ts';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** What was found (path, version). */
  found?: string;
  /** What to do when it is missing. */
  fix?: string;
  /** Needed by the default (`local`) backend, as opposed to optional tools. */
  required: boolean;
}

function versionOf(binary: string, args = ['--version']): string | undefined {
  try {
    return execFileSync(binary, args, { encoding: 'utf8', timeout: 5_000 }).trim().split('\n')[0];
  } catch {
    return undefined; // missing or broken binary: reported as not found
  }
}

function onPath(binary: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined; // `command -v` exits 1 when the binary is absent
  }
}

export async function runDoctorChecks(): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  checks.push({
    name: 'node',
    ok: major > 20 || (major === 20 && minor >= 18),
    found: process.version,
    fix: 'Install Node.js 20.18 or newer.',
    required: true,
  });
  const redis = findRedis();
  checks.push({
    name: 'redis-server',
    ok: redis !== undefined,
    found: redis && `${redis.redisServer} (${versionOf(redis.redisServer) ?? 'version unknown'})`,
    fix: 'apt-get install redis-server / brew install redis, or start Docker and use --backend containers.',
    required: true,
  });
  const postgres = findPostgres();
  checks.push({
    name: 'postgresql',
    ok: postgres !== undefined,
    found: postgres && `${postgres.binDir} (${versionOf(postgres.postgres) ?? 'version unknown'})`,
    fix: 'apt-get install postgresql / brew install postgresql@15, or start Docker and use --backend containers.',
    required: true,
  });
  if (process.platform === 'linux') {
    checks.push({
      name: 'setpriv',
      ok: existsSync('/usr/bin/setpriv'),
      found: existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined,
      fix: 'apt-get install util-linux (servers then die with the harness even when it is SIGKILLed).',
      required: false,
    });
  }
  for (const [name, fix] of [
    ['haproxy', 'apt-get install haproxy (reference for bench/alb.ts).'],
    ['wrk', 'apt-get install wrk (reference load generator for the benchmarks).'],
    ['chromium', 'apt-get install chromium (checks the HTML report renders).'],
  ] as const) {
    const path = onPath(name);
    checks.push({ name, ok: path !== undefined, found: path, fix, required: false });
  }
  // Loaded when asked for: testcontainers takes a third of a second to import.
  const { containerEngineAvailable } = await import('../backends/containers/containers-backend.ts');
  const engine = await containerEngineAvailable();
  checks.push({
    name: 'container engine',
    ok: engine.ok,
    found: engine.ok ? 'answers (--backend containers can run)' : undefined,
    fix: engine.ok ? undefined : `none answers (${engine.reason}); start Docker to use --backend containers.`,
    required: false,
  });
  return checks;
}

export function formatDoctor(checks: DoctorCheck[]): string {
  const lines = checks.map((c) => {
    const mark = c.ok ? 'ok     ' : c.required ? 'MISSING' : 'absent ';
    return `${mark} ${c.name.padEnd(17)} ${c.ok ? (c.found ?? '') : (c.fix ?? '')}`;
  });
  const missing = checks.filter((c) => c.required && !c.ok);
  lines.push(
    missing.length === 0
      ? '\nThe local backend can run here.'
      : `\nThe local backend cannot run here: install ${missing.map((c) => c.name).join(', ')}.`,
  );
  return lines.join('\n');
}
