import { describe, expect, it } from 'vitest';
import { coerceValue, toEpochMs } from '../../src/sources/column-types.ts';
import { decodeConnectDecimal, debeziumPosition, parseDebeziumBody } from '../../src/cdc/debezium-envelope.ts';
import { prepareChanges } from '../../src/cdc/prepare-changes.ts';
import type { CdcChange } from '../../src/cdc/cdc-change.ts';
import { parseWithSchema, sourcesConfigSchema } from '../../src/sources/sources-config.ts';
import { shopSources } from '../../benchmarks/generator/shop-sources.ts';

const config = shopSources();

function change(partial: Partial<CdcChange>): CdcChange {
  return { source: 'shop', table: 'public.customers', op: 'c', position: 1n, changedAt: 0, before: null, after: null, origin: 'test', ...partial };
}

describe('column coercion', () => {
  it('reads times in every form sources send them', () => {
    expect(toEpochMs('2026-01-02 03:04:05.678+00')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    expect(toEpochMs('2026-01-02T03:04:05+02:00')).toBe(Date.UTC(2026, 0, 2, 1, 4, 5));
    expect(toEpochMs('2026-01-02 03:04:05')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(toEpochMs(1_767_225_600_000_000, 'us')).toBe(1_767_225_600_000);
    expect(toEpochMs(1_767_225_600)).toBe(1_767_225_600_000);
    expect(toEpochMs(20_454, 'days')).toBe(Date.UTC(2026, 0, 1));
    expect(toEpochMs('soon')).toBeUndefined();
  });

  it('coerces to declared types and says why when it cannot', () => {
    expect(coerceValue('int', '42')).toEqual({ ok: true, value: 42 });
    expect(coerceValue('int', 4.2)).toEqual({ ok: false, message: '4.2 is not a int' });
    expect(coerceValue('bool', 't')).toEqual({ ok: true, value: true });
    expect(coerceValue('bool', 'maybe').ok).toBe(false);
    expect(coerceValue('float', '')).toEqual({ ok: true, value: null });
    expect(coerceValue('string', '')).toEqual({ ok: true, value: '' });
    expect(coerceValue('date', '2026-03-04T10:00:00Z')).toEqual({ ok: true, value: '2026-03-04' });
    expect(coerceValue('json', { a: 1 })).toEqual({ ok: true, value: '{"a":1}' });
  });
});

describe('Debezium envelopes', () => {
  it('decodes Connect decimals (two’s complement, scale)', () => {
    expect(decodeConnectDecimal(Buffer.from([0x30, 0x39]).toString('base64'), 2)).toBe('123.45');
    expect(decodeConnectDecimal(Buffer.from([0xcf, 0xc7]).toString('base64'), 2)).toBe('-123.45');
    expect(decodeConnectDecimal(Buffer.from([0x05]).toString('base64'), 3)).toBe('0.005');
  });

  it('orders changes by LSN, binlog position, or time', () => {
    expect(debeziumPosition({ table: 't', lsn: 123 }, 0)).toBe(123n);
    expect(debeziumPosition({ table: 't', file: 'mysql-bin.000003', pos: 154 }, 0)).toBe((3n << 32n) | 154n);
    expect(debeziumPosition({ table: 't' }, 1_000)).toBe(1_000_000n);
  });

  it('takes one event or an array, wrapped or bare, and names the table from source', () => {
    const payload = { op: 'c', after: { id: 1 }, source: { name: 'shop', schema: 'public', table: 'customers', lsn: 7, ts_ms: 5 } };
    for (const body of [payload, [payload], { schema: {}, payload }]) {
      const parsed = parseDebeziumBody(body, { origin: 'test', receivedAt: 0 });
      expect(parsed.changes).toMatchObject([{ source: 'shop', table: 'public.customers', op: 'c', position: 7n, changedAt: 5, after: { id: 1 } }]);
    }
    const mysql = parseDebeziumBody({ ...payload, source: { name: 'shop', db: 'shop', table: 'customers', file: 'b.000001', pos: 4 } }, { source: 'erp', origin: 'test', receivedAt: 0 });
    expect(mysql.changes[0]).toMatchObject({ source: 'erp', table: 'shop.customers' });
  });

  it('rejects what is not a change event, with the reason', () => {
    const parsed = parseDebeziumBody([{ op: 'c', source: {} }, 'text'], { origin: 'req', receivedAt: 0 });
    expect(parsed.rejections.map((r) => [r.index, r.code])).toEqual([
      [0, 'invalid_envelope'],
      [1, 'invalid_envelope'],
    ]);
    expect(parsed.rejections[0]!.message).toContain('source.table');
  });
});

describe('prepareChanges', () => {
  it('splits at truncates so rows before and after them are written in order', () => {
    const prepared = prepareChanges(
      [
        change({ after: { id: 1, email: 'a@x.com' } }),
        change({ op: 't', position: 2n }),
        change({ after: { id: 2 }, position: 3n }),
      ],
      config,
    );
    expect(prepared.steps.map((s) => s.kind)).toEqual(['rows', 'truncate', 'rows']);
    expect(prepared.accepted).toBe(3);
  });

  it('writes tombstones with only the key for deletes, and identifiers for the identity graph', () => {
    const prepared = prepareChanges([change({ after: { id: 1, email: 'A@x.com', name: 'A' } }), change({ op: 'd', before: { id: 1, email: 'A@x.com' }, position: 2n })], config);
    const step = prepared.steps[0]!;
    if (step.kind !== 'rows') throw new Error('expected rows');
    expect(step.changelog.map((c) => c.identifiers)).toEqual(['[["user_id","1"],["email","A@x.com"]]', '[]']);
    expect(step.state.get('cdc_shop__public_customers_state')!.map((r) => [r.id, r.email, r._deleted])).toEqual([
      [1, 'A@x.com', 0],
      [1, null, 1],
    ]);
  });

  it('reports undeclared columns as drift once per batch', () => {
    const prepared = prepareChanges([change({ after: { id: 1, tier: 'gold' } }), change({ after: { id: 2, tier: 'silver' } })], config);
    expect(prepared.drift).toEqual([{ source: 'shop', table: 'public.customers', column: 'tier' }]);
  });
});

describe('sources config', () => {
  it('names the file and the path of each mistake', () => {
    const table = (t: object) => ({ cdc: { shop: { tables: { 'public.orders': { role: 'fact', primaryKey: ['id'], ...t } } } } });
    expect(() => parseWithSchema(sourcesConfigSchema, table({ columns: { id: 'int', amount: 'money' } }), 'sources.json')).toThrow(
      /^sources\.json: cdc\.shop\.tables\.public\.orders\.columns\.amount: Invalid option/,
    );
    expect(() => parseWithSchema(sourcesConfigSchema, table({ columns: { created_at: 'string' }, timestamp: 'created_at' }), 'sources.json')).toThrow(
      /primaryKey\.0: primary key column 'id' is not in columns; .*timestamp: timestamp column 'created_at' is string; it must be timestamp or date/,
    );
  });
});
