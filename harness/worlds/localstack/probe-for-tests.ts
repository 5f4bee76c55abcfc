/**
 * For tests that need LocalStack: whether its health endpoint answers here (a plain probe, not
 * the deploy preflight, which one of them tests), and a suffix for test names that says why they
 * skip and how to start it. The reason is printed once per file, so a skipped run says so.
 */
import { LOCALSTACK_ENDPOINT } from '../cdk-cli.ts';

const SKIP_REASON =
  'skipped: no LocalStack at 127.0.0.1:4566 — docker compose -f docker-compose.localstack.yml up -d';

export async function probeLocalStack(): Promise<{ localstackUp: boolean; suffix: string }> {
  const localstackUp = await fetch(`${LOCALSTACK_ENDPOINT}/_localstack/health`, {
    signal: AbortSignal.timeout(1_000),
  }).then(
    (res) => res.ok,
    () => false,
  );
  if (!localstackUp) console.log(SKIP_REASON);
  return { localstackUp, suffix: localstackUp ? '' : ` (${SKIP_REASON})` };
}
