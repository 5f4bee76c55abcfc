/** The `tiketi-sim` command line. Environment and arguments are read here, at the edge, only. */
import { Command } from 'commander';
import { listScenarios } from '../scenario/load.ts';
import { ScenarioError } from '../scenario/schema.ts';
import { formatDoctor, runDoctorChecks } from './doctor.ts';

const program = new Command()
  .name('tiketi-sim')
  .description('Rehearse a TIKETI ticket drop on an emulated production topology.')
  .showHelpAfterError();

program
  .command('doctor')
  .description('show which backends this machine can run and what is missing')
  .option('--json', 'print the checks as JSON')
  .action(async (options: { json?: boolean }) => {
    const checks = await runDoctorChecks();
    console.log(options.json ? JSON.stringify(checks, null, 2) : formatDoctor(checks));
    process.exitCode = checks.some((c) => c.required && !c.ok) ? 2 : 0;
  });

program
  .command('list')
  .description('list the built-in scenarios')
  .option('--json', 'print them as JSON')
  .action(async (options: { json?: boolean }) => {
    try {
      const scenarios = await listScenarios();
      if (options.json) console.log(JSON.stringify(scenarios, null, 2));
      else {
        const width = Math.max(...scenarios.map((s) => s.name.length));
        for (const s of scenarios) console.log(`${s.name.padEnd(width)}  ${s.description}`);
      }
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      console.error(err.message);
      process.exitCode = 2;
    }
  });

// Usage errors exit 2, like every environment error of the CLI.
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});

await program.parseAsync(process.argv);
