import { describe, expect, it } from 'vitest';
import { parseEntityRows, toCsv } from '../../features/entity-rows.ts';
import { parseIdentityConfig } from '../../identity/identity-config.ts';

const identity = parseIdentityConfig({});

describe('training-set entity rows', () => {
  it('reads CSV with an identifier column or type and value columns, normalising identifiers', () => {
    expect(parseEntityRows('identifier,timestamp,label\nemail: Alice@Example.com ,2026-02-01T00:00:00Z,1\n"user_id:u-1",2026-02-02,0\n', identity)).toEqual([
      { identifier: 'email: Alice@Example.com', type: 'email', value: 'alice@example.com', timestampMs: Date.parse('2026-02-01T00:00:00Z') },
      { identifier: 'user_id:u-1', type: 'user_id', value: 'u-1', timestampMs: Date.parse('2026-02-02') },
    ]);
    expect(parseEntityRows('type,value,timestamp\nphone,(415) 555-0100,2026-02-01T00:00:00Z', identity)[0]!.value).toBe('+14155550100');
  });

  it('reads JSON arrays and { rows }', () => {
    const rows = [{ identifier: 'user_id:u-1', timestamp: 1767225600000 }, { type: 'email', value: 'B@x.io', timestamp: '2026-01-01T00:00:00Z' }];
    expect(parseEntityRows(JSON.stringify(rows), identity).map((r) => [r.type, r.value, r.timestampMs])).toEqual([
      ['user_id', 'u-1', 1767225600000],
      ['email', 'b@x.io', 1767225600000],
    ]);
    expect(parseEntityRows({ rows }, identity)).toHaveLength(2);
  });

  it('reports bad rows by position', () => {
    expect(() => parseEntityRows('identifier,timestamp\nuser_id:u-1,yesterday', identity)).toThrow("line 2: timestamp 'yesterday' is not a time");
    expect(() => parseEntityRows('identifier,timestamp\nemail:nope,2026-01-01', identity)).toThrow("line 2: email 'nope' is not a valid identifier (invalid_email)");
    expect(() => parseEntityRows([{ identifier: 'u-1', timestamp: 1 }], identity)).toThrow("row 0: 'u-1' is not an identifier");
    expect(() => parseEntityRows('user,when\nx,y', identity)).toThrow('The CSV header needs');
    expect(() => parseEntityRows('[]', identity)).toThrow('No entity rows');
  });

  it('writes CSV with quoting', () => {
    expect(toCsv(['a', 'b'], [{ a: 'x,y', b: null }, { a: 'q"', b: 2 }])).toBe('a,b\n"x,y",\n"q""",2\n');
  });
});
