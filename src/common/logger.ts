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

export function createLogger(level: string, name = 'tessera'): Logger {
  return pino({ name, level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}

export type { Logger };
