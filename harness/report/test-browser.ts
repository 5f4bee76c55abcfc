/** Test support: Debian's Chromium, headless, with nothing that reaches the network by itself. */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const skipNote = hasChromium
  ? ''
  : ' — skipped: /usr/bin/chromium is missing (apt-get install chromium)';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** A page that records script errors and refuses every request outside `allowed`. */
export async function strictPage(browser: Browser, allowed: (url: string) => boolean) {
  const page: Page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const problems: string[] = [];
  const blocked: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed(url)) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  return { page, problems, blocked };
}
