import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { groupFeatures, scanFields } from '../../features/compiler/group-sql.ts';
import { fieldSql } from '../../features/compiler/source-sql.ts';
import { materializedChangesSql, materializedField } from '../../features/compiler/materialized-sql.ts';
import { VALUE_TYPES } from '../../features/declarations.ts';
import { validateDefinitions } from '../../features/validate-definitions.ts';
import type { AggregateFeature, FieldRef } from '../../features/feature-model.ts';
import { count, defineEvents, defineFeatures, eq, events, field, last, max, sum } from '../../features/dsl.ts';
import { SHOP_SOURCES } from '../helpers/shop-data.ts';

/** Documents where reading several keys with one parse (a named tuple) could differ from reading them one by one. */
const DOCS = [
  '{"revenue":12.5,"category":"shoes","quantity":3,"gift":true,"shipping":{"country":"FR"}}',
  '{"revenue":"12.5","category":12,"quantity":3.7,"gift":1,"shipping":{"country":5}}',
  '{"revenue":null,"category":null,"quantity":null,"gift":null,"shipping":null}',
  '{}',
  '',
  'not json',
  '{"revenue":1,',
  '[12.5, "shoes", 3, true]',
  ' {"revenue":2,"category":"space before"}',
  '{"revenue":1,"revenue":2,"category":"a","category":"b"}',
  '{"Revenue":1,"CATEGORY":"x"}',
  '{"revenue":[1],"category":{"x":1},"quantity":{"x":1},"gift":"true","shipping":["FR"]}',
  '{"revenue":1e400,"quantity":99999999999999999999,"category":"\\u00e9\\n"}',
  '{"shipping":{"country":"DE","country":"AT"}}',
];

