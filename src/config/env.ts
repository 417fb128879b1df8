import path from 'node:path';
import { z } from 'zod';

/** The one schema for Tessera's environment. Nothing else reads process.env. */
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.string().url().optional())
  .optional();

export const envSchema = z.object({
  DATABASE_URL: optionalUrl.describe('PostgreSQL URL; unset: embedded PostgreSQL under TESSERA_DATA_DIR/postgres'),
  CLICKHOUSE_URL: optionalUrl.describe('ClickHouse HTTP URL; unset: in-process chdb under TESSERA_DATA_DIR/clickhouse'),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier')
    .default('tessera')
    .describe('ClickHouse database holding Tessera tables'),
  CLICKHOUSE_INSERT_CONNECTIONS: z.coerce
    .number()
    .int()
    .min(0)
    .max(16)
    .default(2)
    .describe('embedded ClickHouse: connections of their own for inserts, so inserts into different tables run in parallel (0: none)'),
  REDIS_URL: optionalUrl.describe('Redis URL; unset: a redis-server child process with data in TESSERA_DATA_DIR/redis'),
  REDIS_KEY_PREFIX: z.string().default('tessera:').describe('prefix of every Redis key Tessera writes'),
  TESSERA_DATA_DIR: z.string().default('.tessera').describe('where embedded stores keep their data'),
  HOST: z.string().default('127.0.0.1').describe('API listen address'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('API listen port'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INGEST_MAX_BATCH_ROWS: z.coerce
    .number()
    .int()
    .positive()
    .default(5000)
    .describe('most events written to ClickHouse in one insert by the ingestion writer'),
  INGEST_PARALLEL_INSERTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(16)
    .default(1)
    .describe('how many inserts into one table the ingestion writers may have in flight at once'),
  TESSERA_IDENTITY_CONFIG: z
    .string()
    .optional()
    .describe('JSON file with identifier types, priorities, limits, blocklist (see identity/README.md); unset: defaults'),
  TESSERA_SOURCES_CONFIG: z
    .string()
    .optional()
    .describe('JSON file declaring CDC source tables and CRM sources (see src/sources/README.md); unset: none'),
  IDENTITY_RESOLVE_EVERY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe('how often `tessera start` resolves new events into the identity graph (0: never)'),
  IDENTITY_SETTLE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(2_000)
    .describe('events younger than this wait for the next resolution run (inserts in flight commit later)'),
  INGEST_LINGER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(2)
    .describe('how long an ingestion request waits for others to share its ClickHouse insert (each insert makes a part)'),
  TESSERA_FEATURES_DIR: z
    .string()
    .optional()
    .describe('directory of the feature definition files (*.ts); unset: features/definitions of this checkout'),
  FEATURES_RUN_EVERY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('how often `tessera start` runs the features (incremental; 0: never, run them with `tessera features run`)'),
  FEATURES_DRIFT_STDDEVS: z.coerce
    .number()
    .positive()
    .default(2.5)
    .describe('a feature statistic further than this many standard deviations from its recent runs is flagged as drift'),
});

export type Env = z.infer<typeof envSchema>;

export interface Config extends Env {
  /** Absolute data directory. */
  dataDir: string;
}

export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return { ...parsed.data, dataDir: path.resolve(cwd, parsed.data.TESSERA_DATA_DIR) };
}

/** Rows for the README's configuration table. */
export function describeEnv(): { name: string; description: string }[] {
  return Object.entries(envSchema.shape).map(([name, schema]) => ({ name, description: schema.description ?? '' }));
}
