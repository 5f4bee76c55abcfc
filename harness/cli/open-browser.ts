/**
 * `--open`: the live page in the desktop's browser, through the platform's opener (xdg-open, open,
 * start). When there is none (a server, a container), the run goes on and says where the page is.
 */
import { spawn } from 'node:child_process';

export function openerFor(platform: NodeJS.Platform, url: string): { command: string; args: string[] } {
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url] };
  return { command: 'xdg-open', args: [url] };
}

export function openInBrowser(
  url: string,
  say: (line: string) => void,
  opener = openerFor(process.platform, url),
): void {
  const { command, args } = opener;
  const failed = (why: string) =>
    say(`[tiketi-sim] --open: ${command} ${why}; open ${url} in a browser yourself`);
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', (err: NodeJS.ErrnoException) =>
    failed(err.code === 'ENOENT' ? 'is not installed' : `failed (${err.message})`),
  );
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) failed(`exited ${code} (no browser?)`);
  });
  child.unref();
}
