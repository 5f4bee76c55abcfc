/**
 * Server output (Redis, PostgreSQL, Sentinels, app instances, ALB workers) goes to one file per
 * server in the run's folder, `.tiketi-sim/logs/<stamp>/`, instead of the terminal; `--verbose`
 * streams it to stderr as well. The last lines are kept for the error when a start-up step fails.
 */
import { createWriteStream, mkdirSync, readdirSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { LogSink } from '../../servers/process.ts';

/** Where `up` and `run` keep server logs, one folder per start. */
export const LOGS_ROOT = '.tiketi-sim/logs';

/** Lines of server output printed with a start-up error. */
export const FAILURE_TAIL_LINES = 20;
const PREFIX = /^\[([^\]]+)\] /;
/** Run folders kept under the logs root, the newest (as npm keeps its last 10 debug logs). */
export const KEPT_LOG_FOLDERS = 10;
const RUN_FOLDER = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d$/;

export class ServerLogs {
  private readonly files = new Map<string, WriteStream>();
  private readonly tail: string[] = [];
  readonly sink: LogSink = (line) => this.write(line);

  constructor(
    readonly dir: string,
    private readonly options: { verbose: boolean; stderr: (line: string) => void },
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** A new folder under `root` named after the wall time, e.g. `.tiketi-sim/logs/2026-11-30T06-50-01`. */
  static inRunFolder(
    root: string,
    options: { verbose: boolean; stderr: (line: string) => void },
  ): ServerLogs {
    const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
    const logs = new ServerLogs(join(root, stamp), options);
    pruneRunFolders(root);
    return logs;
  }

  private write(line: string): void {
    if (this.options.verbose) this.options.stderr(line);
    this.tail.push(line);
    if (this.tail.length > FAILURE_TAIL_LINES) this.tail.shift();
    const name = PREFIX.exec(line)?.[1] ?? 'harness';
    const file = name.replace(/[^A-Za-z0-9._-]+/g, '-');
    let stream = this.files.get(file);
    if (!stream) {
      stream = createWriteStream(join(this.dir, `${file}.log`), { flags: 'a' });
      stream.on('error', () => stream?.destroy()); // a full disk costs the log, not the run
      this.files.set(file, stream);
    }
    stream.write(`${line}\n`);
  }

  /** What a failed start-up prints after its error: the last server lines and where the rest is. */
  failureLines(): string[] {
    if (this.tail.length === 0) return [`(no server output; logs folder: ${this.dir})`];
    return [`Last server output (all of it in ${this.dir}/):`, ...this.tail.map((l) => `  ${l}`)];
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.files.values()].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))),
    );
  }
}

/** Removes all but the newest KEPT_LOG_FOLDERS run folders under `root`; anything else is left. */
function pruneRunFolders(root: string): void {
  const runs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && RUN_FOLDER.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - KEPT_LOG_FOLDERS)))
    rmSync(join(root, old), { recursive: true, force: true });
}
