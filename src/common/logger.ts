import { pino, type Logger } from 'pino';

/** Fields that can carry personal data; pino replaces them with [redacted]. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  '*.email',
  '*.phone',
  '*.traits',
  '*.context.traits',
  'writeKey',
];

/** Structured JSON logs; CLI commands log to stderr (fd 2) so stdout carries only their output. */
export function createLogger(level: string, opts: { name?: string; fd?: 1 | 2 } = {}): Logger {
  return pino(
    { name: opts.name ?? 'tessera', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    pino.destination({ fd: opts.fd ?? 1, sync: opts.fd === 2 }),
  );
}

export type { Logger };
