/** `index.html`: one self-contained page (inline SVG, no scripts, no network) a person reads. */
import type { Topology } from '../../infra/topology.ts';
import type { Summary } from './write-report.ts';

const W = 900;
const H = 260;
const PAD = { left: 60, right: 60, top: 20, bottom: 30 };
const COLORS = [
  '#2563eb',
  '#16a34a',
  '#ea580c',
  '#9333ea',
  '#dc2626',
  '#0891b2',
  '#ca8a04',
  '#4b5563',
  '#db2777',
  '#65a30d',
];

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

interface Series {
  name: string;
  points: [number, number][];
  axis?: 'left' | 'right';
  dashed?: boolean;
  step?: boolean;
}

function lineChart(
  name: string,
  title: string,
  series: Series[],
  options: { x0: number; x1: number; leftLabel: string; rightLabel?: string; bands?: string },
): string {
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const max = (axis: 'left' | 'right') =>
    Math.max(
      1,
      ...series.filter((s) => (s.axis ?? 'left') === axis).flatMap((s) => s.points.map((p) => p[1])),
    );
  const maxL = max('left') * 1.1;
  const maxR = max('right') * 1.1;
  const x = (t: number) => PAD.left + ((t - options.x0) / Math.max(1, options.x1 - options.x0)) * iw;
  const y = (v: number, axis: 'left' | 'right') => PAD.top + ih - (v / (axis === 'left' ? maxL : maxR)) * ih;
  const paths = series.map((s, i) => {
    const axis = s.axis ?? 'left';
    let d = '';
    s.points.forEach(([t, v], k) => {
      if (s.step && k > 0) d += ` L${x(t).toFixed(1)},${y(s.points[k - 1]![1], axis).toFixed(1)}`;
      d += `${k === 0 ? 'M' : ' L'}${x(t).toFixed(1)},${y(v, axis).toFixed(1)}`;
    });
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}><title>${esc(s.name)}</title></path>`;
  });
  const ticks: string[] = [];
  const span = options.x1 - options.x0;
  const step =
    span > 3 * 3_600_000 ? 3_600_000 : span > 3_600_000 ? 900_000 : span > 1_200_000 ? 300_000 : 60_000;
  for (let t = Math.ceil(options.x0 / step) * step; t <= options.x1; t += step) {
    ticks.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${PAD.top}" y2="${PAD.top + ih}" stroke="#e5e7eb"/><text x="${x(t)}" y="${H - 8}" text-anchor="middle">${hhmm(t)}</text>`,
    );
  }
  for (const f of [0, 0.5, 1]) {
    const v = (maxL / 1.1) * f;
    ticks.push(
      `<text x="${PAD.left - 6}" y="${y(v, 'left') + 4}" text-anchor="end">${Math.round(v).toLocaleString('en')}</text>`,
    );
    if (options.rightLabel)
      ticks.push(
        `<text x="${W - PAD.right + 6}" y="${y((maxR / 1.1) * f, 'right') + 4}">${Math.round((maxR / 1.1) * f)}</text>`,
      );
  }
  const legend = series
    .map(
      (s, i) =>
        `<span class="key"><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(s.name)}</span>`,
    )
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption>
<svg data-chart="${name}" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(title)}">
<rect x="${PAD.left}" y="${PAD.top}" width="${iw}" height="${ih}" fill="#fafafa" stroke="#d1d5db"/>
${options.bands ?? ''}${ticks.join('')}
<text x="12" y="${PAD.top + ih / 2}" transform="rotate(-90 12 ${PAD.top + ih / 2})" text-anchor="middle">${esc(options.leftLabel)}</text>
${options.rightLabel ? `<text x="${W - 10}" y="${PAD.top + ih / 2}" transform="rotate(90 ${W - 10} ${PAD.top + ih / 2})" text-anchor="middle">${esc(options.rightLabel)}</text>` : ''}
${paths.join('\n')}
</svg><div class="legend">${legend}</div></figure>`;
}

function alarmBands(summary: Summary, x0: number, x1: number): string {
  const names = [...new Set(summary.alarmHistory.map((h) => h.alarm))];
  const iw = W - PAD.left - PAD.right;
  const x = (t: number) => PAD.left + ((t - x0) / Math.max(1, x1 - x0)) * iw;
  const rowH = 18;
  const rows = names.map((name, r) => {
    const changes = summary.alarmHistory.filter((h) => h.alarm === name);
    const parts: string[] = [];
    changes.forEach((c, i) => {
      const end = changes[i + 1]?.atMs ?? x1;
      const fill = c.to === 'ALARM' ? '#fca5a5' : c.to === 'OK' ? '#bbf7d0' : '#e5e7eb';
      parts.push(
        `<rect x="${x(c.atMs).toFixed(1)}" y="${r * rowH + 4}" width="${Math.max(1, x(end) - x(c.atMs)).toFixed(1)}" height="${rowH - 4}" fill="${fill}"><title>${esc(`${name}: ${c.to} at ${hhmm(c.atMs)} — ${c.reason}`)}</title></rect>`,
      );
    });
    return `${parts.join('')}<text x="${PAD.left - 6}" y="${r * rowH + 17}" text-anchor="end">${esc(name.replace('tiketi-queue-', '').replace('scale-out-aggressive', 'aggressive'))}</text>`;
  });
  return `<svg data-chart="alarm-states" viewBox="0 0 ${W} ${names.length * rowH + 8}" width="100%" role="img" aria-label="alarm states">${rows.join('')}</svg>
