/**
 * A child process the harness owns: started with readiness racing early exit and a deadline
 * (Playwright's web-server pattern), its output prefixed with its name, and stopped by pid.
 *
 * On Linux every child is started through `setpriv --pdeathsig`, so the kernel signals it when the
 * harness dies — even by SIGKILL — and no server outlives the run.
 */
import { type ChildProcess, type SendHandle, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

export type LogSink = (line: string) => void;

export interface SpawnProcessOptions {
  /** Prefix of every output line, e.g. `redis-primary`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Receives prefixed output lines. @default keeps them only for error messages */
  log?: LogSink;
  /** Signal sent to the child when the harness dies. @default 'SIGTERM' */
  parentDeathSignal?: NodeJS.Signals;
  /** Give it a standard input the harness writes to (`SpawnedProcess.stdin`). @default false */
  stdin?: boolean;
  /** Give it a Node.js IPC channel (`SpawnedProcess.channel`): a Node program only. @default false */
  ipc?: boolean;
}

/** The IPC channel of a Node process spawned with `ipc: true`: JSON messages, and handles with them. */
export interface ProcessChannel {
  /**
   * Sends `message`, passing `handle` (a socket) on with it; `done` gets the error if it could not
   * be sent. False when the channel is closed (the process is gone or going).
   */
  send(message: object, handle?: SendHandle, done?: (err: Error | null) => void): boolean;
  onMessage(listener: (message: unknown) => void): void;
  /** Calls `listener` once the channel has closed (the process exited or closed it). */
  onClose(listener: () => void): void;
}

export interface StartProcessOptions extends SpawnProcessOptions {
  /** Resolves true once the process serves. Polled with backoff until the deadline. */
  ready: () => Promise<boolean>;
  /** @default 30_000 */
  readyTimeoutMs?: number;
}

export class ProcessStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProcessStartError';
  }
}

/** Lines of a child's output kept for error messages. */
export const OUTPUT_TAIL_LINES = 30;
const SETPRIV = '/usr/bin/setpriv';
/**
 * Waits between readiness polls. Most servers here are ready within 0.2–2 s: polling every 100 ms
 * in that span finds them within 0.1 s (Playwright's 100/250/500/1000 found a server ready at
 * 0.9 s only at 1.85 s); a slower one is then polled less often.
 */
const READY_BACKOFF_MS = [25, 50, ...Array<number>(20).fill(100), 250, 500, 1000];

export interface ManagedProcess {
  /** The prefix of its output lines. */
  readonly name: string;
  readonly pid: number;
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** The last lines it printed, for error messages. */
  outputTail(): string[];
  /** Sends `signal`, escalates to SIGKILL after `graceMs`, resolves once exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

/** A process running, not known to serve yet: what a prebooted app instance is until it is given its role. */
export interface SpawnedProcess extends ManagedProcess {
  /** Its standard input when spawned with `stdin: true`, else null. */
  readonly stdin: Writable | null;
  /** Its IPC channel when spawned with `ipc: true`, else undefined. */
  readonly channel: ProcessChannel | undefined;
  /** Its output lines from now on carry this prefix (a process given its role after it started). */
  rename(name: string): void;
  /**
   * Polls `check` with backoff until it answers true, racing the process's exit and the deadline;
   * on either, stops the process and throws a {@link ProcessStartError} with its last output.
   */
  untilReady(check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
}

/** `command` wrapped so the kernel sends it `signal` when the harness dies (Linux with setpriv; else as is). */
export function wrapWithParentDeathSignal(
  command: string,
  args: string[],
  signal: NodeJS.Signals,
  ids: { uid?: number; gid?: number },
): { command: string; args: string[]; uid?: number; gid?: number } {
  if (process.platform !== 'linux' || !existsSync(SETPRIV)) return { command, args, ...ids };
  const identity =
    ids.uid !== undefined
      ? ['--reuid', String(ids.uid), '--regid', String(ids.gid ?? ids.uid), '--clear-groups']
      : [];
  return { command: SETPRIV, args: ['--pdeathsig', signal, ...identity, '--', command, ...args] };
}

/** Whether a process with this pid exists (one of another user's counts: EPERM). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Calls `onLine` with each non-empty line `stream` prints, as it completes. */
export function onLines(stream: Readable | null, onLine: (line: string) => void): void {
  let partial = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.length > 0) onLine(line);
  });
}

