import { describe, expect, it } from 'vitest';
import { MATERIALIZED_PREFIX, materializedChangesSql, materializedField } from '../../features/compiler/materialized-sql.ts';

const category = materializedField({ column: 'properties', jsonKeys: ['category'], type: 'string' });
const revenue = materializedField({ column: 'properties', jsonKeys: ['revenue'], type: 'float' });

describe('materialized JSON fields of events', () => {
  it('are named after their expression and type, and hold what fieldSql reads', () => {
    expect(category.column).toMatch(new RegExp(`^${MATERIALIZED_PREFIX}[0-9a-f]{16}$`));
    expect(materializedField({ column: 'properties', jsonKeys: ['category'], type: 'string' })).toEqual(category);
    // The same path read as another type, or another path: another column.
    expect(materializedField({ column: 'properties', jsonKeys: ['category'], type: 'int' }).column).not.toBe(category.column);
    expect(materializedField({ column: 'traits', jsonKeys: ['category'], type: 'string' }).column).not.toBe(category.column);
    expect(category).toMatchObject({ type: 'Nullable(String)', expr: "JSONExtract(`properties`, 'category', 'Nullable(String)')", comment: 'properties.category (string), read by features' });
  });

  it('adds and fills the missing columns in one waiting statement, drops the unread ones, and does nothing when in step', () => {
    const changes = materializedChangesSql('db.events', [category, revenue], [category.column, `${MATERIALIZED_PREFIX}0123456789abcdef`, 'other']);
    expect(changes).toMatchObject({ added: [revenue.column], dropped: [`${MATERIALIZED_PREFIX}0123456789abcdef`] });
    expect(changes.statements).toEqual([
      `ALTER TABLE db.events ADD COLUMN IF NOT EXISTS \`${revenue.column}\` Nullable(Float64) MATERIALIZED ${revenue.expr} COMMENT 'properties.revenue (float), read by features', MATERIALIZE COLUMN \`${revenue.column}\` SETTINGS mutations_sync = 2`,
      `ALTER TABLE db.events DROP COLUMN IF EXISTS \`${MATERIALIZED_PREFIX}0123456789abcdef\``,
    ]);
    expect(materializedChangesSql('db.events', [category], [category.column]).statements).toEqual([]);
  });
});
