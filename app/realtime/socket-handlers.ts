/**
 * Socket.IO handlers that a client cannot turn against the instance. A message carries whatever
 * the sender put in it: the payload is parsed with the same zod schemas and error shape as the
 * HTTP routes, an acknowledgement is called only when it is a function, and a handler's failure
 * becomes an error reply — never a rejection nobody handles (which ends a Node process).
 */
import type { Logger } from 'pino';
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { ApiError } from '../core/errors.ts';
import { parse } from '../http/validation.ts';

/** The reply of a refused or failed message: the HTTP API's error body. */
export interface ErrorReply {
  error: { code: string; message: string; field?: string };
}

export function errorReply(err: unknown): ErrorReply {
  if (err instanceof ApiError)
    return { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } };
  return { error: { code: 'unavailable', message: 'the server could not handle this message; retry' } };
}

/**
 * Registers `handle` for `event`: `(payload, ack?)` where payload must match `schema`. Anything
 * else — no payload, a payload of the wrong shape, extra arguments, a non-function last argument —
 * gets a `validation_failed` reply (through the ack when there is one) and changes nothing.
 */
export function onMessage<T, R>(
  socket: Socket,
  event: string,
  schema: z.ZodType<T>,
  handle: (payload: T) => Promise<R>,
  log: Logger,
): void {
  socket.on(event, (...args: unknown[]) => {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as (reply: unknown) => void) : undefined;
    const reply = (value: unknown) => {
      try {
        ack?.(value);
      } catch (err) {
        log.warn({ err: (err as Error).message, event }, 'socket ack failed');
      }
    };
    let payload: T;
    try {
      if (args.length !== 1)
        throw new ApiError(
          400,
          'validation_failed',
          `${event} takes one object and an optional acknowledgement (got ${args.length} arguments)`,
        );
      payload = parse(schema, args[0], 'message');
    } catch (err) {
      reply(errorReply(err));
      return;
    }
    handle(payload).then(reply, (err: unknown) => {
      if (!(err instanceof ApiError))
        log.warn({ err: (err as Error).message, event }, 'socket handler failed');
      reply(errorReply(err));
    });
  });
}
