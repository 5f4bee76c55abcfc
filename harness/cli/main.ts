/** The `tiketi-sim` command line. Environment and arguments are read here, at the edge, only. */

import { Command, InvalidArgumentError } from 'commander';
import type { BackendChoice } from '../backends/backend.ts';
import { LOAD_SOURCES, type LoadSource } from '../run/load-source.ts';
import type { SweepRule } from '../sweep/plan.ts';
import type { TopologyStatus } from '../topology/local-topology.ts';
import type { DeployTarget } from '../worlds/cdk-cli.ts';
import { WORLD_NAMES, type WorldName } from '../worlds/world.ts';
import { DEFAULT_EXPORT_TARGET, DEFAULT_TIME_SCALE } from './defaults.ts';
import type { ExportCommandOptions } from './export.ts';
import { loadTypeScriptFiles } from './typescript-files.ts';
import { readStateFile } from './up-state.ts';
import { UsageError } from './usage-error.ts';

// Each command's module is imported when that command runs: loading them all took longer than
// some commands do (`up` is meant to serve within 3 s of Enter).

const BACKENDS = ['auto', 'local', 'containers', 'external'];

function positiveNumber(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number (got ${value})`);
    return n;
  };
}

function nonNegativeNumber(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!(n >= 0)) throw new InvalidArgumentError(`${name} must be a number, 0 or more (got ${value})`);
    return n;
  };
}

function scaleFactor(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1))
    throw new InvalidArgumentError(
      `--scale must be a fraction of the design, 0 < F <= 1 (got ${value}): e.g. --scale 0.25 runs a 1:4 scale model, --scale 1 the design itself`,
    );
  return n;
}

function seedValue(value: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 0 && n <= 4_294_967_295))
    throw new InvalidArgumentError(
      `--seed must be a whole number from 0 to 4294967295 (got ${value}): the seed a report prints repeats that run's choices`,
    );
  return n;
}

function sweepRuns(value: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 2 && n <= 60))
    throw new InvalidArgumentError(
      `--sweep must be a whole number of runs from 2 to 60 (got ${value}): e.g. --sweep 6 shifts the faults across the health-check interval in 6 steps`,
    );
  return n;
}

function sweepRule(value: string): SweepRule {
  if (value !== 'all' && value !== 'majority')
    throw new InvalidArgumentError(
      `--require must be all or majority (got ${value}): all fails the sweep on one failed run, majority needs more than half to pass`,
    );
  return value;
}

