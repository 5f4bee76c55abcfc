/**
 * Every name a scenario uses must exist in the run it describes: an expectation on a misspelled
 * alarm would otherwise never see its alarm and pass without checking anything (k6 refuses
 * thresholds on unknown metrics before it starts; so does this). Checked with the scenario's own
 * topology (the design with the scenario's override), so an override that renames or adds an
 * alarm is honoured.
 */
import { designTopology, mergeTopology, type Topology } from '../../infra/topology.ts';
import { ENDPOINTS } from '../metrics/latency.ts';

/** A problem at a key path of the scenario, as `ctx.addIssue` takes it. */
export interface NameProblem {
  path: (string | number)[];
  message: string;
}

/** The parts of a scenario that name things; read from the raw input, whatever else is wrong. */
interface NamedParts {
  faults: readonly { az?: unknown; instance?: unknown }[];
  expectations: readonly { alarm?: unknown; endpoint?: unknown }[];
}

const objectsIn = (value: unknown): Record<string, unknown>[] =>
  Array.isArray(value) ? value.map((v) => (typeof v === 'object' && v !== null ? v : {})) : [];

/** Every name problem of a raw scenario: its topology override's, or its unknown names. */
export function nameProblems(input: unknown): NameProblem[] {
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const { topology, problems } = scenarioTopology(raw.topology);
  if (!topology) return problems;
  return unknownNames({ faults: objectsIn(raw.faults), expectations: objectsIn(raw.expectations) }, topology);
}

/** Instance ids the emulator gives (`app-1`, `app-2`, ...) or `random`. */
const INSTANCE_ID = /^app-[1-9]\d*$/;

const oneOf = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');

/** The scenario's topology, or the problems of its override (each with its key path). */
function scenarioTopology(
  override: unknown,
): { topology: Topology; problems: [] } | { topology: undefined; problems: NameProblem[] } {
  try {
    return {
      topology: mergeTopology(designTopology, override as Parameters<typeof mergeTopology>[1]),
      problems: [],
    };
  } catch (err) {
    const lines = (err as Error).message.split('\n').slice(1);
    return {
      topology: undefined,
      problems: lines.map((line) => {
        const [where = '', ...rest] = line.trim().split(': ');
        const path = where.split('.').filter((k) => k !== '');
        let got: unknown = { topology: override };
        for (const key of path)
          got = typeof got === 'object' && got !== null ? (got as Record<string, unknown>)[key] : undefined;
        const shown = got === undefined || typeof got === 'object' ? '' : ` (got ${JSON.stringify(got)})`;
        return {
          path,
          message: `${rest.join(': ')}${shown}: fix the scenario's override of infra/topology.ts`,
        };
      }),
    };
  }
}

/** Every unknown name, each with the names that exist. */
function unknownNames(parts: NamedParts, topology: Topology): NameProblem[] {
  const problems: NameProblem[] = [];
  const alarms = topology.alarms.map((a) => a.name);
  const azs = topology.availabilityZones.map((a) => a.label);
  const endpoints = ['all', ...ENDPOINTS];
  parts.expectations.forEach((e, i) => {
    if (typeof e.alarm === 'string' && !alarms.includes(e.alarm))
      problems.push({
        path: ['expectations', i, 'alarm'],
        message: `no alarm named "${e.alarm}" in this topology; alarms: ${oneOf(alarms)}`,
      });
    if (typeof e.endpoint === 'string' && !endpoints.includes(e.endpoint))
      problems.push({
        path: ['expectations', i, 'endpoint'],
        message: `no endpoint "${e.endpoint}"; endpoints: ${oneOf(endpoints)}`,
      });
  });
  parts.faults.forEach((f, i) => {
    if (typeof f.az === 'string' && !azs.includes(f.az))
      problems.push({
        path: ['faults', i, 'az'],
        message: `no AZ labelled "${f.az}" in this topology; AZs: ${oneOf(azs)}`,
      });
    if (typeof f.instance === 'string' && f.instance !== 'random' && !INSTANCE_ID.test(f.instance))
      problems.push({
        path: ['faults', i, 'instance'],
        message: `"${f.instance}" is not an instance id; use "random" or an id such as "app-1" (the emulator numbers instances from app-1 as it launches them)`,
      });
  });
  return problems;
}
