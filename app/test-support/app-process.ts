/** The app as a real child process (for kill and SIGTERM tests), as the emulator runs it. */
import { fileURLToPath } from 'node:url';
import { freePort } from '../../servers/ports.ts';
import { type ManagedProcess, startProcess } from '../../servers/process.ts';

const ENTRY = fileURLToPath(new URL('../main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function startAppProcess(
  env: Record<string, string>,
): Promise<{ url: string; process: ManagedProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    name: env.INSTANCE_ID ?? 'app',
    command: process.execPath,
    args: ['--import', 'tsx', ENTRY],
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    ready: async () => {
      const res = await fetch(`${url}/health`);
      await res.body?.cancel();
      return res.status === 200;
    },
  });
  return { url, process: proc };
}
