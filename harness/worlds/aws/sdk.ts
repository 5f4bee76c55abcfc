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
