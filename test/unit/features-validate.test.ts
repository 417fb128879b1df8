import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateDefinitions, type ExportedDeclaration, type Issue } from '../../features/validate-definitions.ts';
import { importDefinitionFiles } from '../../features/load-definitions.ts';
import { count, daysSince, defineEvents, defineFeatures, div, events, feature, field, gt, mostFrequent, sum, cdc, latest, crm } from '../../features/dsl.ts';
import catalog from '../../features/definitions/shop-events.ts';
import shop from '../../features/definitions/shop.ts';
import { SHOP_SOURCES } from '../helpers/shop-data.ts';
import type { SourcesConfig } from '../../src/sources/sources-config.ts';

const events_ = defineEvents({ track: { 'Order Completed': { revenue: 'float', category: 'string', order_id: 'string' } } });
const sources: SourcesConfig = {
  cdc: {
    shop: {
      tables: {
        'public.customers': { role: 'entity', primaryKey: ['id'], columns: { id: 'string', subscribed: 'bool' }, identifiers: { id: 'user_id' } },
      },
    },
  },
  crm: {},
};

function validate(features: Record<string, unknown>, opts: { extra?: ExportedDeclaration[] } = {}) {
  return validateDefinitions(
    [
      { file: 'events.ts', exportName: 'default', value: events_ },
      { file: 'f.ts', exportName: 'default', value: { ...defineFeatures({ owner: 'me', features: {} }), features } },
      ...(opts.extra ?? []),
    ],
    { sources },
  );
}

function issues(features: Record<string, unknown>): Issue[] {
  const r = validate(features);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.issues;
}

const orders = events('Order Completed');

