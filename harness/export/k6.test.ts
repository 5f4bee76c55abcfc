/**
 * The k6 export: its script type-checks against @types/k6 (with tsc, a config that knows k6's
 * types and nothing of Node), and the file it writes is that script with the shared Socket.IO
 * framing bundled in (the module socketio-framing.test.ts drives against the real app).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { exportScenario } from './export-scenario.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const SCRIPT = join(ROOT, 'harness/export/k6/script.k6.ts');
const dir = mkdtempSync(join(tmpdir(), 'tiketi-k6-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** tsc over `files` with k6's types only (no Node, no DOM): what a k6 script may use. */
function typeCheck(files: string[]): { status: number | null; output: string } {
  const config = join(dir, `tsconfig-${files.length}-${Date.now()}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        target: 'ES2020',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2020'],
        types: ['k6'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
      },
      files,
    }),
  );
  const result = spawnSync(process.execPath, [TSC, '-p', config], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the k6 export', () => {
  it('type-checks against @types/k6', () => {
    const result = typeCheck([SCRIPT]);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  }, 60_000);

  it('the same check refuses a script that misuses the k6 API (the check can fail)', () => {
    const wrong = join(dir, 'wrong.k6.ts');
    writeFileSync(
      wrong,
      "import http from 'k6/http';\nimport { WebSocket } from 'k6/websockets';\nexport default function () {\n  http.get(42);\n  new WebSocket('ws://x').send(new Map());\n}\n",
    );
    const result = typeCheck([wrong]);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/wrong\.k6\.ts\(4,/);
    expect(result.output).toMatch(/wrong\.k6\.ts\(5,/);
  }, 60_000);

  it('writes one self-contained ES module: the script, the plan and the shared framing, importing only k6', async () => {
    const { scenario } = await loadScenario('peak-drop');
    const exported = await exportScenario(
      scenario,
      'peak-drop',
      {
        format: 'k6',
        target: 'https://tiketi.gg',
        users: 25_000,
        eventId: 'demo',
        timeScale: 1,
        withoutFaults: false,
      },
      dir,
    );
    const text = readFileSync(exported.script, 'utf8');
    const imports = [...text.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.every((m) => m === 'k6' || m!.startsWith('k6/'))).toBe(true);
    // The framing module's own functions, not a copy: esbuild keeps their names.
    const framing = readFileSync(join(ROOT, 'harness/load/socketio-framing.ts'), 'utf8');
    for (const name of [
      'decodeEnginePacket',
      'decodeSocketPacket',
      'connectPacket',
      'eventPacket',
      'engineIoUrl',
    ]) {
      expect(framing).toContain(`export function ${name}(`);
      expect(text).toContain(`function ${name}(`);
    }
    expect(text).toContain('"executor": "ramping-arrival-rate"');
    expect(text).toContain('"http_req_duration{step:journey}"');
    expect(text).toContain('"p(95)<200"');
    expect(text).toContain('"socket_delivery"');
    expect(text).toContain('"http_req_failed"');
    expect(text).toContain('"rate<0.01"');
    expect(text).toContain('"target": "https://tiketi.gg"');
    // Each user signs up and in at its arrival: the note says what that costs the target.
    expect(exported.notes).toEqual([
      expect.stringMatching(/^users sign up and in as they arrive: 50000 password hashes in 1680 s/),
    ]);
  });
});
