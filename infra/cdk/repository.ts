/** Paths into this repository, resolved from this file so they hold whatever the working directory. */
import { fileURLToPath } from 'node:url';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
export const QUEUE_MONITOR_ENTRY = fileURLToPath(new URL('../../app/lambda/index.ts', import.meta.url));

/**
 * What the app build shipped to instances leaves out: instances install dependencies themselves
 * (`npm ci`), and run outputs, CDK output and VCS data have no place on a server.
 */
export const APP_BUILD_EXCLUDES = [
  '.git',
  'node_modules',
  'reports',
  'scratch',
  'cdk.out',
  'infra/cdk.out',
  '.tiketi-sim',
  'dist',
  '*.log',
];
