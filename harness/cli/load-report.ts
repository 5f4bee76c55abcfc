/** `tiketi-sim load-report <file>`: an engine's report read as tiketi-sim reads it (checks it before a run uses it). */
import { readLoadReport } from '../load-report/parse.ts';

export function loadReportCommand(file: string, json: boolean): string[] {
  const report = readLoadReport(file);
  if (json) return [JSON.stringify(report, null, 2)];
  const rate =
    report.requests === 0 ? 'no requests' : `${((report.errors / report.requests) * 100).toFixed(3)} %`;
  const lines = [
    `${report.engine} report: ${report.requests} requests, ${report.errors} failed (${rate}), ${report.usersAdmitted} users admitted, ${report.paymentsConfirmed} payments confirmed`,
  ];
  if (report.usersJoinedLate > 0)
    lines.push(
      `  ${report.usersJoinedLate} users signed in ahead joined the queue after their place on the curve: the target signed them in slower than the lead allowed`,
    );
  for (const [metric, l] of Object.entries(report.latency))
    lines.push(
      `  ${metric.padEnd(46)} p95 ${l.p95Ms ?? '—'} ms  p99 ${l.p99Ms ?? '—'} ms  (${l.count ?? '?'})`,
    );
  for (const c of report.checks) lines.push(`  check ${c.name}: ${c.passes} passed, ${c.fails} failed`);
  for (const t of report.thresholds) lines.push(`  threshold ${t.name}: ${t.passed ? 'ok' : 'FAILED'}`);
  return lines;
}