describe('JSON fields read by the scan', () => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await openTestStores({ migrate: false });
    await stores.ch.command(`CREATE DATABASE IF NOT EXISTS \`${stores.ch.database}\``);
  });
  afterAll(async () => {
    await stores?.close();
  });

  it('have the values fieldSql reads, whatever the document', async () => {
    const orders = events('Order Completed');
    const r = validateDefinitions(
      [
        {
          file: 'e.ts',
          exportName: 'default',
          value: defineEvents({ track: { 'Order Completed': { revenue: 'float', category: 'string', quantity: 'int', gift: 'bool', 'shipping.country': 'string' } } }),
        },
        {
          file: 'f.ts',
          exportName: 'default',
          value: defineFeatures({
            owner: 'o',
            features: {
              revenue: { description: 'd', type: 'float', from: orders, aggregate: sum('properties.revenue') },
              category: { description: 'd', type: 'string', from: orders, aggregate: last('properties.category') },
              quantity: { description: 'd', type: 'int', from: orders, aggregate: max('properties.quantity') },
              gifts: { description: 'd', type: 'int', from: orders, aggregate: count(), where: eq(field('properties.gift'), true) },
              country: { description: 'd', type: 'string', from: orders, aggregate: last('properties.shipping.country') },
            },
          }),
        },
      ],
      { sources: SHOP_SOURCES },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const [group] = groupFeatures(r.set.features as AggregateFeature[]);
    const fields = scanFields(group!);
    // Four top-level keys share one parse; the nested path is read on its own.
    expect(fields.columns.filter((c) => c.includes("JSONExtract(`properties`, 'Tuple("))).toHaveLength(1);
    const refs: FieldRef[] = [
      { column: 'properties', jsonKeys: ['revenue'], type: 'float' },
      { column: 'properties', jsonKeys: ['category'], type: 'string' },
      { column: 'properties', jsonKeys: ['quantity'], type: 'int' },
      { column: 'properties', jsonKeys: ['gift'], type: 'bool' },
      { column: 'properties', jsonKeys: ['shipping', 'country'], type: 'string' },
    ];
    const table = stores.ch.table('docs');
    await stores.ch.command(`CREATE TABLE ${table} (i UInt32, type String, event String, name String, properties String) ENGINE = MergeTree ORDER BY i`);
    await stores.ch.insert(
      'docs',
      DOCS.flatMap((properties, i) => [
        { i: 2 * i, type: 'track', event: 'Order Completed', name: '', properties },
        { i: 2 * i + 1, type: 'track', event: 'Product Viewed', name: '', properties },
      ]),
    );
    const rows = await stores.ch.query<Record<string, unknown>>(
      `SELECT i, properties, ${refs.map((f, k) => `toJSONString(tuple(${fields.field(f)})) AS scan${k}, toJSONString(tuple(if(event = 'Order Completed', ${fieldSql(f)}, NULL))) AS alone${k}`).join(', ')}
       FROM (SELECT *, ${fields.columns.join(', ')} FROM ${table}) ORDER BY i`,
    );
    expect(rows).toHaveLength(DOCS.length * 2);
    for (const row of rows) refs.forEach((_, k) => expect(row[`scan${k}`], `${row.properties} ${refs[k]!.jsonKeys!.join('.')}`).toBe(row[`alone${k}`]));
    // The values are read at all (not NULL everywhere).
    expect(rows[0]).toMatchObject({ scan0: '[12.5]', scan1: '["shoes"]', scan4: '["FR"]' });
  });

  it('kept as materialized columns, of every type, hold the values fieldSql reads, whether written into stored rows or not', async () => {
    const refs: FieldRef[] = VALUE_TYPES.flatMap((type) => [
      { column: 'properties', jsonKeys: ['revenue'], type },
      { column: 'properties', jsonKeys: ['shipping', 'country'], type },
    ]);
    const fields = refs.map(materializedField);
    const docs = [...DOCS, '{"revenue":"2026-03-01T10:00:00Z"}', '{"revenue":1772359200000}', '{"revenue":"2026-03-01"}', '{"revenue":20513}'];
    // Added and filled as a run does; and only added (ClickHouse computes them on read).
    const ddl = {
      filled: (table: string) => materializedChangesSql(table, fields, []).statements,
      computed: (table: string) => [`ALTER TABLE ${table} ${fields.map((m) => `ADD COLUMN \`${m.column}\` ${m.type} MATERIALIZED ${m.expr}`).join(', ')}`],
    };
    for (const [kind, statements] of Object.entries(ddl)) {
      const table = stores.ch.table(`docs_${kind}`);
      await stores.ch.command(`CREATE TABLE ${table} (i UInt32, properties String) ENGINE = MergeTree ORDER BY i`);
      await stores.ch.insert(`docs_${kind}`, docs.map((properties, i) => ({ i, properties })));
      for (const sql of statements(table)) await stores.ch.command(sql);
      const rows = await stores.ch.query<Record<string, unknown>>(
        `SELECT properties, ${fields.map((m, k) => `toJSONString(tuple(\`${m.column}\`)) AS column${k}, toJSONString(tuple(${fieldSql(refs[k]!)})) AS parsed${k}`).join(', ')} FROM ${table} ORDER BY i`,
      );
      expect(rows).toHaveLength(docs.length);
      for (const row of rows) fields.forEach((m, k) => expect(row[`column${k}`], `${kind}: ${row.properties} ${m.comment}`).toBe(row[`parsed${k}`]));
      // Values are read at all: a float, a time from text and from epoch ms, a date.
      const at = (i: number, type: string) => rows[i]![`column${VALUE_TYPES.indexOf(type as (typeof VALUE_TYPES)[number]) * 2}`];
      expect(at(0, 'float')).toBe('[12.5]');
      expect(at(docs.length - 4, 'timestamp')).toBe('["2026-03-01 10:00:00.000"]');
      expect(at(docs.length - 3, 'timestamp')).toBe('["2026-03-01 10:00:00.000"]');
      expect(at(docs.length - 2, 'date')).toBe('["2026-03-01"]');
    }
  });
});
