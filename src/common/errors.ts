/**
 * Expected failures are typed errors with a stable `code`, an HTTP status and a `retryable` flag.
 * The API maps them to `{ error: { code, message, details } }`.
 */
export class TesseraError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status = 400,
    public readonly details?: unknown,
    public readonly retryable = false,
  ) {
    super(message);
    this.name = 'TesseraError';
  }
}

export class ValidationError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('invalid_request', message, 400, details);
  }
}

export class UnauthorizedError extends TesseraError {
  constructor(message = 'Missing or invalid API key') {
    super('unauthorized', message, 401);
  }
}

export class ForbiddenError extends TesseraError {
  constructor(message: string) {
    super('forbidden', message, 403);
  }
}

export class NotFoundError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('not_found', message, 404, details);
  }
}

export class UnavailableError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('unavailable', message, 503, details, true);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
