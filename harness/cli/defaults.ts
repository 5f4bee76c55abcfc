/**
 * The command line's defaults shown in `--help`. They live apart from the commands so the CLI can
 * describe every command while it loads only the one it runs.
 */

/** Simulated seconds per wall second of `tiketi-sim up`. */
export const DEFAULT_TIME_SCALE = 30;

/** Where the engine sends users unless told (`k6 run -e TARGET=…`, `artillery run --target …`). */
export const DEFAULT_EXPORT_TARGET = 'http://localhost:8080';
