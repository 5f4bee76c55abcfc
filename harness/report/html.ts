/**
 * `index.html` and the live dashboard: one page, one renderer. The page carries a frame (the run
 * so far, or all of it) as JSON and draws it in the browser with uPlot, inlined with the page's
 * script so the report is one file that opens offline; the live page redraws each frame the
 * server sends over server-sent events. The report is the live page's last frame.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Topology } from '../../infra/topology.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import type { Finding } from './findings.ts';
import { EXIT_CODES, type RunOutcome } from './outcome.ts';
import type { RunRecord } from './run-record.ts';
import type { MeasurementSummary, Summary } from './write-report.ts';

/**
 * An expectation as the page shows it: decided, or still pending while the run goes on.
 * `INCONCLUSIVE`: the run could not judge it (`reason` says why); `INDICATIVE`: judged, shown,
 * and gating nothing (a scale model's latency; `reason` says why and what it measured).
 */
export interface FrameExpectation {
  kind: string;
  name: string;
  status: 'PASS' | 'FAIL' | 'INCONCLUSIVE' | 'INDICATIVE' | 'pending';
  expected: string;
  observed?: string;
  reason?: string;
}

/** What the page draws: the run so far (live) or the whole run (the report). */
export interface ReportFrame {
  scenario: string;
  scenarioFile: string;
  state: 'running' | RunOutcome | 'aborted';
  /** Known at the end: the run's outcome and the exit code the CLI returns for it. */
  outcome?: { outcome: RunOutcome; exitCode: number };
  /** Simulated start and end of the run, and the simulated time of this frame. */
  startMs: number;
  endMs: number;
  nowMs: number;
  users: number;
  timeScale: { requested: number; effective?: number };
  wallSeconds: number;
  peakSocketConnections: number;
  expectations: FrameExpectation[];
  findings: Finding[];
  series: RunRecord['samples'];
  alarmHistory: RunRecord['alarmHistory'];
  scalingActivities: RunRecord['scalingActivities'];
  faults: RunRecord['faults'];
  latency: RunRecord['latency'];
  counters?: Partial<RunRecord['counters'] & RunRecord['integrity']>;
  reconnectTimesSeconds: number[];
  /** Client drops per instance, reason and cause (the report; absent on the live page). */
  disconnects?: RunRecord['disconnects'];
  /** Known at the end. */
  cost?: { instanceHours: number; instanceCostKrw: number };
  /** The engine that sent the users, when one did: its own checks and thresholds. */
  loadEngine?: Pick<NonNullable<RunRecord['loadEngine']>, 'engine' | 'file' | 'checks' | 'thresholds'>;
  /** Whether the machine could measure (the minute-by-minute state is `series[].machine`). */
  measurement?: FrameMeasurement;
  /** The run was a 1:1/F scale model: every scaled number beside the design's. */
  scaleModel?: RunRecord['scaleModel'];
}

/** `summary.measurement` without the latency figures the page already has. */
export type FrameMeasurement = Pick<
  MeasurementSummary,
  'thresholds' | 'saturated' | 'intervals' | 'countedShare'
>;

const STATUS_LABEL = { passed: 'PASS', failed: 'FAIL', inconclusive: 'INCONCLUSIVE' } as const;

/** A verdict's label, from its `status` (an inconclusive verdict has `passed: false` too). */
export function verdictStatus(v: Verdict): FrameExpectation['status'] {
  return v.indicative === undefined ? STATUS_LABEL[v.status] : 'INDICATIVE';
}

/** Why a verdict is not a plain PASS or FAIL, as the page prints it under the observation. */
function verdictReason(v: Verdict): string | undefined {
  const inconclusive =
    v.status === 'inconclusive' ? `inconclusive: ${v.reason ?? 'no reason recorded'}` : undefined;
  if (v.indicative === undefined) return inconclusive;
  return `${v.indicative}; measured: ${inconclusive ?? v.status}`;
}

/** A decided expectation as the page shows it. */
export function frameExpectation(v: Verdict): FrameExpectation {
  const { kind, name, expected, observed } = v;
  const reason = verdictReason(v);
  return { kind, name, status: verdictStatus(v), expected, observed, ...(reason ? { reason } : {}) };
}

/** The outcome, the validity of the measurement and the scale model: what the end of a run adds. */
function validityOf(summary: Summary): Pick<ReportFrame, 'outcome' | 'measurement' | 'scaleModel'> {
  const m = summary.measurement;
  return {
    outcome: { outcome: summary.outcome, exitCode: EXIT_CODES[summary.outcome] },
    ...(m
      ? {
          measurement: {
            thresholds: m.thresholds,
            saturated: m.saturated,
            intervals: m.intervals,
            countedShare: m.countedShare,
          },
        }
      : {}),
    ...(summary.scaleModel ? { scaleModel: summary.scaleModel } : {}),
  };
}