function worldChoice(value: string): WorldName {
  if (!(WORLD_NAMES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`--world must be one of ${WORLD_NAMES.join(', ')} (got ${value})`);
  return value as WorldName;
}

function loadSourceChoice(value: string): LoadSource {
  if (!(LOAD_SOURCES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`--load must be one of ${LOAD_SOURCES.join(', ')} (got ${value})`);
  return value as LoadSource;
}

function backendChoice(value: string): BackendChoice {
  if (!BACKENDS.includes(value))
    throw new InvalidArgumentError(`--backend must be one of ${BACKENDS.join(', ')} (got ${value})`);
  return value as BackendChoice;
}

/** Ctrl-C and SIGTERM stop a long-running command cleanly; a second Ctrl-C forces the exit. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n[tiketi-sim] ${signal}: stopping…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

/** The errors that mean usage or environment; loaded only once something failed. */
async function exitTwoErrors(): Promise<(abstract new (...args: never[]) => Error)[]> {
  const [backend, exported, loadReport, scenario, steps, worlds, cdk] = await Promise.all([
    import('../backends/backend.ts'),
    import('../export/build-plan.ts'),
    import('../load-report/parse.ts'),
    import('../scenario/schema.ts'),
    import('../../servers/startup-steps.ts'),
    import('../worlds/world.ts'),
    import('../worlds/cdk-cli.ts'),
  ]);
  return [
    UsageError,
    backend.BackendUnavailableError,
    scenario.ScenarioError,
    cdk.DeployUnavailableError,
    cdk.CdkCommandError,
    worlds.WorldSetupError,
    exported.ExportError,
    loadReport.LoadReportError,
    steps.StartupFailedError,
  ];
}

/** Environment and usage problems exit 2 with their message; anything else is a bug and throws. */
async function exitOn2(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if ((await exitTwoErrors()).some((type) => err instanceof type)) {
      console.error((err as Error).message);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

// A rehearsal injects failures on purpose: a client library's stray rejection during a Redis or
// database failover (ioredis flushing its queue, pg losing a connection) must not end the run
// and lose its report. It is shown, and the run goes on; real errors still surface where awaited.
process.on('unhandledRejection', (reason) => {
  const err = reason as Error;
  process.stderr.write(
    `[tiketi-sim] warning: an unawaited operation failed: ${err?.name ?? 'Error'}: ${err?.message ?? String(reason)}\n`,
  );
});

const program = new Command()
  .name('tiketi-sim')
  .description('Rehearse a TIKETI ticket drop on an emulated production topology.')
  .showHelpAfterError();

program
  .command('doctor')
  .description('show which backends this machine can run and what is missing')
  .option('--json', 'print the checks as JSON')
  .action(async (options: { json?: boolean }) => {
    const { formatDoctor, runDoctorChecks } = await import('./doctor.ts');
    const checks = await runDoctorChecks();
    console.log(options.json ? JSON.stringify(checks, null, 2) : formatDoctor(checks));
    process.exitCode = checks.some((c) => c.required && !c.ok) ? 2 : 0;
  });

program
  .command('list')
  .description('list the built-in scenarios')
  .option('--json', 'print them as JSON')
  .action(async (options: { json?: boolean }) => {
    await loadTypeScriptFiles();
    const [{ listScenarios }, { ScenarioError }] = await Promise.all([
      import('../scenario/load.ts'),
      import('../scenario/schema.ts'),
    ]);
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

program
  .command('up')
  .description('start the emulated production topology and keep it running until Ctrl-C')
  .option(
    '--instances <n>',
    'instances to start with (the group desired capacity)',
    positiveNumber('--instances'),
  )
  .option(
    '--time-scale <n>',
    'simulated seconds per wall second',
    positiveNumber('--time-scale'),
    DEFAULT_TIME_SCALE,
  )
  .option(
    '--backend <kind>',
    `where Redis and PostgreSQL come from: ${BACKENDS.join(', ')}`,
    backendChoice,
    'auto',
  )
  .option(
    '--set <key=value>',
    'what-if on the design, e.g. limits.rate.registerPerAddress.points=1000 (repeatable)',
    (value: string, all: string[]) => [...all, value],
    [] as string[],
  )
  .option('--json', 'once ready, print one JSON object with the endpoints on stdout')
  .option('--no-dashboard', 'do not serve the live dashboard (GET /metrics stays)')
  .option('--open', 'open the live dashboard in a browser')
  .option('--verbose', 'stream server logs to stderr (they always go to .tiketi-sim/logs/<stamp>/)')
  .action(
    (options: {
      instances?: number;
      timeScale: number;
      backend: BackendChoice;
      json?: boolean;
      dashboard: boolean;
      open?: boolean;
      set: string[];
      verbose?: boolean;
    }) =>
      exitOn2(async () => {
        const signal = stopSignal();
        const { up } = await import('./up.ts');
        await up({ ...options, json: options.json ?? false, open: options.open ?? false }, signal);
      }),
  );

program
  .command('run')
  .description(
    'run a rehearsal (a built-in scenario name or a path), write its report; exit 0 every expectation held, 1 one failed, 2 usage or environment, 3 none failed but one was inconclusive',
  )
  .argument('<scenario>', 'built-in name (tiketi-sim list) or path to a scenario file')
  .option(
    '--world <name>',
    `where it runs: ${WORLD_NAMES.join(', ')} (emulator; emulator with LocalStack's alarms; a deployed stack)`,
    worldChoice,
    'local',
  )
  .option(
    '--stack <name>',
    'the deployed CloudFormation stack (required with --world aws; TiketiLocal by default with --world localstack)',
  )
  .option(
    '--time-scale <n>',
    "simulated seconds per wall second (default: the scenario's; the aws and localstack worlds run at 1×)",
    positiveNumber('--time-scale'),
  )
  .option(
    '--users <n>',
    "virtual users in all (default: the scenario's); the arrival curve keeps its shape",
    positiveNumber('--users'),
  )
  .option(
    '--scale <F>',
    "run the design as a 1:1/F scale model (0 < F <= 1): users, thresholds, admission rate and seats × F, times as designed (default: the scenario's, else 1)",
    scaleFactor,
  )
  .option(
    '--backend <kind>',
    `where Redis and PostgreSQL come from (local and localstack worlds): ${BACKENDS.join(', ')}`,
    backendChoice,
    'auto',
  )
  .option(
    '--seed <n>',
    "every random choice of the run draws from it (which users buy, think times, seats, tie-breaks, a random fault victim); printed in the report (default: the scenario's, else 1)",
    seedValue,
  )
  .option(
    '--sweep <runs>',
    "a phase sweep: the rehearsal <runs> times, its faults shifted evenly across --sweep-period, each run seeded from --seed; the verdict of each expectation is its worst run's (see --require)",
    sweepRuns,
  )
  .option(
    '--sweep-period <seconds>',
    'simulated seconds the sweep spreads its faults over (default: the ALB health-check interval)',
    positiveNumber('--sweep-period'),
  )
  .option(
    '--require <rule>',
    'a sweep passes an expectation when all runs pass it, or a majority (default: all)',
    sweepRule,
  )
  .option('--report-dir <dir>', 'where reports go', 'reports')
  .option(
    '--baseline <summary.json>',
    "fail when a P95 regresses beyond --tolerance against this earlier run's summary",
  )
  .option(
    '--tolerance <percent>',
    'allowed P95 regression against the baseline',
    positiveNumber('--tolerance'),
    20,
  )
  .option(
    '--set <key=value>',
    'what-if on the design for this run, e.g. autoScalingGroup.healthCheckType=EC2 (repeatable)',
    (value: string, all: string[]) => [...all, value],
    [] as string[],
  )
  .option(
    '--load <source>',
    `who sends the users: ${LOAD_SOURCES.join(', ')} (generator: tiketi-sim's own; external: a k6 or Artillery script from tiketi-sim export, run beside it at 1×)`,
    loadSourceChoice,
    'generator',
  )
  .option(
    '--load-report <file>',
    "with --load external: the engine's k6 --summary-export or Artillery --output JSON, judged by the latency and error expectations",
  )
  .option('--json', 'print the result as one JSON object on stdout (progress goes to stderr)')
  .option('--no-dashboard', 'do not serve the live dashboard (GET /metrics stays)')
  .option('--open', 'open the live dashboard in a browser')
  .option('--verbose', 'stream server logs to stderr (they always go to .tiketi-sim/logs/<stamp>/)')
  .action(
    (
      name: string,
      options: {
        set: string[];
        world: WorldName;
        stack?: string;
        timeScale?: number;
        users?: number;
        scale?: number;
        seed?: number;
        sweep?: number;
        sweepPeriod?: number;
        require?: SweepRule;
        backend: BackendChoice;
        reportDir: string;
        baseline?: string;
        tolerance: number;
        json?: boolean;
        dashboard: boolean;
        open?: boolean;
        load: LoadSource;
        loadReport?: string;
        verbose?: boolean;
      },
    ) =>
      exitOn2(async () => {
        const users = options.users === undefined ? undefined : Math.round(options.users);
        const signal = stopSignal();
        await loadTypeScriptFiles();
        const { runCommand } = await import('./run.ts');
        process.exitCode = await runCommand(name, { ...options, users, json: options.json ?? false }, signal);
      }),
  );

program
  .command('export')
  .description(
    'write a k6 or Artillery script of a scenario (arrivals, journey, expectations) to drive load from many machines',
  )
  .argument('<scenario>', 'built-in name (tiketi-sim list) or path to a scenario file')
  .option('--format <k6|artillery>', 'the load engine')
  .option(
    '--target <url>',
    'the base URL users go to (overridable when the script runs)',
    DEFAULT_EXPORT_TARGET,
  )
  .option(
    '--users <n>',
    "users in all (default: the scenario's); the arrival curve keeps its shape",
    positiveNumber('--users'),
  )
  .option('--event <id>', 'the event users queue for', 'demo')
  .option(
    '--time-scale <n>',
    'simulated seconds per wall second (1: the drop in real time)',
    positiveNumber('--time-scale'),
    1,
  )
  .option('--without-faults', "leave the scenario's faults out (inject them yourself at their times)")
  .option(
    '--sign-in-lead <seconds>',
    'wall seconds before the drop over which every user signs up and in, then joins the queue at its place on the curve (0: each signs up and in as it arrives)',
    nonNegativeNumber('--sign-in-lead'),
    0,
  )
  .option('--out <dir>', 'where the script goes', 'load-scripts')
  .action(
    (name: string, options: Omit<ExportCommandOptions, 'withoutFaults'> & { withoutFaults?: boolean }) =>
      exitOn2(async () => {
        await loadTypeScriptFiles();
        const { exportCommand } = await import('./export.ts');
        for (const line of await exportCommand(name, {
          ...options,
          withoutFaults: options.withoutFaults ?? false,
        }))
          console.log(line);
      }),
  );

program
  .command('load-report')
  .description('read a k6 --summary-export or Artillery --output report as tiketi-sim reads it')
  .argument('<file>', 'the JSON report the engine wrote')
  .option('--json', 'print the parsed report as JSON')
  .action((file: string, options: { json?: boolean }) =>
    exitOn2(async () => {
      const { loadReportCommand } = await import('./load-report.ts');
      for (const line of loadReportCommand(file, options.json ?? false)) console.log(line);
    }),
  );

program
  .command('status')
  .description('ask a running topology (tiketi-sim up) for instances, targets, alarms and scaling activities')
  .option(
    '--control-url <url>',
    'the control endpoint `up` printed (default: the one started from this folder)',
  )
  .option('--json', 'print the raw status as JSON')
  .action((options: { controlUrl?: string; json?: boolean }) =>
    exitOn2(async () => {
      const controlUrl = options.controlUrl ?? readStateFile()?.controlUrl;
      if (!controlUrl)
        throw new UsageError(
          'no running topology found from this folder: start one with `tiketi-sim up`, or pass --control-url',
        );
      let status: TopologyStatus;
      try {
        status = (await (await fetch(`${controlUrl}/status`)).json()) as TopologyStatus;
      } catch (err) {
        throw new UsageError(
          `the topology at ${controlUrl} does not answer (${(err as Error).message}); is \`tiketi-sim up\` still running?`,
        );
      }
      if (options.json) return void console.log(JSON.stringify(status, null, 2));
      console.log(`simulated ${status.simulatedTime} at ${status.timeScale}×`);
      const group = status.autoScalingGroup;
      console.log(
        `auto scaling: desired ${group.desiredCapacity} (min ${group.minSize}, max ${group.maxSize}), cooldown ${group.cooldownRemainingSeconds}s${group.activityInProgress ? `, in progress: ${group.activityInProgress}` : ''}`,
      );
      for (const i of group.instances)
        console.log(
          `  ${i.id.padEnd(8)} az-${i.az}  ${i.lifecycle.padEnd(11)} ${i.health.padEnd(9)} target ${i.target}`,
        );
      for (const a of status.alarms)
        console.log(`alarm ${a.name.padEnd(36)} ${a.state.padEnd(17)} ${a.reason}`);
      console.log(
        `latest QueueSize ${status.latestMetrics.queueSize ?? '—'}, ActiveUsers ${status.latestMetrics.activeUsers ?? '—'}`,
      );
      for (const a of group.recentActivities.slice(-5))
        console.log(`activity ${a.status.padEnd(11)} ${a.description}: ${a.cause}`);
      for (const f of status.faults ?? []) {
        const last = f.timeline.at(-1);
        console.log(
          `fault ${f.fault} (${f.detail}) ${f.complete ? 'complete' : 'in progress'}${last ? `, last: ${last.label}` : ''}`,
        );
      }
    }),
  );

program
  .command('chaos')
  .description(
    'inject a failure into the running topology (tiketi-sim up) and follow what the system does about it',
  )
  .argument(
    '<fault>',
    'kill-instance [id] | terminate-instance [id] | kill-az <a|b> | redis-failover | db-failover | latency | partition',
  )
  .argument('[target]', 'instance id (default: a random InService one), AZ label, or path')
  .option('--path <path>', 'for latency and partition: client-alb, app-redis or app-db')
  .option('--ms <n>', 'for latency: added delay per chunk, ms', positiveNumber('--ms'))
  .option('--jitter <n>', 'for latency: ± this many ms', nonNegativeNumber('--jitter'))
  .option(
    '--duration <seconds>',
    'for latency and partition: simulated seconds until reverted',
    positiveNumber('--duration'),
  )
  .option(
    '--follow <seconds>',
    'wall seconds to follow the timeline (0: just inject)',
    nonNegativeNumber('--follow'),
    60,
  )
  .option(
    '--control-url <url>',
    'the control endpoint `up` printed (default: the one started from this folder)',
  )
  .option('--json', 'print the fault record as JSON')
  .action(
    (
      fault: string,
      target: string | undefined,
      options: {
        path?: string;
        ms?: number;
        jitter?: number;
        duration?: number;
        follow: number;
        controlUrl?: string;
        json?: boolean;
      },
    ) =>
      exitOn2(async () => {
        const { chaos, chaosFault } = await import('./chaos.ts');
        const chaosOptions = {
          controlUrl: options.controlUrl,
          path: options.path,
          latencyMs: options.ms === undefined ? undefined : Math.round(options.ms),
          jitterMs: options.jitter === undefined ? undefined : Math.round(options.jitter),
          durationSeconds: options.duration,
          followSeconds: options.follow,
          json: options.json ?? false,
        };
        process.exitCode = await chaos(chaosFault(fault, target, chaosOptions), chaosOptions, stopSignal());
      }),
  );

function deployTarget(value: string): DeployTarget {
  if (value !== 'aws' && value !== 'localstack')
    throw new InvalidArgumentError(`--target must be aws or localstack (got ${value})`);
  return value;
}

program
  .command('deploy')
  .description('deploy the CDK stack of the design (infra/cdk) to AWS or to LocalStack at 127.0.0.1:4566')
  .requiredOption('--target <aws|localstack>', 'where to deploy', deployTarget)
  .option('--stack <name>', 'stack name (default Tiketi on aws, TiketiLocal on localstack)')
  .option('--outputs <file>', 'where the stack outputs go', '.tiketi-sim/stack-outputs.json')
  .action((options: { target: DeployTarget; stack?: string; outputs: string }) =>
    exitOn2(async () => {
      const { deployStack } = await import('../worlds/cdk-cli.ts');
      const { stackName } = await deployStack({
        target: options.target,
        stackName: options.stack,
        outputsFile: options.outputs,
      });
      console.log(`deployed ${stackName}; outputs in ${options.outputs}`);
    }),
  );

program
  .command('destroy')
  .description('destroy a stack deployed with tiketi-sim deploy')
  .requiredOption('--target <aws|localstack>', 'where it was deployed', deployTarget)
  .option('--stack <name>', 'stack name (default Tiketi on aws, TiketiLocal on localstack)')
  .action((options: { target: DeployTarget; stack?: string }) =>
    exitOn2(async () => {
      const { destroyStack } = await import('../worlds/cdk-cli.ts');
      await destroyStack({ target: options.target, stackName: options.stack });
      console.log('destroyed');
    }),
  );

// Usage errors exit 2, like every environment error of the CLI.
// Subcommands copy settings only when created, so each gets the override too.
const exitTwoOnUsage = (err: { exitCode: number }) => process.exit(err.exitCode === 0 ? 0 : 2);
program.exitOverride(exitTwoOnUsage);
for (const command of program.commands) command.exitOverride(exitTwoOnUsage);

await program.parseAsync(process.argv);
