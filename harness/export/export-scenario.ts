/** `tiketi-sim export`: a scenario → a k6 or Artillery script (and what it needs) in a folder. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Scenario } from '../scenario/schema.ts';
import { artilleryScript, artilleryYaml, bundleArtilleryProcessor } from './artillery.ts';
import { buildPlan, ExportError, type ExportOptions, exportProblems } from './build-plan.ts';
import { wallCurve } from './curve.ts';
import { bundleK6Script, k6Options, k6Stages } from './k6.ts';
import { type ExportPlan, ENGINE_METRICS as M } from './plan.ts';

export interface ExportedScript {
  /** The file to run (`k6 run …` / `artillery run …`). */
  script: string;
  /** Every file written. */
  files: string[];
  /** Anything the reader should know (rates rounded…). */
  notes: string[];
}

/**
 * What the sign-ins cost the target: two password hashes a user (scrypt at OWASP's minimum, a few
 * hundred ms of a core each, at most two at once per instance), at the arrivals' pace or the lead's.
 */
function signInNote(plan: ExportPlan): string {
  const hashes = plan.users * 2;
  const { signInLeadMs, arrivals } = plan.journey;
  if (signInLeadMs > 0)
    return `users sign up and in over the first ${signInLeadMs / 1_000} s (${hashes} password hashes, ${(hashes / (signInLeadMs / 1_000)).toFixed(1)} a second), then join the queue at their places on the curve; a user whose sign-in ends after its place joins late (counted: ${M.artilleryJoinedLate} / ${M.k6JoinedLate})`;
  const arrivalSeconds = (arrivals.at(-1)!.atMs - arrivals[0]!.atMs) / 1_000;
  return `users sign up and in as they arrive: ${hashes} password hashes in ${arrivalSeconds} s of arrivals; a target that hashes slower answers 503 busy and users fail at sign-in, not in the queue: --sign-in-lead <seconds> signs them in ahead`;
}

export async function exportScenario(
  scenario: Scenario,
  source: string,
  options: ExportOptions,
  outDir: string,
): Promise<ExportedScript> {
  const problems = exportProblems(scenario, options);
  if (problems.length > 0) throw new ExportError(source, problems);
  const curve = wallCurve(scenario, options.users, options.timeScale);
  const plan = buildPlan(scenario, curve, options);
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const notes: string[] = [];
  if (options.withoutFaults && scenario.faults.length > 0)
    notes.push(
      `left out ${scenario.faults.length} fault(s): inject them at ${scenario.faults.map((f) => `${f.at} (${f.fault})`).join(', ')}`,
    );
  notes.push(signInNote(plan));
  if (options.format === 'k6') {
    const k6 = k6Options(curve, plan);
    if (!k6Stages(curve).exact)
      notes.push('arrival rates rounded to whole users per minute (k6 stage targets are integers)');
    const script = join(dir, `${scenario.name}.k6.js`);
    writeFileSync(script, await bundleK6Script({ ...plan, target: options.target }, k6));
    return { script, files: [script], notes };
  }
  const processorFile = `${scenario.name}.processor.mjs`;
  const processor = join(dir, processorFile);
  writeFileSync(processor, await bundleArtilleryProcessor(plan));
  const script = join(dir, `${scenario.name}.artillery.yml`);
  writeFileSync(script, artilleryYaml(artilleryScript(curve, plan, options.target, processorFile), plan));
  return { script, files: [script, processor], notes };
}
