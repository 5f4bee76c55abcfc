/** Where bundles are kept: inside the project, so a bundle's `import 'pg'` finds its node_modules. */
export const DEFAULT_BUNDLES_DIR: string;

/** A bundle's file-name stem, from its entry's path in the project: `harness_alb_worker`. */
export function bundleName(entry: string): string;

/** Where the manifest of an entry's current build is: `{ main, inputs: [path, mtimeMs, size][] }`. */
export function manifestPath(entry: string, dir: string): string;

/** The entry's bundle (its main module) if one was built from its sources as they are now. */
export function currentBundle(entry: string, dir?: string): string | undefined;
