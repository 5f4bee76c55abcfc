/**
 * The instance's entry point (EC2's systemd unit and the emulator both run it). The environment
 * is read here, once. SIGTERM drains; the process also ends when the harness that started it goes.
 */
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { startTiketiServer } from './server.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
const log = pino({ level: config.logLevel, base: { instanceId: config.instanceId, az: config.az } });
// A promise nobody awaited must not end an instance that serves thousands of sockets: log it
// loudly and keep serving. Synchronous exceptions still end the process (Node's default), after
// a log line that says so: the state after one is unknown.
process.on('unhandledRejection', (reason) => {
  log.error({ err: reason }, 'unhandled promise rejection (a bug): the instance keeps serving');
});
process.on('uncaughtExceptionMonitor', (err) => {
  log.fatal({ err }, 'uncaught exception: the instance exits');
});
/** Exported for a process that loads this entry and passes it connections (the emulator's instances). */
export const server = await startTiketiServer(config, { log });

let stopping = false;
const drainAndExit = (reason: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ reason }, 'stopping');
  // The drain has a deadline of its own; this one guards against anything hanging after it.
  setTimeout(() => process.exit(1), config.drainTimeoutMs + 5_000).unref();
  server.drain().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'drain failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => drainAndExit('SIGTERM'));
process.on('SIGINT', () => drainAndExit('SIGINT'));
// Started with an IPC channel by a parent process: end with it.
process.on('disconnect', () => drainAndExit('parent gone'));
