/** What-ifs on the design from the command line, shared by `run` and `up`. */
import { UsageError } from './usage-error.ts';

/**
 * `--set autoScalingGroup.healthCheckType=EC2`: a what-if on the design for this run only. Values
 * are JSON where they parse (numbers, booleans, arrays), strings otherwise; the merged topology
 * is validated by the design's strict schema, so a wrong key or value is named.
 */
export function topologyOverrides(assignments: string[]): Record<string, unknown> | undefined {
  if (assignments.length === 0) return undefined;
  const root: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    const path = eq > 0 ? assignment.slice(0, eq).split('.') : [];
    if (path.length === 0 || path.some((k) => k === ''))
      throw new UsageError(
        `--set ${assignment}: expected <key.path>=<value>, e.g. --set autoScalingGroup.healthCheckType=EC2`,
      );
    const raw = assignment.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare word is a string
    }
    let node = root;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
  }
  return root;
}