describe('feature declarations', () => {
  it('accepts the demo shop set against the demo sources', () => {
    const r = validateDefinitions(
      [
        { file: 'shop-events.ts', exportName: 'default', value: catalog },
        { file: 'shop.ts', exportName: 'default', value: shop },
      ],
      { sources: SHOP_SOURCES },
    );
    expect(r.ok ? [] : r.issues).toEqual([]);
    if (!r.ok) return;
    // Derived features come after what they read.
    const names = r.set.features.map((f) => f.name);
    expect(names.indexOf('days_since_last_order')).toBeGreaterThan(names.indexOf('last_order_at'));
    expect(r.set.features.find((f) => f.name === 'lifecycle_stage')!.owner).toBe('marketing-ops');
  });

  it('names the file, the feature and the unknown property path, with what is declared', () => {
    expect(issues({ revenue: { description: 'd', type: 'float', from: orders, aggregate: sum('properties.revenu') } })).toEqual([
      {
        file: 'f.ts',
        feature: 'revenue',
        message: "sum(properties.revenu): unknown event property path 'properties.revenu' on 'Order Completed' (declared: category, order_id, revenue); declare it in the event catalogue",
      },
    ]);
  });

  it('rejects an event that is not in the catalogue', () => {
    const [issue] = issues({ n: { description: 'd', type: 'int', from: events('Order Complete'), aggregate: count() } });
    expect(issue!.message).toContain("event 'Order Complete' (track) is not declared in the event catalogue (declared: Order Completed)");
  });

  it('rejects a reference to a missing feature', () => {
    const [issue] = issues({ aov: { description: 'd', type: 'float', derive: div(feature('revenue'), feature('orders')) } });
    expect(issue).toEqual({ file: 'f.ts', feature: 'aov', message: "derive: feature 'revenue' is not declared" });
  });

  it('rejects a cycle between derived features and spells it out', () => {
    const found = issues({
      a: { description: 'd', type: 'int', derive: feature('b') },
      b: { description: 'd', type: 'int', derive: feature('c') },
      c: { description: 'd', type: 'int', derive: feature('a') },
    });
    expect(found.filter((i) => i.message.startsWith('cycle'))).toEqual([{ file: 'f.ts', feature: 'a', message: 'cycle between derived features: a → b → c → a' }]);
  });

  it('rejects type mismatches: aggregation input, declared type, default, expression operands', () => {
    expect(issues({ s: { description: 'd', type: 'float', from: orders, aggregate: sum('properties.category') } })[0]!.message).toBe(
      'sum(properties.category): sum needs a number, got string',
    );
    expect(issues({ s: { description: 'd', type: 'int', from: orders, aggregate: sum('properties.revenue') } })[0]!.message).toBe(
      'type mismatch: sum(properties.revenue) gives float but the feature is declared int',
    );
    expect(issues({ s: { description: 'd', type: 'int', from: orders, aggregate: count(), default: 'none' } })[0]!.message).toBe('type mismatch: default "none" is not of type int');
    expect(issues({ s: { description: 'd', type: 'int', from: orders, aggregate: count(), where: gt(field('properties.category'), 5) } })[0]!.message).toBe(
      'where: cannot compare string with int (in (properties.category > 5))',
    );
    expect(
      issues({
        t: { description: 'd', type: 'string', from: orders, aggregate: mostFrequent('properties.category') },
        x: { description: 'd', type: 'int', derive: daysSince(feature('t')) },
      })[0]!.message,
    ).toBe('derive: daysSince needs a timestamp or date; t is string (in daysSince(t))');
  });

  it('rejects a window on a source without timestamps', () => {
    const [issue] = issues({ s: { description: 'd', type: 'bool', from: cdc('shop', 'public.customers'), aggregate: latest('subscribed'), window: '30d' } });
    expect(issue!.message).toBe(`window '30d' needs a source with timestamps; cdc shop public.customers has no timestamp column (declare "timestamp" for the table in the sources config)`);
  });

  it('rejects unknown sources, columns and shapes', () => {
    expect(issues({ s: { description: 'd', type: 'string', from: crm('hubspot'), aggregate: latest('stage') } })[0]!.message).toBe(
      "CRM source 'hubspot' is not declared in the sources config (declared: none)",
    );
    expect(issues({ s: { description: 'd', type: 'bool', from: cdc('shop', 'public.customers'), aggregate: latest('subscribd') } })[0]!.message).toContain(
      "CDC table shop public.customers has no column 'subscribd' (declared: id, subscribed)",
    );
    const shape = issues({ s: { description: 'd', type: 'int', from: orders, aggregate: count(), windw: '30d', window: '30 days' } });
    expect(shape.map((i) => i.message).sort()).toEqual(['Unrecognized key: "windw"', 'window: must be a number and a unit, e.g. 30d, 12h, 90m, 2w']);
    expect(issues({ Bad: { description: 'd', type: 'int', from: orders, aggregate: count() } })[0]!.message).toContain('names are lower-case letters');
  });

  it('rejects the same name in two files', () => {
    const r = validate(
      { n: { description: 'd', type: 'int', from: orders, aggregate: count() } },
      { extra: [{ file: 'g.ts', exportName: 'default', value: defineFeatures({ owner: 'x', features: { n: { description: 'd', type: 'int', from: orders, aggregate: count() } } }) }] },
    );
    expect(r.ok ? [] : r.issues).toEqual([{ file: 'g.ts', feature: 'n', message: 'the name is already declared in f.ts' }]);
  });
});

describe('loading a definitions directory', () => {
  it('reports a file that cannot be imported by name, and ignores tests', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-features-'));
    try {
      await writeFile(path.join(dir, 'a.ts'), 'export const x = ;\n');
      await writeFile(path.join(dir, 'b.test.ts'), 'throw new Error("never imported");\n');
      await writeFile(path.join(dir, 'c.ts'), 'export default { kind: "tessera.featureSet", owner: "o", features: {} };\n');
      const loaded = await importDefinitionFiles(dir);
      expect(loaded.files.map((f) => path.basename(f))).toEqual(['a.ts', 'c.ts']);
      expect(loaded.issues).toHaveLength(1);
      expect(loaded.issues[0]!.file).toContain('a.ts');
      expect(loaded.issues[0]!.message).toMatch(/^cannot be loaded: /);
      expect(loaded.exported.map((e) => e.exportName)).toEqual(['default']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