/** The report's frame: the finished run, as summary.json has it. */
export function frameFromSummary(summary: Summary): ReportFrame {
  const series = summary.series;
  const startMs = series[0] ? series[0].atMs - 60_000 : 0;
  const endMs = series.at(-1)?.atMs ?? startMs;
  return {
    scenario: summary.scenario,
    scenarioFile: summary.scenarioFile,
    state: summary.aborted ? 'aborted' : summary.outcome,
    startMs,
    endMs,
    nowMs: endMs,
    users: summary.users,
    timeScale: summary.timeScale,
    wallSeconds: summary.wallSeconds,
    peakSocketConnections: summary.peakSocketConnections,
    expectations: summary.expectations.map(frameExpectation),
    findings: summary.findings,
    series,
    alarmHistory: summary.alarmHistory,
    scalingActivities: summary.scalingActivities,
    faults: summary.faults,
    latency: summary.latency,
    counters: { ...summary.counters, ...summary.integrity },
    reconnectTimesSeconds: summary.reconnects.timesSeconds,
    ...(summary.disconnects ? { disconnects: summary.disconnects } : {}),
    cost: { instanceHours: summary.instanceHours, instanceCostKrw: summary.instanceCostKrw },
    ...(summary.loadEngine ? { loadEngine: engineOf(summary.loadEngine) } : {}),
    ...validityOf(summary),
  };
}

function engineOf(report: NonNullable<Summary['loadEngine']>): NonNullable<ReportFrame['loadEngine']> {
  const { engine, file, checks, thresholds } = report;
  return { engine, ...(file ? { file } : {}), checks, thresholds };
}

/** The design figures the page compares the run with. */
function designOf(topology: Topology) {
  return {
    timeline: topology.designTimeline,
    targets: topology.targets,
    alarms: topology.alarms.map(({ name, metricName, threshold, comparisonOperator }) => ({
      name,
      metricName,
      threshold,
      comparisonOperator,
    })),
    instanceType: topology.instance.type,
    ec2PerInstanceKrw: topology.monthlyCostKrw.ec2PerInstance,
  };
}

/** JSON inside a <script> element: `</script>` and `<!--` in a string must not end it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

const esc = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** uPlot and the page script, read once per renderer (they are files, not generated). */
export class PageAssets {
  readonly uplotJs: string;
  readonly uplotCss: string;
  readonly pageJs: string;

  constructor() {
    const require = createRequire(import.meta.url);
    const dist = (file: string) => require.resolve(`uplot/dist/${file}`);
    this.uplotJs = readFileSync(dist('uPlot.iife.min.js'), 'utf8');
    this.uplotCss = readFileSync(dist('uPlot.min.css'), 'utf8');
    this.pageJs = readFileSync(new URL('./page/report-page.js', import.meta.url), 'utf8');
  }
}

const CSS = `
body{font:14px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:1000px;padding:24px;color:#111827}
h1{margin:0 0 4px}h2{margin-top:36px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:6px;color:#fff;font-weight:700}
.verdict.passed{background:#16a34a}.verdict.failed,.verdict.aborted{background:#dc2626}.verdict.running{background:#2563eb}
.facts{display:grid;grid-template-columns:repeat(4,1fr);gap:8px;margin:16px 0}
.facts div{background:#f3f4f6;border-radius:8px;padding:8px 12px}.facts b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
tr.fail td:first-child{color:#dc2626;font-weight:700}tr.pass td:first-child{color:#16a34a;font-weight:700}tr.pending td:first-child{color:#6b7280}
#findings li{margin:6px 0}#findings li.warning{border-left:4px solid #dc2626;padding-left:8px}#findings li.info{border-left:4px solid #2563eb;padding-left:8px}
.chart{min-height:120px}.strip{display:flex;align-items:center;font-size:12px;margin:2px 0}.strip span{width:260px}
.strip div{position:relative;flex:1;height:14px;background:#f9fafb}.strip i{position:absolute;top:0;bottom:0}
.strip i.ALARM{background:#fca5a5}.strip i.OK{background:#bbf7d0}.strip i.INSUFFICIENT_DATA{background:#e5e7eb}
.fault-timeline{list-style:none;padding:0;border-left:2px solid #64748b}.fault-timeline li{margin-left:calc(var(--at) * 0.6);padding:2px 6px;font-size:13px}
.fault-timeline li::before{content:'●';color:#2563eb;margin-right:6px}.fault-timeline li.bad::before{color:#dc2626}
#clock{color:#6b7280}
`;

