/** The `tiketi-sim` command line. Environment and arguments are read here, at the edge, only. */
import { Command } from 'commander';
import { formatDoctor, runDoctorChecks } from './doctor.ts';

const program = new Command()
  .name('tiketi-sim')
  .description('Rehearse a TIKETI ticket drop on an emulated production topology.')
  .showHelpAfterError();

program
  .command('doctor')
  .description('show which backends this machine can run and what is missing')
  .option('--json', 'print the checks as JSON')
  .action((options: { json?: boolean }) => {
    const checks = runDoctorChecks();
    console.log(options.json ? JSON.stringify(checks, null, 2) : formatDoctor(checks));
    process.exitCode = checks.some((c) => c.required && !c.ok) ? 2 : 0;
  });

// Usage errors exit 2, like every environment error of the CLI.
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});

await program.parseAsync(process.argv);
