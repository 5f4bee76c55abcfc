/** `tiketi-sim up`: start the emulated topology, print its endpoints, run until Ctrl-C. */
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createRedis } from '../../app/core/redis.ts';
import { openSales, seedDemoEvent } from '../../app/sales/seed.ts';
import {
  type DeepPartial,
  deepMerge,
  designTopology,
  mergeTopology,
  type Topology,
  type TopologyInput,
} from '../../infra/topology.ts';
import { StartupFailedError, TimedSteps } from '../../servers/startup-steps.ts';
import type { BackendChoice } from '../backends/backend.ts';
import { selectBackend } from '../backends/select-backend.ts';
import { ScaledClock } from '../clock/clock.ts';
import { createLiveDashboard } from '../live/dashboard.ts';
import { type LiveUrls, liveUrlLines, mountLive } from '../live/mount.ts';
import { TopologyFeed } from '../live/topology-feed.ts';
import { type StartedTopology, startLocalTopology } from '../topology/local-topology.ts';
import { sampleTopology } from '../worlds/local/sample-topology.ts';
import { openInBrowser } from './open-browser.ts';
import { topologyOverrides } from './overrides.ts';
import { LOGS_ROOT, ServerLogs } from './server-logs.ts';
import { removeStateFile, writeStateFile } from './up-state.ts';
import { UsageError } from './usage-error.ts';

export interface UpOptions {
  instances?: number;
  timeScale: number;
  backend: BackendChoice;
  json: boolean;
  /** Demo event created for the queue monitor to watch. @default 'demo' */
  eventId?: string;
  /** Serve the live dashboard (`--no-dashboard`: `/metrics` only). @default true */
  dashboard?: boolean;
  /** Open the live dashboard in a browser. @default false */
  open?: boolean;
  /** What-ifs on the design, `key.path=value` (as `run --set`). */
  set?: string[];
  /** Stream server logs to stderr as well as to their files. @default false */
  verbose?: boolean;
}

