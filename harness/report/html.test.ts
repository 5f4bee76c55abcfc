import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { mergeEngineReport } from '../load-report/merge.ts';
import { parseLoadReport } from '../load-report/parse.ts';
import { recordedPeakDrop } from './record-fixture.ts';
import { hasChromium, launchChromium, skipNote, strictPage } from './test-browser.ts';
import { reportDirFor, summarize, writeReport } from './write-report.ts';

const verdicts: Verdict[] = [
  {
    kind: 'no-seat-sold-twice',
    name: 'no seat sold twice',
    status: 'passed',
    passed: true,
    expected: '0',
    observed: '0',
  },
  {
    kind: 'latency',
    name: 'API P95 <script>',
    status: 'failed',
    passed: false,
    expected: '< 200 ms',
    observed: '250 ms',
  },
];
const K6_REPORT = new URL('../load-report/fixtures/k6-summary-export.json', import.meta.url);
const root = mkdtempSync(join(tmpdir(), 'tiketi-html-'));
const summary = summarize({
  scenarioFile: 'scenarios/peak-drop.ts',
  record: recordedPeakDrop(),
  verdicts,
  topology: designTopology,
  aborted: false,
});
const dir = reportDirFor(root, 'peak-drop', new Date('2026-11-24T23:00:00Z'));
writeReport(dir, summary, designTopology);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('index.html', () => {
  it('is one file: uPlot and the page script inline, no src or href to fetch', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect(html).toContain('uPlot');
    // A string in the data cannot end the script element it travels in.
    expect(html).not.toContain('API P95 <script>');
  });

  describe.skipIf(!hasChromium)(`in headless Chromium${skipNote}`, () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    }, 60_000);
    afterAll(() => browser?.close());

    it('draws every chart with uPlot, offline, and says what it found', async () => {
      const { page, problems, blocked } = await strictPage(browser, (u) => u.startsWith('file://'));
      await page.goto(`file://${join(dir, 'index.html')}`);
      const charts = await page.$$eval('[data-chart]', (els) =>
        els.map((el) => ({
          name: el.getAttribute('data-chart'),
          canvases: el.querySelectorAll('.uplot canvas').length,
          width: el.getBoundingClientRect().width,
        })),
      );
      expect(problems).toEqual([]);
      expect(blocked).toEqual([]);
      const drawn = charts.filter((c) => c.canvases > 0).map((c) => c.name);
      expect(drawn).toEqual(['queue-instances', 'latency', 'clock', 'connections', 'reconnect-times']);
      for (const c of charts) expect(c.width, c.name ?? '').toBeGreaterThan(300);
      expect(await page.textContent('h1')).toContain('FAILED');
      expect(
        await page.$$eval('#expectations tr td:first-child', (tds) => tds.map((t) => t.textContent)),
      ).toEqual(['PASS', 'FAIL']);
      const findings = await page.$$eval('#findings li', (lis) =>
        lis.map((l) => l.getAttribute('data-rule')),
      );
      expect(findings).toEqual(summary.findings.map((f) => f.rule));
      expect(await page.textContent('#findings')).toContain('held 0 of 24,942 Socket.IO connections');
      expect(await page.$$eval('.fault-timeline li', (lis) => lis.length)).toBe(5);
      expect(
        await page.$$eval('#disconnects tr', (trs) =>
          trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
        ),
      ).toEqual([
        ['app-1', 'transport close', summary.disconnects![0]!.causeDetail, '2', '2', '20:15:00', '20:15:00'],
      ]);
    }, 60_000);

    it("shows the engine's checks and thresholds when an engine sent the users, and says who did", async () => {
      const report = { ...parseLoadReport(readFileSync(K6_REPORT, 'utf8'), 'k6.json'), file: 'k6.json' };
      const engineDir = reportDirFor(root, 'engine', new Date('2026-11-24T23:00:00Z'));
      const withEngine = summarize({
        scenarioFile: 'scenarios/peak-drop.ts',
        record: mergeEngineReport(recordedPeakDrop(), report),
        verdicts,
        topology: designTopology,
        aborted: false,
      });
      writeReport(engineDir, withEngine, designTopology);
      const { page, problems } = await strictPage(browser, (u) => u.startsWith('file://'));
      await page.goto(`file://${join(engineDir, 'index.html')}`);
      expect(problems).toEqual([]);
      expect(await page.textContent('#engine-what')).toMatch(/^k6 sent the users \(report k6\.json\)/);
      const rows = await page.$$eval('#engine tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      );
      expect(rows).toHaveLength(report.checks.length + report.thresholds.length);
      expect(rows).toContainEqual([
        'FAIL',
        'check: admitted before the scenario ended',
        '198 passed, 2 failed',
      ]);
      expect(rows).toContainEqual(['PASS', 'threshold: http_req_failed: rate<0.01', 'held']);
      // Without an engine the table is empty and the page says whose users they were.
      await page.goto(`file://${join(dir, 'index.html')}`);
      expect(await page.textContent('#engine-what')).toBe("tiketi-sim's load generator sent the users.");
      expect(await page.$$eval('#engine tr', (trs) => trs.length)).toBe(0);
    }, 60_000);

    it('shows the value under the cursor, and zooms into a dragged span', async () => {
      const { page } = await strictPage(browser, (u) => u.startsWith('file://'));
      await page.goto(`file://${join(dir, 'index.html')}`);
      const over = (await page.$('#chart-queue-instances .u-over'))!;
      await over.scrollIntoViewIfNeeded();
      const box = (await over.boundingBox())!;
      const queueValue = () =>
        page.$eval(
          '#chart-queue-instances .u-legend .u-series:nth-child(2) .u-value',
          (el) => el.textContent,
        );
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
      const shown = Number((await queueValue())!.replace(/,/g, ''));
      // The value is one of the recorded queue sizes near 30% of the run, not a placeholder.
      const near = summary.series.slice(20, 34).map((s) => s.queueSize);
      expect(near).toContain(shown);

      // Drag over 55–65% of the run (the queue drains steadily there), then hover mid-chart: the
      // value shown is from inside the dragged span, not the middle of the whole run.
      const at = async (f: number) => {
        await page.mouse.move(box.x + box.width * f, box.y + box.height / 2);
        return Number((await queueValue())!.replace(/,/g, ''));
      };
      const [from, to, middle] = [await at(0.55), await at(0.65), await at(0.5)];
      await at(0.55);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.65, box.y + box.height / 2, { steps: 5 });
      await page.mouse.up();
      const zoomed = await at(0.5);
      expect(zoomed).not.toBe(middle);
      expect(zoomed).toBeLessThanOrEqual(Math.max(from, to));
      expect(zoomed).toBeGreaterThanOrEqual(Math.min(from, to));
    }, 60_000);
  });
});
