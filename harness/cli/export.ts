/** `tiketi-sim export`: the arguments checked, the scenario loaded, the script written. */
import { EXPORT_FORMATS, type ExportFormat } from '../export/build-plan.ts';
import { exportScenario } from '../export/export-scenario.ts';
import { loadScenario } from '../scenario/load.ts';
import { UsageError } from './usage-error.ts';

export interface ExportCommandOptions {
  format?: string;
  target: string;
  users?: number;
  event: string;
  timeScale: number;
  out: string;
  withoutFaults: boolean;
  /** Wall seconds. @default 0 */
  signInLead?: number;
}

function checkFormat(format: string | undefined): ExportFormat {
  if (format === undefined)
    throw new UsageError(`--format is required: one of ${EXPORT_FORMATS.join(', ')} (e.g. --format k6)`);
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(
      `--format must be one of ${EXPORT_FORMATS.join(', ')} (got ${JSON.stringify(format)}); k6 for k6 / k6-operator / Grafana Cloud k6, artillery for Artillery (run-fargate, run-lambda)`,
    );
  return format as ExportFormat;
}

function checkTarget(target: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`--target must be a URL such as https://tiketi.gg (got ${JSON.stringify(target)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--target must be an http:// or https:// URL (got ${JSON.stringify(target)})`);
  if (url.pathname !== '/' || url.search)
    throw new UsageError(
      `--target is the site's base URL, without a path or query (got ${JSON.stringify(target)}); e.g. ${url.origin}`,
    );
  return url.origin;
}

export async function exportCommand(nameOrPath: string, options: ExportCommandOptions): Promise<string[]> {
  const format = checkFormat(options.format);
  const target = checkTarget(options.target);
  const { file, scenario } = await loadScenario(nameOrPath);
  const users = options.users ?? scenario.users;
  if (!Number.isInteger(users) || users < 1)
    throw new UsageError(`--users must be a whole number of users, 1 or more (got ${users})`);
  const exported = await exportScenario(
    scenario,
    file,
    {
      format,
      target,
      users,
      eventId: options.event,
      timeScale: options.timeScale,
      withoutFaults: options.withoutFaults,
      signInLeadMs: Math.round((options.signInLead ?? 0) * 1_000),
    },
    options.out,
  );
  const run =
    format === 'k6'
      ? `k6 run -e TARGET=${target} --summary-export summary.json ${exported.script}`
      : `artillery run --output report.json ${exported.script}`;
  return [
    ...exported.files.map((f) => `wrote ${f}`),
    ...exported.notes.map((n) => `note: ${n}`),
    `run: ${run}`,
  ];
}
