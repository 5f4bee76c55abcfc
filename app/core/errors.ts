/** Errors the API answers with: `{ "error": { "code", "message", "field"? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message);

/** A refusal that passes: `429` (too many requests) or `503` (too busy); the reply carries `Retry-After`. */
export class RetryLaterError extends ApiError {
  constructor(
    status: 429 | 503,
    code: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(status, code, message);
    this.name = 'RetryLaterError';
  }
}
