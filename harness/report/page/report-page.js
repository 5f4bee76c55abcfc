// The report page's script (browser, no build step): draws a frame (html.ts ReportFrame) with uPlot,
// and on the live page redraws each frame the server sends over server-sent events. The final
// report is the same page with its last frame and no event source.
(() => {
  const design = JSON.parse(document.getElementById('design').textContent);
  const COLORS = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#dc2626', '#0891b2', '#ca8a04', '#4b5563'];
  const ALARM_FILL = ['rgba(220,38,38,0.10)', 'rgba(234,88,12,0.16)', 'rgba(147,51,234,0.10)'];
  const charts = new Map();
  const $ = (id) => document.getElementById(id);
  const esc = (t) =>
    String(t).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const hhmm = (ms) => new Date(ms).toISOString().slice(11, 16);
  const num = (v) => (v === undefined || v === null ? '—' : Number(v).toLocaleString('en'));
  const secs = (ms) => ms / 1_000;
  /** Simulated time of a chart's x value (epoch seconds), `HH:MM` or `HH:MM:SS`. */
  const utc = (seconds, end) => new Date(seconds * 1_000).toISOString().slice(11, end);
  const row = (cells, cls) =>
    `<tr${cls ? ` class="${cls}"` : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;

  /** Time span of the whole run, so charts keep their axis while a live run fills it. */
  function xRange(frame) {
    const from = frame.startMs ?? (frame.series[0] ? frame.series[0].atMs - 60_000 : 0);
    return [secs(from), secs(Math.max(frame.endMs ?? 0, frame.nowMs ?? 0, from + 60_000))];
  }

  /** Intervals each alarm spent in ALARM, up to `endMs`. */
  function alarmIntervals(frame, endMs) {
    const byAlarm = new Map();
    for (const t of frame.alarmHistory) byAlarm.set(t.alarm, [...(byAlarm.get(t.alarm) ?? []), t]);
    return [...byAlarm].map(([alarm, changes]) => ({
      alarm,
      spans: changes.map((c, i) => ({
        to: c.to,
        reason: c.reason,
        from: c.atMs,
        until: changes[i + 1]?.atMs ?? endMs,
      })),
    }));
  }

  function bandsPlugin(frame) {
    return {
      hooks: {
        drawClear: (u) => {
          const { ctx, bbox } = u;
          alarmIntervals(frame, frame.nowMs ?? frame.endMs).forEach((a, i) => {
            ctx.fillStyle = ALARM_FILL[i % ALARM_FILL.length];
            for (const s of a.spans.filter((x) => x.to === 'ALARM')) {
              const x0 = u.valToPos(secs(s.from), 'x', true);
              const x1 = u.valToPos(secs(s.until), 'x', true);
              ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
            }
          });
        },
      },
    };
  }

  /** Creates or updates one uPlot chart inside `#chart-<name>`. */
  function chart(name, series, data, extra = {}) {
    const el = $(`chart-${name}`);
    const width = Math.max(320, el.clientWidth || 900);
    const existing = charts.get(name);
    if (existing && existing.series.length === series.length + 1) {
      // A reader zoomed into a minute keeps it while the live run goes on (double-click resets).
      const shown = existing.data[0];
      const zoomed = existing.scales.x.min > shown[0] || existing.scales.x.max < shown[shown.length - 1];
      existing.setData(data, !zoomed);
      return;
    }
    existing?.destroy();
    const [xAxis, ...yAxes] = extra.axes ?? [{}, { size: 60 }];
    const opts = {
      width,
      height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      scales: { x: { time: true } },
      series: [{ label: 'time (UTC)', value: (_u, v) => (v === null ? '--' : utc(v, 19)) }, ...series],
      axes: [{ ...xAxis, values: (_u, splits) => splits.map((v) => utc(v, 16)) }, ...yAxes],
      cursor: { drag: { x: true, y: false } },
      plugins: extra.plugins ?? [],
    };
    el.innerHTML = '';
    charts.set(name, new uPlot(opts, data, el));
  }

  const line = (label, color, more = {}) => ({ label, stroke: color, width: 2, spanGaps: true, ...more });
  const stepped = () => uPlot.paths.stepped({ align: 1 });

  function queueChart(frame, xs) {
    const s = frame.series;
    const thresholds = design.alarms.filter(
      (a) => a.metricName === 'QueueSize' && a.comparisonOperator.startsWith('Greater'),
    );
    chart(
      'queue-instances',
      [
        line('queue size', COLORS[0], { scale: 'users' }),
        line('active users', COLORS[1], { scale: 'users' }),
        line('instances InService', COLORS[2], { scale: 'n', paths: stepped() }),
        line('instances Pending', COLORS[3], { scale: 'n', paths: stepped(), dash: [6, 4] }),
        ...thresholds.map((a, i) =>
          line(`${a.name} threshold`, COLORS[4 + (i % 3)], { scale: 'users', dash: [2, 4], width: 1 }),
        ),
      ],
      [
        xs,
        s.map((p) => p.queueSize),
        s.map((p) => p.activeUsers),
        s.map((p) => p.instances.inService),
        s.map((p) => p.instances.pending),
        ...thresholds.map((a) => s.map(() => a.threshold)),
      ],
      {
        axes: [
          {},
          { scale: 'users', size: 70, label: 'users' },
          { scale: 'n', side: 1, label: 'instances', grid: { show: false } },
        ],
        plugins: [bandsPlugin(frame)],
      },
    );
    alarmStrip(frame);
  }

  function alarmStrip(frame) {
    const [x0, x1] = xRange(frame).map((v) => v * 1_000);
    const pct = (ms) => (((ms - x0) / Math.max(1, x1 - x0)) * 100).toFixed(2);
    const rows = alarmIntervals(frame, frame.nowMs ?? frame.endMs).map(
      (a) =>
        `<div class="strip"><span>${esc(a.alarm)}</span><div>${a.spans
          .map(
            (s) =>
              `<i class="${s.to}" style="left:${pct(s.from)}%;width:${Math.max(0.2, pct(s.until) - pct(s.from))}%" title="${esc(`${a.alarm}: ${s.to} ${hhmm(s.from)}–${hhmm(s.until)} — ${s.reason}`)}"></i>`,
          )
          .join('')}</div></div>`,
    );
    $('chart-alarm-states').innerHTML = rows.join('') || '<p>No alarm changed state yet.</p>';
  }

  function latencyChart(frame, xs) {
    const s = frame.series;
    const t = design.targets;
    chart(
      'latency',
      [
        line('API P95', COLORS[0]),
        line('API P99', COLORS[0], { dash: [4, 3] }),
        line('connect P95', COLORS[3]),
        line('connect P99', COLORS[3], { dash: [4, 3] }),
        line('delivery P95', COLORS[1]),
        line('delivery P99', COLORS[1], { dash: [4, 3] }),
        line(`API P95 target ${t.apiP95Ms} ms`, COLORS[4], { dash: [8, 4], width: 1 }),
        line(`delivery P95 target ${t.socketDeliveryP95Ms} ms`, COLORS[6], { dash: [8, 4], width: 1 }),
      ],
      [
        xs,
        s.map((p) => p.apiP95Ms ?? null),
        s.map((p) => p.apiP99Ms ?? null),
        s.map((p) => p.socketConnectP95Ms ?? null),
        s.map((p) => p.socketConnectP99Ms ?? null),
        s.map((p) => p.socketDeliveryP95Ms ?? null),
        s.map((p) => p.socketDeliveryP99Ms ?? null),
        s.map(() => t.apiP95Ms),
        s.map(() => t.socketDeliveryP95Ms),
      ],
      { axes: [{}, { size: 60, label: 'ms' }] },
    );
  }

  function clockChart(frame, xs) {
    const s = frame.series;
    chart(
      'clock',
      [
        line('time scale', COLORS[0], {
          paths: stepped(),
          value: (_u, v, _si, i) => (v === null ? '—' : `${v}× (${s[i]?.clockLimitedBy ?? '?'})`),
        }),
        line('wall seconds', COLORS[7], { scale: 's' }),
      ],
      [xs, s.map((p) => p.timeScale ?? null), s.map((p) => p.wallSeconds ?? null)],
      {
        axes: [{}, { size: 50, label: '×' }, { scale: 's', side: 1, label: 'wall s', grid: { show: false } }],
      },
    );
  }

  function connectionsChart(frame, xs) {
    const s = frame.series;
    const bySockets = s.some((p) => p.socketsPerInstance);
    const of = (p) => (bySockets ? (p.socketsPerInstance ?? {}) : p.connectionsPerInstance);
    const ids = [...new Set(s.flatMap((p) => Object.keys(of(p))))].sort(
      (a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]),
    );
    $('connections-what').textContent = bySockets
      ? 'Socket.IO connections per instance'
      : 'open connections (HTTP in flight + WebSockets) per instance';
    chart(
      'connections',
      ids.map((id, i) => line(id, COLORS[i % COLORS.length])),
      [xs, ...ids.map((id) => s.map((p) => of(p)[id] ?? null))],
      { axes: [{}, { size: 70 }] },
    );
  }

  function reconnectChart(frame) {
    const values = frame.reconnectTimesSeconds;
    const el = $('chart-reconnect-times');
    if (values.length === 0) {
      charts.get('reconnect-times')?.destroy();
      charts.delete('reconnect-times');
      el.innerHTML = '<p>No client was disconnected.</p>';
      return;
    }
    const bins = 20;
    const width = Math.max(0.001, Math.max(...values) / bins);
    const xs = Array.from({ length: bins }, (_, i) => Number((i * width).toFixed(3)));
    const counts = xs.map(
      (_, i) => values.filter((v) => Math.min(bins - 1, Math.floor(v / width)) === i).length,
    );
    charts.get('reconnect-times')?.destroy();
    el.innerHTML = '';
    const u = new uPlot(
      {
        width: Math.max(320, el.clientWidth || 900),
        height: 200,
        scales: { x: { time: false } },
        series: [
          { label: 'seconds' },
          {
            label: 'clients',
            fill: COLORS[0],
            stroke: COLORS[0],
            paths: uPlot.paths.bars({ size: [0.9, 40] }),
          },
        ],
        axes: [{ label: 'reconnect time, simulated s' }, { size: 50 }],
      },
      [xs, counts],
      el,
    );
    charts.set('reconnect-times', u);
  }

  function faultTimelines(frame) {
    const html = frame.faults.map((f) => {
      const span = Math.max(1, ...f.timeline.map((e) => (e.atMs - f.atMs) / 1_000));
      const marks = f.timeline.map((e) => {
        const s = Math.round((e.atMs - f.atMs) / 1_000);
        const bad = /not within|failed|no healthy/.test(e.label);
        return `<li class="${bad ? 'bad' : ''}" style="--at:${((s / span) * 100).toFixed(1)}%"><b>+${s} s</b> ${esc(e.label)}</li>`;
      });
      const state = f.complete ? '' : ' <em>(in progress)</em>';
      return `<h3>${hhmm(f.atMs)} ${esc(f.fault)}: ${esc(f.detail)}${state}</h3><ol class="fault-timeline" data-chart="fault-timeline">${marks.join('')}</ol>`;
    });
    $('faults').innerHTML = html.join('') || '<p>No faults were injected.</p>';
  }

  function verdictLabel(frame) {
    return {
      running: 'RUNNING',
      passed: 'PASSED',
      failed: 'FAILED',
      inconclusive: 'INCONCLUSIVE',
      aborted: 'ABORTED',
    }[frame.state];
  }

  function header(frame) {
    const label = verdictLabel(frame);
    document.title = `tiketi-sim — ${frame.scenario} — ${label}`;
    $('title').innerHTML = `${esc(frame.scenario)} <span class="verdict ${frame.state}">${label}</span>`;
    $('file').textContent = frame.scenarioFile;
    $('clock').textContent = frame.nowMs
      ? `simulated ${new Date(frame.nowMs).toISOString().slice(11, 19)} UTC`
      : '';
    $('facts').innerHTML = [
      ['users', num(frame.users)],
      [
        'time scale (requested → effective)',
        `${frame.timeScale.requested}× → ${frame.timeScale.effective ?? '…'}×`,
      ],
      ['wall time', `${num(frame.wallSeconds)} s`],
      ['peak Socket.IO connections', num(frame.peakSocketConnections)],
    ]
      .map(([k, v]) => `<div>${esc(k)}<b>${esc(v)}</b></div>`)
      .join('');
  }

  function tables(frame) {
    $('expectations').innerHTML = expectationRows(frame);
    $('findings').innerHTML =
      frame.findings
        .map(
          (f) =>
            `<li class="${f.severity}" data-rule="${esc(f.rule)}"><b>${hhmm(f.atMs)}</b> ${esc(f.text)} <code>${esc(f.designElement)}</code></li>`,
        )
        .join('') || '<li>Nothing to report.</li>';
    $('latency-table').innerHTML = Object.entries(frame.latency)
      .map(([k, v]) => row([esc(k), num(v.count), v.p50Ms, v.p95Ms, v.p99Ms, v.maxMs]))
      .join('');
    $('activities').innerHTML =
      frame.scalingActivities
        .map((a) =>
          row([
            hhmm(a.startMs),
            a.endMs ? hhmm(a.endMs) : '—',
            esc(a.status),
            esc(a.description),
            esc(a.cause),
          ]),
        )
        .join('') || row(['none']);
    $('design-timeline').innerHTML = designRows(frame).join('');
    $('disconnects').innerHTML = frame.disconnects
      ? frame.disconnects
          .map((d) =>
            row([
              esc(d.instanceId ?? 'unknown'),
              esc(d.reason),
              esc(d.causeDetail),
              num(d.count),
              num(d.back),
              utc(secs(d.firstAtMs), 19),
              utc(secs(d.lastAtMs), 19),
            ]),
          )
          .join('') || row(['none'])
      : row([
          frame.state === 'running'
            ? 'known when the run ends'
            : 'not recorded: no client of this run watched',
        ]);
    engineTable(frame);
    $('counters').innerHTML = Object.entries(frame.counters ?? {})
      .map(([k, v]) => row([esc(k), num(v)]))
      .join('');
    $('cost').innerHTML = frame.cost
      ? `${frame.cost.instanceHours} instance-hours of ${esc(design.instanceType)} at ₩${num(design.ec2PerInstanceKrw)} per instance-month (730 h): <b>₩${num(frame.cost.instanceCostKrw)}</b> for this run.`
      : 'Known when the run ends.';
  }

  /** The engine that sent the users (--load external --load-report): its own verdicts. */
  function engineTable(frame) {
    const engine = frame.loadEngine;
    $('engine-what').textContent = engine
      ? `${engine.engine} sent the users${engine.file ? ` (report ${engine.file})` : ''}: the latencies, errors and purchases above are its figures; below, its own verdicts.`
      : "tiketi-sim's load generator sent the users.";
    if (!engine) {
      $('engine').innerHTML = '';
      return;
    }
    const checks = engine.checks.map((c) =>
      row(
        [
          c.fails > 0 ? 'FAIL' : 'PASS',
          esc(`check: ${c.name}`),
          `${num(c.passes)} passed, ${num(c.fails)} failed`,
        ],
        c.fails > 0 ? 'fail' : 'pass',
      ),
    );
    const thresholds = engine.thresholds.map((t) =>
      row(
        [t.passed ? 'PASS' : 'FAIL', esc(`threshold: ${t.name}`), t.passed ? 'held' : 'crossed'],
        t.passed ? 'pass' : 'fail',
      ),
    );
    $('engine').innerHTML =
      [...checks, ...thresholds].join('') ||
      row(['', `the ${esc(engine.engine)} report holds no checks or thresholds`, '']);
  }

  function designRows(frame) {
    const first = frame.startMs ?? frame.series[0]?.atMs ?? 0;
    const day = first - (first % 86_400_000);
    return design.timeline.map((r) => {
      const [h, m] = r.at.split(':').map(Number);
      const at = day + (h * 60 + m) * 60_000;
      const seen = frame.series.filter((p) => p.atMs <= at + 30_000 && p.atMs > at - 90_000).at(-1);
      const n = seen
        ? (seen.desiredCapacity ?? seen.instances.inService + seen.instances.pending)
        : undefined;
      const delta =
        n === undefined ? '' : n === r.instances ? '✓' : `${n > r.instances ? '+' : ''}${n - r.instances}`;
      return row([
        r.at,
        num(r.queue),
        r.instances,
        esc(r.action),
        seen ? num(seen.queueSize) : '—',
        n ?? '—',
        delta,
      ]);
    });
  }

  /**
   * One row per expectation: PASS, FAIL, INCONCLUSIVE (the run could not judge it) or INDICATIVE
   * (a scale model's latency: shown, gating nothing), with the reason under the observation.
   */
  function expectationRows(frame) {
    return frame.expectations
      .map((v) => {
        const reason = v.reason ? `<span class="reason">${esc(v.reason)}</span>` : '';
        return row(
          [v.status, esc(v.name), esc(v.expected), `${esc(v.observed ?? '…')}${reason}`],
          v.status.toLowerCase(),
        );
      })
      .join('');
  }

  /** The outcome a CI gate reads, with the exit code `tiketi-sim run` returns for it. */
  function outcomeLine(frame) {
    const o = frame.outcome;
    if (!o) {
      $('outcome').textContent = '';
      return;
    }
    const count = (status) => frame.expectations.filter((v) => v.status === status).length;
    const parts = [
      `${count('PASS')} passed`,
      `${count('FAIL')} failed`,
      `${count('INCONCLUSIVE')} inconclusive`,
      ...(count('INDICATIVE') > 0 ? [`${count('INDICATIVE')} indicative (gating nothing)`] : []),
    ];
    $('outcome').textContent = `Outcome: ${o.outcome}, exit code ${o.exitCode} — ${parts.join(', ')}.`;
  }

  /** A scale model says so at the top, and lists every scaled number beside the design's. */
  function scaleModel(frame) {
    const m = frame.scaleModel;
    if (!m) {
      $('model-banner').textContent = '';
      $('scale-model-what').textContent = 'This run is the design at full scale (1:1): no number was scaled.';
      $('scale-model').innerHTML = '';
      $('scale-model-not-transferred').innerHTML = '';
      return;
    }
    const latency = m.latencyGates
      ? 'its latency expectations gate the run (the scenario opted in)'
      : 'its latency verdicts are indicative and gate nothing';
    const what = `A ${m.ratio} scale model of the design (F = ${m.factor}): every count and rate of users is × ${m.factor}, every time as designed, so the queue crosses each threshold at the design's minute; ${latency}.`;
    $('model-banner').textContent =
      `${what} The ${m.scaled.length} scaled numbers are under "Scale model" below.`;
    $('scale-model-what').textContent = `${what} Every number not listed is as designed.`;
    $('scale-model').innerHTML = m.scaled
      .map((n) => row([`<code>${esc(n.path)}</code>`, num(n.design), num(n.model)]))
      .join('');
    $('scale-model-not-transferred').innerHTML = m.notTransferred
      .map((t) => `<li>does not transfer: ${esc(t)}</li>`)
      .join('');
  }

  const pct = (share) => (share === undefined || share === null ? null : Math.round(share * 100));

  /** Minutes in which some interval had no headroom, shaded. */
  function saturatedMinutesPlugin(frame) {
    return {
      hooks: {
        drawClear: (u) => {
          const { ctx, bbox } = u;
          ctx.fillStyle = 'rgba(202,138,4,0.16)';
          for (const p of frame.series.filter((x) => x.machine?.saturatedBy)) {
            const x0 = u.valToPos(secs(p.atMs - 60_000), 'x', true);
            const x1 = u.valToPos(secs(p.atMs), 'x', true);
            ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
          }
        },
      },
    };
  }

  /** The machine minute by minute (`series[].machine`): could it measure, and what took it. */
  function machineChart(frame, xs) {
    const s = frame.series;
    const el = $('chart-machine');
    if (!s.some((p) => p.machine)) {
      charts.get('machine')?.destroy();
      charts.delete('machine');
      el.innerHTML = `<p>${frame.state === 'running' ? 'No minute measured yet.' : "This run did not record the machine's state: every latency sample counted."}</p>`;
      return;
    }
    const t = frame.measurement?.thresholds;
    const busiest = (p) =>
      Object.entries(p.machine?.worst.coreBusy ?? {}).reduce(
        (a, b) => (b[1] > (a?.[1] ?? -1) ? b : a),
        undefined,
      );
    const lag = (source) => s.map((p) => p.machine?.worst.lagMs[source] ?? null);
    chart(
      'machine',
      [
        line('all cores busy %', COLORS[4], { scale: '%' }),
        line('busiest process on the path, % of a core', COLORS[2], {
          scale: '%',
          value: (_u, v, _si, i) => (v === null ? '—' : `${v} % (${busiest(s[i])?.[0] ?? '?'})`),
        }),
        line('minute with headroom %', COLORS[1], {
          scale: '%',
          paths: stepped(),
          dash: [6, 4],
          value: (_u, v, _si, i) =>
            v === null
              ? '—'
              : `${v} %${s[i]?.machine?.saturatedBy ? ` (${s[i].machine.saturatedBy.join(', ')})` : ''}`,
        }),
        line('runner event-loop lag ms', COLORS[7], { scale: 'ms' }),
        line('load-worker event-loop lag ms', COLORS[3], { scale: 'ms' }),
        ...(t
          ? [
              line(`CPU limit ${pct(t.maxCpuBusy)} %`, COLORS[4], { scale: '%', dash: [2, 4], width: 1 }),
              line(`lag limit ${t.maxEventLoopLagMs} ms`, COLORS[3], { scale: 'ms', dash: [2, 4], width: 1 }),
            ]
          : []),
      ],
      [
        xs,
        s.map((p) => pct(p.machine?.worst.cpuBusy)),
        s.map((p) => pct(busiest(p)?.[1])),
        s.map((p) => pct(p.machine?.headroomShare)),
        lag('runner'),
        lag('load-worker'),
        ...(t ? [s.map(() => pct(t.maxCpuBusy)), s.map(() => t.maxEventLoopLagMs)] : []),
      ],
      {
        axes: [
          {},
          { scale: '%', size: 50, label: '%' },
          { scale: 'ms', side: 1, label: 'lag ms', grid: { show: false } },
        ],
        plugins: [saturatedMinutesPlugin(frame)],
      },
    );
  }

  /** What the machine rule is, how much of each latency counted, and each saturated stretch. */
  function machineText(frame) {
    const m = frame.measurement;
    const rule = m
      ? ` Latency samples count toward the verdicts only when taken with headroom (all cores below ${pct(m.thresholds.maxCpuBusy)} % busy, event-loop lag at most ${m.thresholds.maxEventLoopLagMs} ms, no process on the path at ${pct(m.thresholds.maxProcessCoreBusy)} % of a core); a latency verdict with fewer than ${pct(m.thresholds.minHeadroomShare)} % of its samples counted is inconclusive. ${num(m.intervals.withHeadroom)} of ${num(m.intervals.total)} wall seconds had headroom; counted: ${
          Object.entries(m.countedShare)
            .map(([k, v]) => `${esc(k)} ${pct(v)} %`)
            .join(', ') || 'no samples'
        }.`
      : '';
    $('machine-what').innerHTML =
      `The worst of each minute: all cores busy, the busiest process on a request's path, and the event-loop lag of the runner and the load workers; shaded: minutes with seconds without headroom.${rule}`;
    $('machine-saturated').innerHTML = (m?.saturated ?? [])
      .map(
        (x) => `<li>machine saturated ${hhmm(x.fromMs)}–${hhmm(x.toMs)}: ${esc(x.reasons.join(', '))}</li>`,
      )
      .join('');
  }

  function render(frame) {
    const xs = frame.series.map((p) => secs(p.atMs));
    header(frame);
    outcomeLine(frame);
    scaleModel(frame);
    tables(frame);
    queueChart(frame, xs);
    latencyChart(frame, xs);
    clockChart(frame, xs);
    machineChart(frame, xs);
    machineText(frame);
    connectionsChart(frame, xs);
    faultTimelines(frame);
    reconnectChart(frame);
    document.body.dataset.frameAt = String(frame.nowMs ?? '');
    document.body.dataset.state = frame.state;
  }

  render(JSON.parse($('frame').textContent));
  window.addEventListener('resize', () => {
    for (const [name, u] of charts) u.setSize({ width: $(`chart-${name}`).clientWidth, height: u.height });
  });
  const live = document.body.dataset.events;
  if (live) {
    const source = new EventSource(live);
    source.addEventListener('frame', (e) => render(JSON.parse(e.data)));
    source.addEventListener('end', () => source.close());
  }
})();
