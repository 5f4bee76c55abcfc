import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lastJsonLine } from '../cli/cli-child.ts';
import { frameExpectation } from '../report/html.ts';
import { EXIT_CODES, type RunOutcome } from '../report/outcome.ts';
import { hasChromium, launchChromium, skipNote, strictPage } from '../report/test-browser.ts';
import type { Summary } from '../report/write-report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/tiketi-sim.js', import.meta.url));
/** Wall ms the whole rehearsal may take on a loaded machine before the test stops it. */
const RUN_DEADLINE_MS = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasChromium)(`run smoke, watched live in headless Chromium${skipNote}`, () => {
  it('the page shows minutes advancing, then the verdicts and counts of summary.json', async () => {
    const reports = mkdtempSync(join(tmpdir(), 'tiketi-live-'));
    const run = spawn(process.execPath, [BIN, 'run', 'smoke', '--json', '--report-dir', reports], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    run.stdout.on('data', (d: Buffer) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => run.once('exit', resolve));
    const browser = await launchChromium();
    try {
      // The URL is printed as soon as the world runs, before users are created and the drop starts.
      const dashboardUrl = await new Promise<string>((resolve, reject) => {
        run.stderr.on('data', (d: Buffer) => {
          stderr += d;
          // Both lines are printed together, but may arrive in two chunks.
          const m = /Live dashboard:\s+(\S+)\nPrometheus:\s+\S+\n/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) =>
          reject(new Error(`run exited ${code} before serving its page:\n${stderr}`)),
        );
      });
      expect(stderr).toMatch(/Prometheus:\s+http:\/\/127\.0\.0\.1:\d+\/metrics/);
      const origin = new URL(dashboardUrl).origin;
      const { page, problems, blocked } = await strictPage(browser, (u) => u.startsWith(origin));
      await page.goto(dashboardUrl);

      // Follow the page, not the server: what a person watching it sees.
      const clocks: string[] = [];
      const deadline = Date.now() + RUN_DEADLINE_MS;
      let state = 'running';
      while (state === 'running' && Date.now() < deadline) {
        const seen = await page.evaluate<{ state: string; clock: string; rows: number }>(`({
          state: document.body.dataset.state ?? '',
          clock: document.getElementById('clock')?.textContent ?? '',
          rows: document.querySelectorAll('#expectations tr').length,
        })`);
        state = seen.state;
        if (state === 'running' && seen.clock !== clocks.at(-1)) {
          clocks.push(seen.clock);
          expect(seen.rows).toBe(5); // smoke's five expectations, pending
        }
        await sleep(250);
      }
      expect(state, `the run did not end within ${RUN_DEADLINE_MS} ms:\n${stderr}`).not.toBe('running');
      // Simulated minutes advanced in front of the viewer, in order, within the scenario.
      const minutes = clocks.map((c) => /simulated (\d\d:\d\d):\d\d UTC/.exec(c)?.[1]).filter(Boolean);
      expect(new Set(minutes).size).toBeGreaterThanOrEqual(3);
      expect([...minutes].sort()).toEqual(minutes);
      expect(
        minutes.every((m) => m! >= '19:30' && m! <= '19:45'),
        minutes.join(' '),
      ).toBe(true);

      const code = await exited;
      const result = lastJsonLine<{ outcome: RunOutcome; reportDir: string }>({ code, stdout, stderr });
      expect(code, stderr).toBe(EXIT_CODES[result.outcome]);
      const summary = JSON.parse(readFileSync(join(result.reportDir, 'summary.json'), 'utf8')) as Summary;

      // A real run records what every finding rule reads.
      expect(summary.findingsNotEvaluated.map((n) => n.rule)).toEqual([]);
      expect(summary.admissionNotices?.delivered).toBeGreaterThan(0);
      expect(summary.series.every((s) => s.desiredCapacity === 2)).toBe(true);
      const socketsSeen = summary.series.map((s) =>
        Object.values(s.socketsPerInstance ?? {}).reduce((a, b) => a + b, 0),
      );
      expect(Math.max(...socketsSeen)).toBeGreaterThan(0);
      expect(Math.max(...socketsSeen)).toBeLessThanOrEqual(200);
      expect(summary.series.some((s) => s.socketConnectP95Ms !== undefined)).toBe(true);

      // The last frame is the report's: same verdicts, same counts, same findings.
      expect(state).toBe(summary.aborted ? 'aborted' : summary.outcome);
      const shown = await page.$$eval('#expectations tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      );
      expect(shown).toEqual(
        summary.expectations
          .map(frameExpectation)
          .map((v) => [v.status, v.name, v.expected, `${v.observed}${v.reason ?? ''}`]),
      );
      const counters = await page.$$eval('#counters tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      expect(Object.fromEntries(counters.map(([k, v]) => [k, Number(v!.replace(/,/g, ''))]))).toEqual({
        ...summary.counters,
        ...summary.integrity,
      });
      expect(
        await page.$$eval('#findings li[data-rule]', (lis) => lis.map((l) => l.getAttribute('data-rule'))),
      ).toEqual(summary.findings.map((f) => f.rule));
      expect(await page.textContent('#clock')).toBe(
        `simulated ${new Date(summary.series.at(-1)!.atMs).toISOString().slice(11, 19)} UTC`,
      );
      expect(problems).toEqual([]);
      expect(blocked).toEqual([]);
    } finally {
      await browser.close();
      if (run.exitCode === null) run.kill('SIGINT');
      await exited;
      rmSync(reports, { recursive: true, force: true });
    }
  }, 420_000);
});
