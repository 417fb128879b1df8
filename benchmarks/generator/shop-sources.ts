import { sourcesConfigSchema, type ColumnType, type SourcesConfig } from '../../src/sources/sources-config.ts';

export interface ShopSourcesOptions {
  /** For the pull connector: the source database, and its slot / publication names. */
  connection?: string;
  slot?: string;
  publication?: string;
  /** Replaces the declared non-key customer columns (besides id and updated_at). */
  customerColumns?: Record<string, ColumnType>;
}

/**
 * A shop database (customers, orders) as CDC source `shop` and a CRM source `hubspot`, as tests and
 * benchmarks declare it (ids are ints; the demo's own declaration is src/demo/shop-sources.json).
 */
export function shopSources(opts: ShopSourcesOptions = {}): SourcesConfig {
  const { customerColumns = { email: 'string', name: 'string', subscribed: 'bool' }, ...connector } = opts;
  return sourcesConfigSchema.parse({
    cdc: {
      shop: {
        ...connector,
        tables: {
          'public.customers': {
            role: 'entity',
            primaryKey: ['id'],
            columns: { id: 'int', ...customerColumns, updated_at: 'timestamp' },
            identifiers: { id: 'user_id', email: 'email' },
            timestamp: 'updated_at',
          },
          'public.orders': {
            role: 'fact',
            primaryKey: ['id'],
            columns: { id: 'int', customer_id: 'int', amount: 'float', status: 'string', created_at: 'timestamp' },
            identifiers: { customer_id: 'user_id' },
            timestamp: 'created_at',
          },
        },
      },
    },
    crm: {
      hubspot: {
        idColumn: 'id',
        updatedAtColumn: 'updated_at',
        identifiers: { email: 'email', id: 'crm_id' },
        traits: { lifecycle_stage: 'string', score: 'float' },
      },
    },
  });
}
