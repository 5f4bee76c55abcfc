/**
 * A benchmark's command line: node:util's parseArgs, always strict. An option it does not know, a
 * missing value or a stray argument ends the bench before anything starts, with the parser's
 * message and the bench's usage, exit 2 — not a stack trace, and not a typo silently ignored.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** parseArgs of `config` (strict, its default: `strict: false` is not allowed), or exit 2 with the usage. */
export function benchArgs<T extends ParseArgsConfig & { strict?: true }>(
  usage: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err;
    console.error(`${(err as Error).message}\nusage: ${usage}`);
    process.exit(2);
  }
}
