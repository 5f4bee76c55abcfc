/** Paths into this repository, resolved from this file so they hold whatever the working directory. */
import { fileURLToPath } from 'node:url';

const at = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export const REPOSITORY_ROOT = at('');
export const LOCK_FILE = at('package-lock.json');
export const QUEUE_MONITOR_ENTRY = at('app/lambda/index.ts');
/** The app's sources: what the app build is made from. */
export const APP_SOURCE_DIR = at('app');
export const APP_ENTRY = at('app/main.ts');
export const MIGRATIONS_DIR = at('app/db/migrations');

/** The layout of the app build: the boot script runs the entry file from the unzipped build. */
export const APP_BUILD = { entryFile: 'main.mjs', migrationsDir: 'migrations' } as const;
