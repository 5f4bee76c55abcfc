/** Finds a scenario by built-in name or by path, imports it and validates it. */
import { existsSync, readdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseScenario, type Scenario, ScenarioError } from './schema.ts';

export const BUILT_IN_DIR = fileURLToPath(new URL('../../scenarios', import.meta.url));

export function builtInScenarioFiles(dir = BUILT_IN_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .sort()
    .map((f) => resolve(dir, f));
}

function looksLikePath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || nameOrPath.endsWith('.ts') || nameOrPath.endsWith('.js');
}

export function resolveScenarioFile(nameOrPath: string, builtInDir = BUILT_IN_DIR): string {
  if (looksLikePath(nameOrPath)) {
    const file = resolve(nameOrPath);
    if (!existsSync(file))
      throw new ScenarioError(nameOrPath, [
        'file not found; pass a built-in name (tiketi-sim list) or a path to a .ts file',
      ]);
    return file;
  }
  const file = resolve(builtInDir, `${nameOrPath}.ts`);
  if (!existsSync(file)) {
    const names = builtInScenarioFiles(builtInDir).map((f) => basename(f, '.ts'));
    throw new ScenarioError(nameOrPath, [
      `no built-in scenario with that name; built-in: ${names.join(', ')}; or pass a path to a scenario file`,
    ]);
  }
  return file;
}

export async function loadScenario(
  nameOrPath: string,
  builtInDir = BUILT_IN_DIR,
): Promise<{ file: string; scenario: Scenario }> {
  const file = resolveScenarioFile(nameOrPath, builtInDir);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (first) {
    // A .ts file outside an ESM package (say /tmp/mine.ts) is not an ES module to Node's loader;
    // tsx can still import it on its own terms.
    try {
      const { tsImport } = await import('tsx/esm/api');
      module = (await tsImport(pathToFileURL(file).href, import.meta.url)) as { default?: unknown };
      const inner = module.default as { default?: unknown } | undefined;
      if (inner && typeof inner === 'object' && 'default' in inner) module = inner;
    } catch {
      throw new ScenarioError(file, [`could not be loaded: ${(first as Error).message}`]);
    }
  }
  if (module.default === undefined) {
    throw new ScenarioError(file, ['has no default export; write `export default defineScenario({ ... })`']);
  }
  return { file, scenario: parseScenario(module.default, file) };
}

export async function listScenarios(
  builtInDir = BUILT_IN_DIR,
): Promise<{ name: string; description: string }[]> {
  const out: { name: string; description: string }[] = [];
  for (const file of builtInScenarioFiles(builtInDir)) {
    const { scenario } = await loadScenario(file, builtInDir);
    out.push({ name: scenario.name, description: scenario.description });
  }
  return out;
}