export async function startProcess(options: StartProcessOptions): Promise<ManagedProcess> {
  const spawned = await spawnProcess(options);
  await spawned.untilReady(options.ready, options.readyTimeoutMs);
  return spawned;
}

function channelOf(child: ChildProcess): ProcessChannel {
  // A child gone while a message is on its way is not the harness's error.
  child.on('error', () => {});
  return {
    send(message, handle, done) {
      if (!child.connected) return false;
      child.send(message, handle, {}, (err) => done?.(err));
      return true;
    },
    onMessage(listener) {
      child.on('message', listener);
    },
    onClose(listener) {
      if (child.connected) child.once('disconnect', listener);
      else queueMicrotask(listener);
    },
  };
}

/** Starts the process and resolves once it runs (not once it serves: see `untilReady`). */
export async function spawnProcess(options: SpawnProcessOptions): Promise<SpawnedProcess> {
  let name = options.name;
  const tail: string[] = [];
  const pushLine = (line: string) => {
    tail.push(line);
    if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
    options.log?.(`[${name}] ${line}`);
  };
  const wrapped = wrapWithParentDeathSignal(
    options.command,
    options.args,
    options.parentDeathSignal ?? 'SIGTERM',
    {
      uid: options.uid,
      gid: options.gid,
    },
  );
  const child: ChildProcess = spawn(wrapped.command, wrapped.args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    uid: wrapped.uid,
    gid: wrapped.gid,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(options.ipc ? ['ipc' as const] : [])],
  });
  const spawnError = once(child, 'spawn').then(
    () => undefined,
    (err: unknown) => err,
  );
  for (const stream of [child.stdout, child.stderr]) onLines(stream, pushLine);
  // A child that exits before reading its input must not take the harness down with EPIPE.
  child.stdin?.on('error', () => {});
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const failedToSpawn = await spawnError;
  if (failedToSpawn || child.pid === undefined) {
    throw new ProcessStartError(`${options.name}: could not start ${options.command}`, {
      cause: failedToSpawn,
    });
  }
  const pid = child.pid;

  const managed: SpawnedProcess = {
    get name() {
      return name;
    },
    pid,
    exited,
    get running() {
      return running;
    },
    stdin: child.stdin,
    channel: options.ipc ? channelOf(child) : undefined,
    rename(next) {
      name = next;
    },
    outputTail: () => [...tail],
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (!running) return;
      child.kill(signal);
      const escalate = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(escalate);
    },
    async kill() {
      if (!running) return;
      child.kill('SIGKILL');
      await exited;
    },
    async untilReady(check, deadlineMs = 30_000) {
      const startedAt = Date.now();
      let attempt = 0;
      let lastError: unknown;
      for (;;) {
        if (!running) {
          const { code, signal } = await exited;
          throw new ProcessStartError(
            `${name} exited before it was ready (code ${code}, signal ${signal}). Last output:\n${tail.join('\n')}`,
          );
        }
        try {
          if (await check()) return;
        } catch (err) {
          lastError = err; // not ready yet; the deadline decides
        }
        if (Date.now() - startedAt > deadlineMs) {
          await managed.stop('SIGKILL');
          throw new ProcessStartError(
            `${name} was not ready within ${deadlineMs} ms. Last output:\n${tail.join('\n')}`,
            { cause: lastError },
          );
        }
        const delayMs = READY_BACKOFF_MS[Math.min(attempt++, READY_BACKOFF_MS.length - 1)]!;
        await Promise.race([new Promise((r) => setTimeout(r, delayMs)), exited]);
      }
    },
  };
  return managed;
}
