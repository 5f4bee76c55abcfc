/**
 * A secret's value through the AWS Parameters and Secrets Lambda Extension (a layer the stack
 * adds): a local HTTP call with the function's session token, cached by the extension, and no
 * Secrets Manager SDK in the bundle.
 */
import { z } from 'zod';

/** The extension's default port (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`). */
const EXTENSION_PORT = 2773;

const answerSchema = z.object({ SecretString: z.string().min(1) });

export async function readSecretString(
  secretArn: string,
  env: Record<string, string | undefined> = process.env,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const port = env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? String(EXTENSION_PORT);
  const url = `http://localhost:${port}/secretsmanager/get?secretId=${encodeURIComponent(secretArn)}`;
  const res = await fetchImpl(url, {
    headers: { 'X-Aws-Parameters-Secrets-Token': env.AWS_SESSION_TOKEN ?? '' },
  });
  if (!res.ok) {
    throw new Error(
      `reading secret ${secretArn} through the Parameters and Secrets extension failed: HTTP ${res.status} ${await res.text()}`,
    );
  }
  return answerSchema.parse(await res.json()).SecretString;
}
