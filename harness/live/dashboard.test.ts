import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { frameExpectation, frameFromSummary } from '../report/html.ts';
import { recordedPeakDrop } from '../report/record-fixture.ts';
import { hasChromium, launchChromium, skipNote, strictPage } from '../report/test-browser.ts';
import { summarize } from '../report/write-report.ts';
import { createLiveDashboard, type LiveDashboard } from './dashboard.ts';
import { type LiveSnapshot, liveFrame } from './live-frame.ts';

const record = recordedPeakDrop();
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
    name: 'API P95 under 200 ms',
    status: 'failed',
    passed: false,
    expected: '< 200 ms',
    observed: '250 ms',
  },
  {
    kind: 'reconnect',
    name: 'reconnect within 10 s',
    status: 'passed',
    passed: true,
    expected: '≤ 10 s',
    observed: '9 s',
  },
];
const summary = summarize({
  scenarioFile: 'scenarios/peak-drop.ts',
  record,
  verdicts,
  topology: designTopology,
  aborted: false,
});

/** The run as the runner knows it after `minutes` simulated minutes. */
function snapshot(minutes: number): LiveSnapshot {
  const samples = record.samples.slice(0, minutes);
  const nowMs = samples.at(-1)?.atMs ?? record.startMs;
  const until = <T extends { atMs: number }>(xs: T[]) => xs.filter((x) => x.atMs <= nowMs);
  return {
    scenario: record.scenario,
    scenarioFile: 'scenarios/peak-drop.ts',
    users: record.users,
    timeScaleRequested: record.timeScaleRequested,
    startMs: record.startMs,
    endMs: record.endMs,
    nowMs,
    wallSeconds: samples.at(-1)?.wallSeconds ?? 0,
    samples,
    alarmHistory: until(record.alarmHistory),
    scalingActivities: record.scalingActivities.filter((a) => a.startMs <= nowMs),
    instances: record.instances.filter((i) => i.launchedAtMs <= nowMs),
    faults: until(record.faults),
    policyRefusals: until(record.policyRefusals ?? []),
    expectations: verdicts.map(({ kind, name, expected }) => ({ kind, name, expected })),
  };
}

async function serve(dashboard: LiveDashboard): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const handler = dashboard.routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (handler) return handler(req, res);
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end('{"error":{"code":"not_found","message":"no"}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('live frames', () => {
  it('keep expectations pending until a verdict, and find what the run so far shows', () => {
    const early = liveFrame(snapshot(20), designTopology);
    expect(early.state).toBe('running');
    expect(early.expectations.map((e) => e.status)).toEqual(['pending', 'pending', 'pending']);
    expect(early.findings).toEqual([]);
    const later = liveFrame({ ...snapshot(40), verdicts: [verdicts[1]!] }, designTopology);
    expect(later.expectations.map((e) => e.status)).toEqual(['pending', 'FAIL', 'pending']);
    expect(later.findings.map((f) => f.rule)).toContain('scale-out-without-sockets');
  });
});

describe('the event stream', () => {
  it('sends the latest frame at once, each published frame, and ends after the last', async () => {
    const dashboard = createLiveDashboard({
      topology: designTopology,
      initialFrame: liveFrame(snapshot(1), designTopology),
    });
    const { server, url } = await serve(dashboard);
    try {
      const res = await fetch(`${url}/dashboard/events`);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const until = async (needle: string) => {
        while (!text.includes(needle)) text += decoder.decode((await reader.read()).value);
      };
      await until('\n\n');
      dashboard.publish(liveFrame(snapshot(5), designTopology));
      dashboard.finish(frameFromSummary(summary));
      await until('event: end');
      expect((await reader.read()).done).toBe(true);
      const frames = text
        .split('\n\n')
        .filter((e) => e.startsWith('event: frame'))
        .map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)));
      expect(frames.map((f) => f.nowMs)).toEqual([
        record.samples[0]!.atMs,
        record.samples[4]!.atMs,
        summary.series.at(-1)!.atMs,
      ]);
      // After the end, a page gets the report itself, with nothing to follow.
      expect(await (await fetch(`${url}/dashboard`)).text()).not.toContain('data-events=');
      expect((await fetch(`${url}/dashboard/events`, { method: 'POST' })).status).toBe(405);
    } finally {
      dashboard.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe.skipIf(!hasChromium)(`the live page in headless Chromium${skipNote}`, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(() => browser?.close());

  it('shows minutes advancing as frames arrive and ends with the verdicts of summary.json', async () => {
    const dashboard = createLiveDashboard({
      topology: designTopology,
      initialFrame: liveFrame(snapshot(0), designTopology),
    });
    const { server, url } = await serve(dashboard);
    try {
      const { page, problems, blocked } = await strictPage(browser, (u) => u.startsWith(url));
      await page.goto(`${url}/dashboard`);
      // Before the first minute is sampled the page stands, charts empty.
      expect(await page.textContent('#clock')).toBe('simulated 19:30:00 UTC');
      const clocks: string[] = [];
      for (const minutes of [1, 15, 30, 45]) {
        const frame = liveFrame(snapshot(minutes), designTopology);
        dashboard.publish(frame);
        await page.waitForFunction(`document.body.dataset.frameAt === '${frame.nowMs}'`);
        clocks.push((await page.textContent('#clock'))!);
        expect(await page.textContent('h1')).toContain('RUNNING');
        expect(await page.$$eval('#chart-queue-instances .uplot canvas', (c) => c.length)).toBe(1);
      }
      expect(clocks).toEqual([
        'simulated 19:31:00 UTC',
        'simulated 19:45:00 UTC',
        'simulated 20:00:00 UTC',
        'simulated 20:15:00 UTC',
      ]);
      expect(
        await page.$$eval('#expectations tr td:first-child', (tds) => tds.map((t) => t.textContent)),
      ).toEqual(['pending', 'pending', 'pending']);

      dashboard.finish(frameFromSummary(summary));
      await page.waitForFunction("document.body.dataset.state !== 'running'");
      const shown = await page.$$eval('#expectations tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      );
      expect(shown).toEqual(
        summary.expectations
          .map(frameExpectation)
          .map((v) => [v.status, v.name, v.expected, `${v.observed}${v.reason ?? ''}`]),
      );
      expect(await page.textContent('h1')).toContain(summary.outcome.toUpperCase());
      expect(await page.$$eval('#findings li', (lis) => lis.map((l) => l.getAttribute('data-rule')))).toEqual(
        summary.findings.map((f) => f.rule),
      );
      expect(problems).toEqual([]);
      expect(blocked).toEqual([]);
    } finally {
      dashboard.close();
      await new Promise((r) => server.close(r));
    }
  }, 90_000);
});