<div class="legend"><span class="key"><i style="background:#fca5a5"></i>ALARM</span><span class="key"><i style="background:#bbf7d0"></i>OK</span><span class="key"><i style="background:#e5e7eb"></i>INSUFFICIENT_DATA</span></div>`;
}

/** One failure on its own axis: seconds after the fault, each step a marker with its label. */
function faultTimeline(fault: Summary['faults'][number], index: number): string {
  const steps = fault.timeline;
  const span = Math.max(1, ...steps.map((e) => (e.atMs - fault.atMs) / 1_000));
  const rowH = 22;
  const height = PAD.top + steps.length * rowH + 28;
  const x = (ms: number) => PAD.left + ((ms - fault.atMs) / 1_000 / span) * (W - PAD.left - PAD.right - 180);
  const marks = steps.map((e, i) => {
    const cx = x(e.atMs).toFixed(1);
    const cy = PAD.top + i * rowH + 10;
    const seconds = Math.round((e.atMs - fault.atMs) / 1_000);
    const bad = /not within|failed|no healthy|replaced .* after failed/.test(e.label);
    return `<line x1="${cx}" y1="${PAD.top}" x2="${cx}" y2="${cy}" stroke="#cbd5e1" stroke-dasharray="2 2"/><circle cx="${cx}" cy="${cy}" r="5" fill="${bad ? '#dc2626' : '#2563eb'}"><title>${esc(`+${seconds} s ${e.label}`)}</title></circle><text x="${(Number(cx) + 9).toFixed(1)}" y="${cy + 4}">+${seconds} s ${esc(e.label)}</text>`;
  });
  const axisY = height - 20;
  return `<svg data-chart="fault-timeline" data-fault="${index}" viewBox="0 0 ${W} ${height}" width="100%" role="img" aria-label="${esc(`${fault.fault} timeline`)}"><line x1="${PAD.left}" y1="${axisY}" x2="${W - PAD.right - 180}" y2="${axisY}" stroke="#64748b"/><text x="${PAD.left}" y="${axisY + 14}">${hhmm(fault.atMs)} ${esc(fault.fault)}</text><text x="${W - PAD.right - 180}" y="${axisY + 14}" text-anchor="end">+${Math.round(span)} s</text>${marks.join('')}</svg>`;
}

function histogram(values: number[]): string {
  if (values.length === 0) return '<p>No client was disconnected.</p>';
  const max = Math.max(...values);
  const bins = 20;
  const width = Math.max(0.001, max / bins);
  const counts = Array.from(
    { length: bins },
    (_, i) =>
      values.filter((v) => v >= i * width && (i === bins - 1 ? v <= max : v < (i + 1) * width)).length,
  );
  const top = Math.max(...counts);
  const bw = (W - PAD.left - PAD.right) / bins;
  const bars = counts.map(
    (c, i) =>
      `<rect x="${PAD.left + i * bw + 1}" y="${H - PAD.bottom - (c / top) * (H - PAD.top - PAD.bottom)}" width="${bw - 2}" height="${(c / top) * (H - PAD.top - PAD.bottom)}" fill="#2563eb"><title>${(i * width).toFixed(1)}–${((i + 1) * width).toFixed(1)} s: ${c}</title></rect>`,
  );
  return `<svg data-chart="reconnect-times" viewBox="0 0 ${W} ${H}" width="100%">${bars.join('')}<text x="${PAD.left}" y="${H - 8}">0 s</text><text x="${W - PAD.right}" y="${H - 8}" text-anchor="end">${max.toFixed(1)} s</text></svg>`;
}

export function renderHtml(summary: Summary, topology: Topology): string {
  const s = summary.series;
  const x0 = s[0] ? s[0].atMs - 60_000 : 0;
  const x1 = s.at(-1)?.atMs ?? 1;
  const pts = (f: (p: Summary['series'][number]) => number | undefined): [number, number][] =>
    s.flatMap((p) => {
      const v = f(p);
      return v === undefined ? [] : [[p.atMs, v] as [number, number]];
    });
  const instanceIds = [...new Set(s.flatMap((p) => Object.keys(p.connectionsPerInstance)))].sort(
    (a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]),
  );
  const nearest = (ms: number) =>
    s.reduce<Summary['series'][number] | undefined>(
      (best, p) => (p.atMs <= ms + 30_000 && (!best || p.atMs > best.atMs) ? p : best),
      undefined,
    );
  const day = s[0] ? s[0].atMs - (s[0].atMs % 86_400_000) : 0;
  const timelineRows = topology.designTimeline.map((row) => {
    const [h, m] = row.at.split(':').map(Number) as [number, number];
    const at = day + (h * 60 + m) * 60_000;
    const seen = nearest(at);
    const instances = seen ? seen.instances.inService + seen.instances.pending : undefined;
    return `<tr><td>${row.at}</td><td>${row.queue.toLocaleString('en')}</td><td>${row.instances}</td><td>${esc(row.action)}</td><td>${seen ? seen.queueSize.toLocaleString('en') : '—'}</td><td>${instances ?? '—'}</td><td>${instances === undefined ? '' : instances === row.instances ? '✓' : `${instances - row.instances > 0 ? '+' : ''}${instances - row.instances}`}</td></tr>`;
  });
  const fixedMonthly = Object.entries(topology.monthlyCostKrw).filter(([k]) => k !== 'ec2PerInstance');
  const verdictRows = summary.expectations.map(
    (v) =>
      `<tr class="${v.passed ? 'pass' : 'fail'}"><td>${v.passed ? 'PASS' : 'FAIL'}</td><td>${esc(v.name)}</td><td>${esc(v.expected)}</td><td>${esc(v.observed)}</td></tr>`,
  );
  const activities = summary.scalingActivities.map(
    (a) =>
      `<tr><td>${hhmm(a.startMs)}</td><td>${a.endMs ? hhmm(a.endMs) : '—'}</td><td>${esc(a.status)}</td><td>${esc(a.description)}</td><td>${esc(a.cause)}</td></tr>`,
  );
  const faults = summary.faults.map(
    (f) =>
      `<tr><td>${hhmm(f.atMs)}</td><td>${esc(f.fault)}</td><td>${esc(f.detail)}</td><td>${f.timeline.map((m) => `${esc(m.label)} ${hhmm(m.atMs)}`).join(' → ')}</td></tr>`,
  );
  const latencyRows = Object.entries(summary.latency).map(([k, v]) =>
    v
      ? `<tr><td>${esc(k)}</td><td>${v.count}</td><td>${v.p50Ms}</td><td>${v.p95Ms}</td><td>${v.p99Ms}</td><td>${v.maxMs}</td></tr>`
      : '',
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiketi-sim — ${esc(summary.scenario)} — ${summary.passed ? 'PASSED' : 'FAILED'}</title>
<style>
body{font:14px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:980px;padding:24px;color:#111827}
h1{margin:0 0 4px}h2{margin-top:36px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:6px;color:#fff;font-weight:700}
.verdict.pass{background:#16a34a}.verdict.fail{background:#dc2626}
.facts{display:grid;grid-template-columns:repeat(4,1fr);gap:8px;margin:16px 0}
.facts div{background:#f3f4f6;border-radius:8px;padding:8px 12px}.facts b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
tr.fail td:first-child{color:#dc2626;font-weight:700}tr.pass td:first-child{color:#16a34a;font-weight:700}
figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}svg text{font-size:11px;fill:#4b5563}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px}.key i{display:inline-block;width:12px;height:4px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>${esc(summary.scenario)} <span class="verdict ${summary.passed ? 'pass' : 'fail'}">${summary.passed ? 'PASSED' : summary.aborted ? 'ABORTED' : 'FAILED'}</span></h1>
<div>${esc(summary.scenarioFile)}</div>
<div class="facts">
<div>users<b>${summary.users.toLocaleString('en')}</b></div>
<div>time scale (requested → effective)<b>${summary.timeScale.requested}× → ${summary.timeScale.effective}×</b></div>
<div>wall time<b>${summary.wallSeconds} s</b></div>
<div>peak Socket.IO connections<b>${summary.peakSocketConnections.toLocaleString('en')}</b></div>
</div>
<h2>Expectations</h2>
<table><tr><th></th><th>expectation</th><th>expected</th><th>observed</th></tr>${verdictRows.join('')}</table>
<h2>Queue, users, instances and alarms</h2>
${lineChart(
  'queue-instances',
  'Queue size and active users (left), instances (right)',
  [
    { name: 'queue size', points: pts((p) => p.queueSize) },
    { name: 'active users', points: pts((p) => p.activeUsers) },
    { name: 'instances InService', points: pts((p) => p.instances.inService), axis: 'right', step: true },
    {
      name: 'instances Pending',
      points: pts((p) => p.instances.pending),
      axis: 'right',
      step: true,
      dashed: true,
    },
  ],
  { x0, x1, leftLabel: 'users', rightLabel: 'instances' },
)}
${alarmBands(summary, x0, x1)}
<h2>Latency over time</h2>
${lineChart(
  'latency',
  'API and Socket.IO latency per simulated minute (ms), with the design targets',
  [
    { name: 'API P95', points: pts((p) => p.apiP95Ms) },
    { name: 'API P99', points: pts((p) => p.apiP99Ms) },
    { name: 'Socket.IO delivery P95', points: pts((p) => p.socketDeliveryP95Ms) },
    {
      name: `API P95 target ${topology.targets.apiP95Ms} ms`,
      points: [
        [x0, topology.targets.apiP95Ms],
        [x1, topology.targets.apiP95Ms],
      ],
      dashed: true,
    },
    {
      name: `delivery target ${topology.targets.socketDeliveryP95Ms} ms`,
      points: [
        [x0, topology.targets.socketDeliveryP95Ms],
        [x1, topology.targets.socketDeliveryP95Ms],
      ],
      dashed: true,
    },
  ],
  { x0, x1, leftLabel: 'ms' },
)}
<table><tr><th>endpoint</th><th>requests</th><th>P50 ms</th><th>P95 ms</th><th>P99 ms</th><th>max ms</th></tr>${latencyRows.join('')}</table>
<h2>The simulated clock</h2>
${
  summary.series.some((p) => p.timeScale !== undefined)
    ? lineChart(
        'clock',
        'Speed of the clock (left, simulated s per wall s) and wall seconds elapsed (right): where the run slowed so the machine could keep up',
        [
          { name: 'time scale', points: pts((p) => p.timeScale), step: true },
          { name: 'wall seconds', points: pts((p) => p.wallSeconds), axis: 'right' },
        ],
        { x0, x1, leftLabel: '×', rightLabel: 's' },
      )
    : '<p>This run recorded no clock speeds.</p>'
}
<h2>Connections per instance</h2>
${lineChart(
  'connections',
  'Open client connections per instance (HTTP in flight + WebSockets)',
  instanceIds.map((id) => ({ name: id, points: pts((p) => p.connectionsPerInstance[id]) })),
  { x0, x1, leftLabel: 'connections' },
)}
<h2>Scaling activities</h2>
<table><tr><th>start</th><th>end</th><th>status</th><th>description</th><th>cause</th></tr>${activities.join('') || '<tr><td colspan="5">none</td></tr>'}</table>
<h2>The design's timeline beside this run</h2>
<table><tr><th>time</th><th>design queue</th><th>design instances</th><th>design action</th><th>observed queue</th><th>observed instances</th><th>Δ</th></tr>${timelineRows.join('')}</table>
<p>Where AWS's semantics make the design's table impossible (for example −1 instance per 600 s cannot take 9 instances to 2 between 20:35 and 21:00), the emulator stays faithful to AWS and this table shows the difference.</p>
<h2>Faults</h2>
${faults.length ? `<table><tr><th>at</th><th>fault</th><th>detail</th><th>timeline</th></tr>${faults.join('')}</table>${summary.faults.map((f, i) => `<h3>${esc(f.fault)}: ${esc(f.detail)}</h3>${faultTimeline(f, i)}`).join('')}` : '<p>No faults were injected.</p>'}
<h3>Client reconnect times (simulated seconds)</h3>
${histogram(summary.reconnects.timesSeconds)}
<h2>Cost</h2>
<p>${summary.instanceHours} instance-hours of ${esc(topology.instance.type)} at ₩${topology.monthlyCostKrw.ec2PerInstance.toLocaleString('en')} per instance-month (730 h): <b>₩${summary.instanceCostKrw.toLocaleString('en')}</b> for this run.</p>
<table><tr><th>fixed monthly items of the design</th><th>₩ per month</th></tr>${fixedMonthly.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v.toLocaleString('en')}</td></tr>`).join('')}</table>
<h2>Counters</h2>
<table>${Object.entries({ ...summary.counters, ...summary.integrity })
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${Number(v).toLocaleString('en')}</td></tr>`)
    .join('')}</table>
</body></html>
`;
}