export async function up(options: UpOptions, signal: AbortSignal): Promise<void> {
  const asg = designTopology.autoScalingGroup;
  if (
    options.instances !== undefined &&
    (options.instances < asg.minSize || options.instances > asg.maxSize)
  ) {
    throw new UsageError(
      `--instances must be between the group's min ${asg.minSize} and max ${asg.maxSize} (got ${options.instances})`,
    );
  }
  const overrides = deepMerge(
    topologyOverrides(options.set ?? []) ?? {},
    options.instances === undefined ? {} : { autoScalingGroup: { desiredCapacity: options.instances } },
  );
  let topology: Topology;
  try {
    topology = mergeTopology(designTopology, overrides as DeepPartial<TopologyInput>);
  } catch (err) {
    throw new UsageError(`--set: ${(err as Error).message.replace('invalid topology:\n', '').trim()}`);
  }
  if (signal.aborted) return;
  const backend = await selectBackend(options.backend);
  const eventId = options.eventId ?? 'demo';
  const clock = new ScaledClock({ timeScale: options.timeScale });
  const say = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
  const logs = ServerLogs.inRunFolder(LOGS_ROOT, {
    verbose: options.verbose ?? false,
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
  const steps = new TimedSteps(say);
  say(`[tiketi-sim] starting the topology on the ${backend.kind} backend (server logs: ${logs.dir}/)…`);
  let started: StartedTopology | undefined;
  let redis: Redis | undefined;
  let live: LiveUp | undefined;
  try {
    started = await startLocalTopology({
      topology,
      clock,
      backend,
      eventId,
      log: logs.sink,
      steps,
      clientPath: true,
      redisPath: true,
      prepare: {
        label: `demo event ${eventId} seeded, sales open`,
        async run({ db, redis: admin }) {
          await seedDemoEvent(db, admin, { eventId, seats: 5_000 });
          await openSales(db, admin, eventId);
        },
      },
      signal,
    }).catch((err: unknown) => {
      if (signal.aborted) return undefined; // Ctrl-C during start-up: what started is stopped below
      throw new StartupFailedError(err, logs);
    });
    if (!started || signal.aborted) return;
    redis = createRedis(
      started.backend.endpoints.redis.kind === 'url'
        ? { kind: 'url', url: started.backend.endpoints.redis.url }
        : {
            kind: 'sentinel',
            sentinels: started.backend.endpoints.redis.sentinels,
            masterName: started.backend.endpoints.redis.masterName,
          },
      pino({ level: 'silent' }),
      'cli',
    );
    live = serveLive(started, redis, { ...options, eventId, say });
    const status = started.describe();
    const summary = {
      edgeUrl: status.endpoints.edgeUrl,
      albUrl: status.endpoints.albUrl,
      clientUrl: status.endpoints.clientUrl,
      controlUrl: status.endpoints.controlUrl,
      ...live.urls,
      instances: [...started.instances.values()].map((i) => ({ id: i.id, az: i.az, url: i.url, pid: i.pid })),
      redis: status.endpoints.redis,
      postgres: status.endpoints.postgres,
      eventId,
      timeScale: clock.timeScale,
      tokenSecret: started.tokenSecret,
    };
    if (options.json) console.log(JSON.stringify(summary));
    else {
      for (const c of status.backend)
        say(`ready  [${c.name}] ${c.address ?? ''}${c.pid ? ` pid ${c.pid}` : ''}`);
      for (const i of summary.instances) say(`ready  [${i.id} az-${i.az}] ${i.url} pid ${i.pid}`);
      say(`ready  [alb] ${summary.albUrl}`);
      say(`ready  [edge] ${summary.edgeUrl}`);
      say(
        `\nEdge (CloudFront):  ${summary.edgeUrl}\nALB:                ${summary.albUrl}\nALB via fault path: ${summary.clientUrl}  (tiketi-sim chaos latency|partition --path client-alb)\nControl:            ${summary.controlUrl}/status  (tiketi-sim status, tiketi-sim chaos)`,
      );
      say(
        `Demo event:         ${eventId} (5,000 seats, sales open)\nTime scale:         ${clock.timeScale}× (1 simulated minute = ${(60 / clock.timeScale).toFixed(1)} s)`,
      );
      for (const line of liveUrlLines(live.urls)) say(line);
      say('\nCtrl-C stops everything.');
    }
    if (options.open && live.urls.dashboardUrl) openInBrowser(live.urls.dashboardUrl, say);
    writeStateFile({ controlUrl: summary.controlUrl, pid: process.pid });
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    say('[tiketi-sim] stopping…');
    removeStateFile();
    live?.stop();
    redis?.disconnect();
    await started?.stop();
    await logs.close();
  }
}

interface LiveUp {
  urls: LiveUrls;
  stop(): void;
}

/** `/metrics` and, unless `--no-dashboard`, the live page fed one sample per simulated minute. */
function serveLive(
  started: StartedTopology,
  redis: Redis,
  options: Pick<UpOptions, 'dashboard'> & { eventId: string; say: (line: string) => void },
): LiveUp {
  const feed = new TopologyFeed({
    publish: (frame) => dashboard?.publish(frame),
    topology: started.topology,
    clock: started.clock,
    timeScale: started.clock.timeScale,
    sample: () => sampleTopology({ topology: started, redis, eventId: options.eventId }),
    albStats: () => started.alb.stats(),
    faults: () => started.faultRecords(),
    wallNow: Date.now,
    log: options.say,
  });
  const dashboard =
    (options.dashboard ?? true)
      ? createLiveDashboard({ topology: started.topology, initialFrame: feed.frame() })
      : undefined;
  const urls = mountLive(started.control, { metrics: { status: () => started.describe() }, dashboard });
  if (dashboard) feed.start();
  return {
    urls,
    stop() {
      feed.stop();
      dashboard?.close();
    },
  };
}
