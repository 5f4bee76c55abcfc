import { describe, expect, it } from 'vitest';
import { openerFor, openInBrowser } from './open-browser.ts';

const URL_ = 'http://127.0.0.1:9/dashboard';

/** Runs `openInBrowser` with a given opener and returns what it said once its process is done. */
async function said(opener: { command: string; args: string[] }): Promise<string[]> {
  const lines: string[] = [];
  openInBrowser(URL_, (l) => lines.push(l), opener);
  const deadline = Date.now() + 10_000;
  while (lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return lines;
}

describe('--open', () => {
  it("uses the platform's opener", () => {
    expect(openerFor('linux', URL_)).toEqual({ command: 'xdg-open', args: [URL_] });
    expect(openerFor('darwin', URL_)).toEqual({ command: 'open', args: [URL_] });
    expect(openerFor('win32', URL_).command).toBe('cmd');
  });

  it('says where the page is when there is no opener, or it fails, and goes on', async () => {
    expect(await said({ command: 'tiketi-no-such-opener', args: [] })).toEqual([
      `[tiketi-sim] --open: tiketi-no-such-opener is not installed; open ${URL_} in a browser yourself`,
    ]);
    expect(await said({ command: 'false', args: [] })).toEqual([
      `[tiketi-sim] --open: false exited 1 (no browser?); open ${URL_} in a browser yourself`,
    ]);
  });
});