/** Verdicts that are not a plain PASS or FAIL, the outcome line, the machine and the scale model. */
const VALIDITY_CSS = `
.verdict.inconclusive{background:#ca8a04}#outcome{margin:4px 0;color:#374151}
tr.inconclusive td:first-child{color:#b45309;font-weight:700}tr.indicative td:first-child{color:#6b7280;font-weight:700}
.reason{display:block;font-size:12px;color:#6b7280}#model-banner{background:#eff6ff;border-radius:8px;padding:8px 12px}
#model-banner:empty{display:none}#scale-model td:nth-child(n+2){text-align:right;font-variant-numeric:tabular-nums}
`;

const BODY = `
<h1 id="title"></h1><div id="file"></div><div id="clock"></div><div id="outcome"></div>
<div class="facts" id="facts"></div>
<p id="model-banner"></p>
<h2>Expectations</h2>
<table><thead><tr><th></th><th>expectation</th><th>expected</th><th>observed</th></tr></thead><tbody id="expectations"></tbody></table>
<h2>Findings</h2><ul id="findings"></ul>
<h2>Queue, users, instances and alarms</h2>
<p>Queue size and active users (left), instances (right); shaded: a scale-out alarm in ALARM. Drag to zoom, double-click to reset.</p>
<div class="chart" id="chart-queue-instances" data-chart="queue-instances"></div>
<div id="chart-alarm-states" data-chart="alarm-states"></div>
<h2>Latency over time</h2>
<p>API, Socket.IO connect and delivery P95 / P99 per simulated minute (ms), with the design targets.</p>
<div class="chart" id="chart-latency" data-chart="latency"></div>
<table><thead><tr><th>endpoint</th><th>requests</th><th>P50 ms</th><th>P95 ms</th><th>P99 ms</th><th>max ms</th></tr></thead><tbody id="latency-table"></tbody></table>
<h2>The simulated clock</h2>
<p>Its speed (simulated s per wall s, with what set it on hover) and the wall seconds elapsed: where the run slowed so the machine could keep up.</p>
<div class="chart" id="chart-clock" data-chart="clock"></div>
<h2>The machine</h2><p id="machine-what"></p>
<div class="chart" id="chart-machine" data-chart="machine"></div>
<ul id="machine-saturated"></ul>
<h2>Connections per instance</h2><p id="connections-what"></p>
<div class="chart" id="chart-connections" data-chart="connections"></div>
<h2>Scaling activities</h2>
<table><thead><tr><th>start</th><th>end</th><th>status</th><th>description</th><th>cause</th></tr></thead><tbody id="activities"></tbody></table>
<h2>The design's timeline beside this run</h2>
<table><thead><tr><th>time</th><th>design queue</th><th>design instances</th><th>design action</th><th>observed queue</th><th>observed instances</th><th>Δ</th></tr></thead><tbody id="design-timeline"></tbody></table>
<h2>Scale model</h2><p id="scale-model-what"></p>
<table><thead><tr><th>number (key path)</th><th>design</th><th>this model</th></tr></thead><tbody id="scale-model"></tbody></table>
<ul id="scale-model-not-transferred"></ul>
<h2>Faults</h2><div id="faults"></div>
<h3>Client reconnect times (simulated seconds)</h3>
<div class="chart" id="chart-reconnect-times" data-chart="reconnect-times"></div>
<h3>Client disconnects: the instance, Socket.IO's reason, and what the harness knew of the instance</h3>
<table><thead><tr><th>instance</th><th>reason</th><th>cause</th><th>clients</th><th>back</th><th>from</th><th>to</th></tr></thead><tbody id="disconnects"></tbody></table>
<h2>Load engine</h2><p id="engine-what"></p>
<table><thead><tr><th></th><th>the engine's check or threshold</th><th>result</th></tr></thead><tbody id="engine"></tbody></table>
<h2>Cost</h2><p id="cost"></p>
<h2>Counters</h2><table><tbody id="counters"></tbody></table>
`;

/**
 * Renders the page for `frame`. With `eventsPath`, the page follows the run: it redraws every
 * frame the server sends there (`event: frame`) until `event: end`.
 */
export function renderPage(
  frame: ReportFrame,
  topology: Topology,
  options: { assets: PageAssets; eventsPath?: string },
): string {
  const { assets } = options;
  const events = options.eventsPath ? ` data-events="${esc(options.eventsPath)}"` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiketi-sim — ${esc(frame.scenario)}</title>
<style>${assets.uplotCss}</style><style>${CSS}${VALIDITY_CSS}</style></head><body${events}>
<noscript>This report draws its charts with JavaScript; summary.json holds every number.</noscript>
${BODY}
<script type="application/json" id="design">${scriptJson(designOf(topology))}</script>
<script type="application/json" id="frame">${scriptJson(frame)}</script>
<script>${assets.uplotJs}</script>
<script>${assets.pageJs}</script>
</body></html>
`;
}

/** `index.html`: the live page's last frame, with no event source. */
export function renderHtml(summary: Summary, topology: Topology, assets = new PageAssets()): string {
  return renderPage(frameFromSummary(summary), topology, { assets });
}
