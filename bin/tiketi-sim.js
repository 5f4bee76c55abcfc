#!/usr/bin/env node
// The CLI is TypeScript. It runs from an esbuild bundle of harness/cli/main.ts (half the load
// time of tsx, which `up` waits for), built by servers/entry-bundle.ts when there is none from the
// sources as they are: a clean checkout needs no build step. When no bundle can be built, it runs
// through tsx's loader.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { currentBundle } from '../servers/bundle-manifest.js';

const MAIN = fileURLToPath(new URL('../harness/cli/main.ts', import.meta.url));
let bundle = currentBundle(MAIN);
if (!bundle) {
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  const { nodeEntry } = await import('../servers/entry-bundle.ts');
  const built = await nodeEntry(MAIN);
  if (built.bundled) {
    unregister();
    bundle = built.modulePath;
  }
}
if (bundle) {
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(bundle).href);
} else {
  await import('../harness/cli/main.ts');
}
