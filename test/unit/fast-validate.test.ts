import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fastValidate } from '../../src/ingest/fast-validate.ts';
import { jsonBytesAtMost } from '../../src/ingest/json-size.ts';
import { MESSAGE_TYPES, messageSchemas, type MessageType } from '../../src/ingest/segment-schemas.ts';
import { shopMessages } from '../../benchmarks/generator/shop.ts';

/** What the zod schema makes of a message (the rules), or undefined when it rejects it. */
function zodResult(raw: unknown): Record<string, unknown> | undefined {
  const type = (raw as { type?: unknown } | null)?.type;
  if (!MESSAGE_TYPES.includes(type as MessageType)) return undefined;
  const parsed = messageSchemas[type as MessageType].safeParse(raw);
  return parsed.success ? (parsed.data as Record<string, unknown>) : undefined;
}

/** Same fields, and each stores the same JSON (key order included). */
function expectSameMessage(fast: Record<string, unknown>, zod: Record<string, unknown>): void {
  expect(fast).toEqual(zod);
  for (const key of Object.keys(zod)) expect(JSON.stringify(fast[key])).toBe(JSON.stringify(zod[key]));
}

const protoKey = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown;
const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
const oddValues = fc.constantFrom<unknown>(null, true, 0, -0, Number.NaN, Number.POSITIVE_INFINITY, [], ['a'], '', '  ', new Date(0), protoKey, nullProto);
const text = fc.oneof(fc.string(), fc.constantFrom('  padded  ', 'x'.repeat(200), ` ${'x'.repeat(200)} `, 'x'.repeat(201), 'y'.repeat(1000), 'y'.repeat(1001)));
const ids = fc.oneof(text, fc.integer(), fc.double(), oddValues);
const timestamps = fc.oneof(
  fc.date({ noInvalidDate: true, min: new Date('1900-01-01'), max: new Date('2200-01-01') }).map((d) => d.toISOString()),
  fc.constantFrom('2026-03-01', '2026-03-01 10:00', '2026-03-01T10:00:00+02:00', '2026-03-01T10:00:00.1234+0200', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '03/01/2026', 'now'),
  fc.integer(),
  oddValues,
);
const records = fc.oneof(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), fc.constant({}), oddValues);

/** Messages with every field absent, well formed or malformed, of every type and a few others. */
const messages = fc.record(
  {
    type: fc.constantFrom<unknown>(...MESSAGE_TYPES, 'purchase', 1, undefined),
    messageId: fc.oneof(text, oddValues),
    userId: ids,
    anonymousId: ids,
    previousId: ids,
    groupId: ids,
    event: fc.oneof(text, oddValues),
    name: fc.oneof(text, oddValues),
    category: fc.oneof(text, oddValues),
    timestamp: timestamps,
    originalTimestamp: timestamps,
    sentAt: timestamps,
    traits: records,
    properties: records,
    context: records,
    integrations: records,
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

/**
 * Messages whose every field is well formed (valid ids, ISO times, plain objects), so that about
 * half the runs reach the accepting paths: the fully random ones above rarely do.
 */
const isoTime = fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2100-01-01') }).map((d) => d.toISOString());
const plain = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 });
const name = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0);
const wellFormed = fc.record(
  {
    type: fc.constantFrom(...MESSAGE_TYPES),
    messageId: name,
    userId: fc.oneof(name, fc.integer()),
    anonymousId: name,
    previousId: name,
    groupId: name,
    event: name,
    name: fc.string(),
    category: fc.string(),
    timestamp: isoTime,
    originalTimestamp: isoTime,
    sentAt: isoTime,
    traits: plain,
    properties: plain,
    context: plain,
    integrations: plain,
  },
  { requiredKeys: ['type', 'userId', 'event', 'previousId', 'groupId'] },
);

describe('fastValidate', () => {
  it('accepts only what the zod schemas accept, and then gives the same message', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(messages, wellFormed), (raw) => {
        const fast = fastValidate(raw);
        const zod = zodResult(raw);
        if (fast === undefined) return;
        accepted++;
        expect(zod).toBeDefined();
        expectSameMessage(fast as Record<string, unknown>, zod!);
      }),
      { numRuns: 20_000 },
    );
    // The generators reach the accepting paths, not only the fallback.
    expect(accepted).toBeGreaterThan(2_000);
  });

  it('takes every well-formed shop event (the common case) itself', () => {
    let n = 0;
    for (const m of shopMessages({ people: 200, seed: 3 })) {
      const raw = JSON.parse(JSON.stringify(m)) as unknown;
      const fast = fastValidate(raw);
      expect(fast).toBeDefined();
      expectSameMessage(fast as Record<string, unknown>, zodResult(raw)!);
      n++;
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('leaves invalid messages to the schemas', () => {
    for (const raw of [
      { type: 'track', userId: 'u' },
      { type: 'track', userId: ' ', event: 'E' },
      { type: 'identify', traits: {} },
      { type: 'alias', userId: 'u' },
      { type: 'alias', userId: '', previousId: 'p' },
      { type: 'group', userId: 'u', groupId: ' ' },
      { type: 'page', anonymousId: 'a', timestamp: '03/01/2026' },
      { type: 'track', userId: 'u', event: 'E', properties: [] },
      { type: 'purchase', userId: 'u' },
      'just a string',
    ]) {
      expect(fastValidate(raw)).toBeUndefined();
      expect(zodResult(raw)).toBeUndefined();
    }
  });
});

describe('jsonBytesAtMost', () => {
  const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? 'null');

  it('never under-counts the UTF-8 bytes of JSON.stringify', () => {
    const strings = fc.string({ unit: fc.constantFrom('binary', 'grapheme', 'binary-ascii') as fc.Arbitrary<'binary'> });
    const values = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, strings, fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value')), fc.dictionary(strings, tie('value'))),
    })).value;
    fc.assert(
      fc.property(values, (v) => {
        expect(jsonBytesAtMost(v, Number.POSITIVE_INFINITY)).toBeGreaterThanOrEqual(bytes(v));
      }),
      { numRuns: 5_000 },
    );
  });

  it('bounds the longest numbers JSON.stringify writes', () => {
    // Found by the property above: magnitudes between 1e-7 and 1e-6 print in decimal, 25 bytes.
    for (const n of [-0.0000010001588971118031, -0.0000012345678901234567, -1.7976931348623157e308, -2.2250738585072014e-308, -123456789012345680000]) {
      expect(jsonBytesAtMost(n, Number.POSITIVE_INFINITY)).toBeGreaterThanOrEqual(bytes(n));
    }
  });

  it('cannot bound what JSON.stringify may call or nest too deeply, so asks for a measurement', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    for (const v of [{ toJSON: () => 'x'.repeat(100) }, new Date(0), deep, 10n]) expect(jsonBytesAtMost(v, 1000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('stops counting past the limit', () => {
    expect(jsonBytesAtMost({ a: 'x'.repeat(100), b: 'y'.repeat(10_000) }, 500)).toBeGreaterThan(500);
  });
});
