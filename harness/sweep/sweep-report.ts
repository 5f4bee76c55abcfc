/**
 * A sweep's report: one folder with the sweep's `summary.json` (every expectation against the
 * phase: pass rate, failing phases, worst run), `junit.xml` (one case per expectation, under the
 * sweep's rule), `index.html` (the expectation × phase grid, each cell linking to its run), and
 * each run's own full report in `run-<i>/`. Built in a `.partial` folder and renamed at the end:
 * an interrupted sweep leaves no half report.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type SweepRunOutcome, type SweptVerdict, worstRun } from './combine.ts';
import type { SweepRule } from './plan.ts';

export const SWEEP_SCHEMA_VERSION = 1;

export interface SweepSummary {
  kind: 'sweep';
  schemaVersion: typeof SWEEP_SCHEMA_VERSION;
  scenario: string;
  seed: number;
  rule: SweepRule;
  periodSeconds: number;
  passed: boolean;
  wallSeconds: number;
  expectations: SweptVerdict[];
  runs: {
    index: number;
    phaseSeconds: number;
    seed: number;
    passed: boolean;
    aborted: boolean;
    wallSeconds: number;
    failed: string[];
    /** The run's report, relative to the sweep's folder. */
    report: string;
  }[];
  worstRun?: number;
}

export function summarizeSweep(input: {
  scenario: string;
  seed: number;
  rule: SweepRule;
  periodSeconds: number;
  outcomes: SweepRunOutcome[];
  expectations: SweptVerdict[];
  dir: string;
}): SweepSummary {
  const { outcomes } = input;
  return {
    kind: 'sweep',
    schemaVersion: SWEEP_SCHEMA_VERSION,
    scenario: input.scenario,
    seed: input.seed,
    rule: input.rule,
    periodSeconds: input.periodSeconds,
    passed: outcomes.length > 0 && input.expectations.every((v) => v.status === 'passed'),
    wallSeconds: outcomes.reduce((sum, o) => sum + o.wallSeconds, 0),
    expectations: input.expectations,
    runs: outcomes.map((o) => ({
      index: o.index,
      phaseSeconds: o.phaseSeconds,
      seed: o.seed,
      passed: !o.aborted && o.verdicts.every((v) => v.status === 'passed'),
      aborted: o.aborted,
      wallSeconds: o.wallSeconds,
      failed: o.verdicts.filter((v) => v.status === 'failed').map((v) => v.name),
      report: relative(input.dir, o.reportDir),
    })),
    worstRun: worstRun(outcomes)?.index,
  };
}

const xml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderSweepJunit(summary: SweepSummary): string {
  const count = (status: string) => summary.expectations.filter((v) => v.status === status).length;
  const cases = summary.expectations.map((v) => {
    const tally = `passed ${v.passedRuns} of ${v.runs}`;
    const body =
      v.status === 'passed'
        ? ''
        : v.status === 'inconclusive'
          ? `\n      <skipped message="${xml(`inconclusive: ${tally}, ${v.inconclusiveRuns} could not be judged`)}"/>\n    `
          : `\n      <failure message="${xml(`expected ${v.expected} in ${summary.rule === 'all' ? 'every run' : 'most runs'}; ${tally}, failed at phase ${v.failedAtPhases.map((p) => `${p} s`).join(', ')}`)}"/>\n    `;
    return `    <testcase classname="tiketi-sim.${xml(summary.scenario)}.sweep" name="${xml(v.name)}" time="0">${body}</testcase>`;
  });
  const totals = `tests="${summary.expectations.length}" failures="${count('failed')}" skipped="${count('inconclusive')}" time="${summary.wallSeconds}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="tiketi-sim" ${totals}>
  <testsuite name="${xml(summary.scenario)} sweep of ${summary.runs.length} (seed ${summary.seed})" ${totals}>
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}

export function renderSweepHtml(summary: SweepSummary): string {
  const head = summary.runs
    .map((r) => `<th><a href="${xml(r.report)}/index.html">run ${r.index}<br>+${r.phaseSeconds} s</a></th>`)
    .join('');
  const rows = summary.expectations
    .map((v) => {
      const cells = v.observed
        .map((o) => `<td class="${o.status}" title="${xml(o.observed)}">${xml(o.observed)}</td>`)
        .join('');
      return `<tr><th class="name">${xml(v.name)}<br><small>${v.passedRuns}/${v.runs} passed — ${v.status.toUpperCase()}</small></th>${cells}</tr>`;
    })
    .join('\n');
  const worst = summary.runs.find((r) => r.index === summary.worstRun);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${xml(summary.scenario)} sweep</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
.passed{background:#e6f4ea}.failed{background:#fce8e6}.inconclusive{background:#fef7e0}.name{text-align:left;max-width:28em}</style></head><body>
<h1>${xml(summary.scenario)}: phase sweep of ${summary.runs.length} — ${summary.passed ? 'PASSED' : 'FAILED'}</h1>
<p>Faults shifted across ${summary.periodSeconds} simulated seconds; seed ${summary.seed} (repeat with <code>--seed ${summary.seed}</code>); rule: ${summary.rule === 'all' ? 'every run must pass' : 'most runs must pass'}.
${worst ? `Worst run: <a href="${xml(worst.report)}/index.html">run ${worst.index} (+${worst.phaseSeconds} s)</a>, ${worst.aborted ? 'aborted' : `${worst.failed.length} failed`}.` : ''}</p>
<table><tr><th>expectation</th>${head}</tr>
${rows}
</table></body></html>
`;
}

/** The sweep's folder under construction: runs write into it; `commit` writes the sweep's files and renames it. */
export class SweepReportFolder {
  private readonly partial: string;

  constructor(readonly dir: string) {
    this.partial = `${dir}.partial`;
    rmSync(this.partial, { recursive: true, force: true });
    mkdirSync(this.partial, { recursive: true });
  }

  /** Where run `index` writes its report (inside the partial folder until commit). */
  runDir(index: number): string {
    return join(this.partial, `run-${index}`);
  }

  /** Where run `index`'s report will be once committed. */
  finalRunDir(index: number): string {
    return join(this.dir, `run-${index}`);
  }

  commit(summary: SweepSummary): string[] {
    const files = {
      'summary.json': `${JSON.stringify(summary, null, 2)}\n`,
      'junit.xml': renderSweepJunit(summary),
      'index.html': renderSweepHtml(summary),
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.partial, name), text);
    renameSync(this.partial, this.dir);
    return Object.keys(files).map((f) => join(this.dir, f));
  }

  discard(): void {
    rmSync(this.partial, { recursive: true, force: true });
  }
}
