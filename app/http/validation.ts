/** Request shapes (zod, strict) and the helper that turns a bad one into a 400 naming the field. */
import { z } from 'zod';
import { ApiError } from '../core/errors.ts';

export const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
const id = (what: string) => z.string().regex(idPattern, `${what} must be 1–64 of letters, digits, _ and -`);

export const schemas = {
  register: z
    .object({
      email: z.string().trim().toLowerCase().email('email must be an email address').max(254),
      password: z.string().min(8, 'password must be at least 8 characters').max(200),
      name: z.string().trim().min(1, 'name must not be empty').max(100),
    })
    .strict(),
  login: z
    .object({
      email: z.string().trim().toLowerCase().email('email must be an email address').max(254),
      password: z.string().min(1).max(200),
    })
    .strict(),
  eventParams: z.object({ eventId: id('eventId') }),
  seatParams: z.object({ eventId: id('eventId'), seatId: id('seatId') }),
  reservationParams: z.object({ id: z.string().uuid('reservation id must be a UUID') }),
  reservation: z
    .object({
      eventId: id('eventId'),
      seatIds: z
        .array(id('seatId'))
        .min(1, 'seatIds must name at least one seat')
        .max(10, 'seatIds can name at most 10 seats')
        .refine((ids) => new Set(ids).size === ids.length, 'seatIds must not repeat a seat'),
    })
    .strict(),
  queueSubscribe: z.object({ eventId: id('eventId') }).strict(),
  payment: z
    .object({ method: z.enum(['card', 'kakaopay', 'naverpay', 'tosspay', 'bank_transfer']) })
    .strict(),
};

/** Where a value came from: an HTTP body, a path, or a Socket.IO message's payload. */
export type Source = 'body' | 'path' | 'message';

export function parse<T>(schema: z.ZodType<T>, value: unknown, where: Source = 'body'): T {
  if (
    where !== 'path' &&
    (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value))
  ) {
    throw where === 'body'
      ? new ApiError(
          400,
          'invalid_body',
          'the request body must be a JSON object (Content-Type: application/json)',
        )
      : new ApiError(400, 'invalid_message', 'the message payload must be an object');
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.') || undefined;
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`
      : issue.code === 'invalid_type'
        ? `${field ?? 'value'} must be ${issue.expected}`
        : issue.message;
  throw new ApiError(
    400,
    'validation_failed',
    message,
    field ?? (issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined),
  );
}
