import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { copyBlocks, copyText, CopyWriter } from '../../identity/copy-text.ts';
import { arrayRows } from '../../identity/resolution-diff.ts';
import { parseIdentityConfig } from '../../identity/identity-config.ts';
import { ResolverEngine } from '../../identity/resolver-engine.ts';

/** The plain-string spelling of a field (what the writer must produce, as UTF-8). */
const escaped = (v: string) => v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
const text = (block: Buffer) => block.toString('utf8');

describe('copy text', () => {
  it('escapes backslash, tab, newline and carriage return, and writes numbers as String does', () => {
    const w = new CopyWriter();
    w.text('plain é ✓ 𝄞').text('a\\b\tc\nd\re').number(1767225600000).number(-12).number(0).number(1.5).endRow();
    w.text('').endRow();
    w.text('\ud800x').endRow();
    expect(text(w.take())).toBe('plain é ✓ 𝄞\ta\\\\b\\tc\\nd\\re\t1767225600000\t-12\t0\t1.5\n\n\ufffdx\n');
  });

  it('encodes any string as Buffer.from does, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' })), fc.array(fc.oneof(fc.integer(), fc.double())), (values, numbers) => {
        const w = new CopyWriter(8); // grows
        for (const v of values) w.text(v);
        for (const n of numbers) w.number(n);
        w.endRow();
        expect(w.take().equals(Buffer.from([...values.map(escaped), ...numbers.map(String)].join('\t') + '\n'))).toBe(true);
      }),
    );
  });

  it('writes every row once, in order, whatever the block size', () => {
    fc.assert(
      fc.property(fc.array(fc.string()), fc.integer({ min: 1, max: 64 }), (values, blockBytes) => {
        const blocks = [...copyBlocks(arrayRows(values), (w, v, i) => w.number(i).text(v), blockBytes)];
        expect(blocks.every((b) => b.length > 0)).toBe(true);
        expect(text(Buffer.concat(blocks))).toBe(values.map((v, i) => `${i}\t${escaped(v)}\n`).join(''));
        expect(text(copyText(arrayRows(values), 1, values.length, (w, v, i) => w.number(i).text(v)))).toBe(
          values.slice(1).map((v, i) => `${i + 1}\t${escaped(v)}\n`).join(''),
        );
      }),
    );
  });
});

describe('engine graph rows', () => {
  it('read in place, give the rows of the diff', () => {
    const engine = new ResolverEngine(parseIdentityConfig({}), null);
    const ids = (...pairs: [string, string][]) => pairs.map(([type, value]) => ({ type, value }));
    engine.applyRecord({ recordId: 'r1', source: 'events', timestamp: 1, identifiers: ids(['user_id', 'u1'], ['email', 'A@x.com'], ['anonymous_id', 'a1']) });
    engine.applyRecord({ recordId: 'r2', source: 'crm', timestamp: 2, identifiers: ids(['anonymous_id', 'a2'], ['email', 'a@x.com']) });
    engine.applyRecord({ recordId: 'r3', source: 'events', timestamp: 3, identifiers: ids(['user_id', 'u2'], ['anonymous_id', 'a2']) });
    const diff = engine.diff();
    const graph = engine.graph();
    const read = <T>(rows: { length: number; scratch(): T; at(i: number, row: T): T }) => {
      const scratch = rows.scratch();
      return Array.from({ length: rows.length }, (_, i) => ({ ...rows.at(i, scratch) }));
    };
    expect(diff.identifiers.length).toBe(5);
    expect(read(graph.identifiers)).toEqual(diff.identifiers);
    expect(read(graph.edges)).toEqual(diff.edges);
    expect({ ...graph, identifiers: diff.identifiers, edges: diff.edges }).toEqual(diff);
  });
});
