/**
 * Scenario files are TypeScript the CLI imports as it runs. Run from its sources, the CLI runs
 * through tsx, whose loader imports them too; the bundled CLI (bin/tiketi-sim.js) has no loader
 * and registers tsx's for the commands that read scenario files.
 */
export async function loadTypeScriptFiles(): Promise<void> {
  if (import.meta.filename.endsWith('.ts')) return; // tsx runs this very file
  const { register } = await import('tsx/esm/api');
  register();
}
