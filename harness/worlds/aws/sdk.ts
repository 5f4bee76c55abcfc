/** What the AWS observers and faults need of the SDK: a `send`, and AWS's timestamps as epoch ms. */

/**
 * What the adapters need of an AWS SDK v3 client: `send`. A real client fits; so does a test fake
 * that records the commands it is sent.
 */
export interface SdkClient {
  send(command: object, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Sends `command` and types the answer as the command's output. */
export async function call<Output>(client: SdkClient, command: object): Promise<Output> {
  return (await client.send(command)) as Output;
}

/** An SDK timestamp (Date, ISO string or epoch ms) as epoch ms; undefined when absent or invalid. */
export function epochMsOf(date: Date | string | number | undefined): number | undefined {
  if (date === undefined) return undefined;
  const value = date instanceof Date ? date.getTime() : typeof date === 'number' ? date : Date.parse(date);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Every page of a paged AWS call: `request(nextToken)` builds the command for one page (no token:
 * the first). Stop early by leaving the loop.
 */
export async function* pages<Page extends { NextToken?: string }>(
  client: SdkClient,
  request: (page: { NextToken?: string }) => object,
): AsyncGenerator<Page> {
  let NextToken: string | undefined;
  do {
    const page = await call<Page>(client, request(NextToken ? { NextToken } : {}));
    yield page;
    NextToken = page.NextToken;
  } while (NextToken);
}
