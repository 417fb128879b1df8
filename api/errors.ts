import type { FastifyError, FastifyInstance } from 'fastify';
import { TesseraError } from '../src/common/errors.ts';

/** Fastify's own client errors, mapped to Tessera's stable codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Every error leaves the API as `{ error: { code, message, details } }` with a fitting status. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof TesseraError) {
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    if (err.code && FASTIFY_CODES[err.code]) {
      const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'Request body is larger than 500 KB' : err.message;
      return reply.status(err.statusCode ?? 400).send(errorBody(FASTIFY_CODES[err.code]!, message));
    }
    if (err.statusCode && err.statusCode < 500) {
      return reply.status(err.statusCode).send(errorBody('invalid_request', err.message));
    }
    req.log.error({ err }, 'request failed');
    // Storage failures are worth retrying: nothing was acknowledged.
    reply.header('Retry-After', '1');
    return reply.status(503).send(errorBody('unavailable', 'The request could not be stored; retry later'));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send(errorBody('not_found', `No route ${req.method} ${req.url.split('?')[0]}`)),
  );
}
