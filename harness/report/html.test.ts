import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import peakDrop from '../../scenarios/peak-drop.ts';
import { evaluateAll, type Verdict } from '../expectations/evaluate.ts';
import { mergeEngineReport } from '../load-report/merge.ts';
import { parseLoadReport } from '../load-report/parse.ts';
import { headroomThresholds } from '../metrics/machine-state.ts';
import { markIndicative, scaleModel } from '../scenario/scale-model.ts';
import { parseScenario } from '../scenario/schema.ts';
import { at, recordedPeakDrop } from './record-fixture.ts';
import type { RunRecord } from './run-record.ts';
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

/** The recorded peak-drop on a machine saturated 19:56–20:03, as the runner records it. */
function onASaturatedMachine(): RunRecord {
  const record = recordedPeakDrop();
  const saturated = (ms: number) => ms > at('19:56') && ms <= at('20:03');
  const worst = { cpuBusy: 1, lagMs: { runner: 40, 'load-worker': 580 }, coreBusy: { app: 0.7 } };
  const reasons = ['CPU 100 %', 'load-worker lag 580 ms'];
  return {
    ...record,
    samples: record.samples.map((s) => ({
      ...s,
      machine: saturated(s.atMs)
        ? { headroomShare: 0.1, worst, saturatedBy: reasons }
        : {
            headroomShare: 1,
            worst: { cpuBusy: 0.5, lagMs: { runner: 8, 'load-worker': 20 }, coreBusy: { app: 0.3 } },
          },
    })),
    measurement: {
      thresholds: headroomThresholds([200]),
      latencyWithHeadroom: { all: { ...record.latency.all!, count: 36_000 } },
      saturated: [{ fromMs: at('19:56'), toMs: at('20:03'), worst, reasons }],
      intervals: { total: 5_400, withHeadroom: 4_980 },
    },
  };
}

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
      // No machine chart: this record has no `series[].machine`, and the page says so.
      expect(drawn).toEqual(['queue-instances', 'latency', 'clock', 'connections', 'reconnect-times']);
      for (const c of charts) expect(c.width, c.name ?? '').toBeGreaterThan(300);
      expect(await page.textContent('#chart-machine')).toContain("did not record the machine's state");
      expect(await page.textContent('h1')).toContain('FAILED');
      expect(await page.textContent('#outcome')).toBe(
        'Outcome: failed, exit code 1 — 1 passed, 1 failed, 0 inconclusive.',
      );
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

    it('shows an inconclusive verdict as INCONCLUSIVE with its reason, and the machine minute by minute', async () => {
      const record = onASaturatedMachine();
      const judged = evaluateAll(
        [
          { expect: 'no-seat-sold-twice' },
          { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 200 },
        ],
        record,
      );
      expect(judged.map((v) => v.status)).toEqual(['passed', 'inconclusive']);
      const saturated = summarize({
        scenarioFile: 'scenarios/peak-drop.ts',
        record,
        verdicts: judged,
        topology: designTopology,
        aborted: false,
      });
      const saturatedDir = reportDirFor(root, 'saturated', new Date('2026-11-24T23:00:00Z'));
      writeReport(saturatedDir, saturated, designTopology);
      const { page, problems } = await strictPage(browser, (u) => u.startsWith('file://'));
      await page.goto(`file://${join(saturatedDir, 'index.html')}`);
      expect(problems).toEqual([]);

      expect(await page.textContent('h1')).toContain('INCONCLUSIVE');
      expect(await page.textContent('#outcome')).toBe(
        'Outcome: inconclusive, exit code 3 — 1 passed, 0 failed, 1 inconclusive.',
      );
      const rows = await page.$$eval('#expectations tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      expect(rows.map((r) => r[0])).toEqual(['PASS', 'INCONCLUSIVE']);
      expect(rows[1]![3]).toContain(
        'inconclusive: machine saturated 19:56–20:03: CPU 100 %, load-worker lag 580 ms; 40 % of the 90000 requests were taken with headroom',
      );

      const drawn = await page.$$eval('[data-chart]', (els) =>
        els.filter((el) => el.querySelector('.uplot canvas')).map((el) => el.getAttribute('data-chart')),
      );
      expect(drawn).toEqual([
        'queue-instances',
        'latency',
        'clock',
        'machine',
        'connections',
        'reconnect-times',
      ]);
      expect(await page.$$eval('#machine-saturated li', (lis) => lis.map((l) => l.textContent))).toEqual([
        'machine saturated 19:56–20:03: CPU 100 %, load-worker lag 580 ms',
      ]);
      expect(await page.textContent('#machine-what')).toContain(
        '4,980 of 5,400 wall seconds had headroom; counted: all 40 %',
      );
      // Under the cursor, a saturated minute says what saturated it.
      const over = (await page.$('#chart-machine .u-over'))!;
      await over.scrollIntoViewIfNeeded();
      const box = (await over.boundingBox())!;
      const minute = (at('19:59') - at('19:30')) / (at('21:00') - at('19:30'));
      await page.mouse.move(box.x + box.width * minute, box.y + box.height / 2);
      const legend = await page.$$eval('#chart-machine .u-legend .u-series .u-value', (els) =>
        els.map((el) => el.textContent),
      );
      expect(legend.slice(1, 4)).toEqual(['100', '70 % (app)', '10 % (CPU 100 %, load-worker lag 580 ms)']);
    }, 60_000);

    it('says a scale model is one, and shows every scaled number beside the design’s', async () => {
      const model = scaleModel(parseScenario(peakDrop), 0.25);
      const latency = verdicts[1]!;
      const alarm: Verdict = { ...verdicts[0]!, kind: 'alarm-state', name: 'scale-out in ALARM' };
      const modelled = summarize({
        scenarioFile: 'scenarios/peak-drop.ts',
        record: { ...recordedPeakDrop(), users: 6_250, scaleModel: model.record },
        verdicts: markIndicative([alarm, latency], model.record),
        topology: model.topology,
        aborted: false,
      });
      const modelDir = reportDirFor(root, 'model', new Date('2026-11-24T23:00:00Z'));
      writeReport(modelDir, modelled, model.topology);
      const { page, problems } = await strictPage(browser, (u) => u.startsWith('file://'));
      await page.goto(`file://${join(modelDir, 'index.html')}`);
      expect(problems).toEqual([]);

      expect(await page.textContent('h1')).toContain('PASSED');
      expect(await page.textContent('#model-banner')).toMatch(
        /^A 1:4 scale model of the design \(F = 0\.25\)/,
      );
      const rows = await page.$$eval('#expectations tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      expect(rows.map((r) => r[0])).toEqual(['PASS', 'INDICATIVE']);
      expect(rows[1]![3]).toContain('250 ms');
      expect(rows[1]![3]).toContain('scale model 1:4: indicative');
      expect(rows[1]![3]).toContain('measured: failed');

      const table = await page.$$eval('#scale-model tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      expect(table).toHaveLength(model.record.scaled.length);
      expect(table).toContainEqual(['topology.alarms[tiketi-queue-scale-out].threshold', '5,000', '1,250']);
      expect(table).toContainEqual(['users', '25,000', '6,250']);
      expect(table).toContainEqual(['topology.queue.admissionPerSecond', '50', '12.5']);
      expect(await page.$$eval('#scale-model-not-transferred li', (lis) => lis.length)).toBe(
        model.record.notTransferred.length,
      );
      // The full-scale report says nothing was scaled.
      await page.goto(`file://${join(dir, 'index.html')}`);
      expect(await page.textContent('#model-banner')).toBe('');
      expect(await page.$$eval('#scale-model tr', (trs) => trs.length)).toBe(0);
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
