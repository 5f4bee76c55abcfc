/**
 * A worker process of the harness (ALB proxy, load generator, fault proxy): a TypeScript module
 * forked with an IPC channel. Like every process the harness starts (process.ts),
 * it is ready when it says so, racing its early exit and a deadline; its output is prefixed with
 * its name; it is stopped by its pid, escalating to SIGKILL.
 */
import { type ChildProcess, fork, type SendHandle } from 'node:child_process';
import { nodeEntry } from './entry-bundle.ts';
import { type LogSink, OUTPUT_TAIL_LINES, onLines, ProcessStartError } from './process.ts';

export interface ForkWorkerOptions<In, Out> {
  /** Prefix of every output line, e.g. `alb-worker-0`. */
  name: string;
  /** The worker's entry module (TypeScript: run as a bundle, or with tsx: entry-bundle.ts). */
  entry: string;
  /** Whether a message is the worker's "ready". */
  isReady: (message: Out) => boolean;
  /**
   * Every message but "ready", from the first on (reports may follow "ready" at once), with the
   * handle it carries, if any (a client socket the ALB worker hands on).
   */
  onMessage?: (message: Out, handle?: SendHandle) => void;
  /**
   * The start message, sent once forked, with a handle to pass on (a listening socket); or several,
   * sent in order (one handle a message: several listening sockets).
   */
  init?: StartMessage<In> | readonly StartMessage<In>[];
  /** `advanced` carries Maps, typed arrays and the like. @default 'json' */
  serialization?: 'json' | 'advanced';
  /** @default 60_000 */
  readyTimeoutMs?: number;
  /** Receives prefixed output lines. @default the harness's own stdout and stderr */
  log?: LogSink;
}

export interface StartMessage<In> {
  message: In;
  handle?: SendHandle;
}

export interface ForkedWorker<In> {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends while the channel is open; false when it is closed (the worker is gone or going). */
  send(message: In): boolean;
  /**
   * Asks it to go (`ask`, by default SIGTERM), SIGKILLs it after `graceMs`, resolves once it exited.
   */
  stop(graceMs: number, ask?: () => void): Promise<void>;
}

function startMessages<In>(init: ForkWorkerOptions<In, unknown>['init']): readonly StartMessage<In>[] {
  if (init === undefined) return [];
  return 'message' in init ? [init] : init;
}

/** Forks `entry` and resolves once it is ready; stops it and rejects if it exits or times out first. */
export async function forkWorker<In, Out>(options: ForkWorkerOptions<In, Out>): Promise<ForkedWorker<In>> {
  const run = await nodeEntry(options.entry);
  const child: ChildProcess = fork(run.modulePath, [], {
    execArgv: run.execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: options.serialization ?? 'json',
  });
  const tail: string[] = [];
  const output = (write: (line: string) => void) => (line: string) => {
    tail.push(line);
    if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
    write(`[${options.name}] ${line}`);
  };
  onLines(child.stdout, output(options.log ?? ((line) => process.stdout.write(`${line}\n`))));
  onLines(child.stderr, output(options.log ?? ((line) => process.stderr.write(`${line}\n`))));
  const worker = new Worker<In>(options.name, child);
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: Out, handle?: SendHandle) => {
      if (options.isReady(message)) resolve();
      else options.onMessage?.(message, handle);
    });
    child.once('error', reject);
    void worker.exited.then(({ code, signal }) =>
      reject(
        new ProcessStartError(
          `${options.name} exited before it was ready (code ${code}, signal ${signal}). Last output:\n${tail.join('\n')}`,
        ),
      ),
    );
  });
  for (const start of startMessages(options.init)) child.send(start.message as object, start.handle);
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  let deadline: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    deadline = setTimeout(
      () =>
        reject(
          new ProcessStartError(
            `${options.name} (pid ${worker.pid}) was not ready within ${readyTimeoutMs} ms. Last output:\n${tail.join('\n')}`,
          ),
        ),
      readyTimeoutMs,
    );
  });
  try {
    await Promise.race([ready, late]);
  } catch (err) {
    await worker.stop(0, () => child.kill('SIGKILL'));
    throw err;
  } finally {
    clearTimeout(deadline);
  }
  return worker;
}

class Worker<In> implements ForkedWorker<In> {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitedYet = false;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    this.pid = child.pid ?? -1;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitedYet = true;
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return !this.exitedYet;
  }

  send(message: In): boolean {
    if (!this.child.connected) return false;
    this.child.send(message as object);
    return true;
  }

  async stop(graceMs: number, ask: () => void = () => this.child.kill('SIGTERM')): Promise<void> {
    if (!this.running) return;
    ask();
    const escalate = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(escalate);
  }
}
