import { describe, it, expect } from 'vitest';
import { IdentityConfigError, parseIdentityConfig, ruleForType } from '../../identity/identity-config.ts';
import { normaliseIdentifier } from '../../identity/normalise.ts';
import { prepareRecord } from '../../identity/prepare-record.ts';
import { normaliseOverrides } from '../../identity/overrides.ts';
import fc from 'fast-check';
import { eventExtractor, extractFromEvent, extractFromEventFields, mappedExtractor, parseTimestamp, type EventIdentityRow } from '../../identity/extract.ts';

const config = parseIdentityConfig({});

function norm(type: string, raw: unknown) {
  return normaliseIdentifier(type, raw, config);
}

describe('identity config', () => {
  it('has documented defaults', () => {
    expect(config.identifierTypes.user_id).toEqual({ priority: 1, limit: 1, normalise: 'trim' });
    expect(config.identifierTypes.email).toEqual({ priority: 2, limit: 3, normalise: 'email' });
    expect(config.identifierTypes.phone).toEqual({ priority: 3, limit: 3, normalise: 'phone' });
    expect(config.identifierTypes.device_id).toEqual({ priority: 4, limit: null, normalise: 'trim' });
    expect(config.identifierTypes.anonymous_id).toEqual({ priority: 5, limit: null, normalise: 'trim' });
    expect(config.defaultRegion).toBe('US');
    expect(config.blocklist.exact).toContain('test@test.com');
    expect(ruleForType(config, 'braze_id')).toEqual({ priority: 50, limit: null, normalise: 'trim' });
  });

  it('merges partial overrides of built-in types and adds new ones', () => {
    const c = parseIdentityConfig({
      identifierTypes: { email: { limit: 5 }, crm_id: { priority: 2, limit: 1, normalise: 'lower' } },
      externalIdTypes: { accept: ['ga_client_id'] },
      defaultRegion: 'GB',
    });
    expect(c.identifierTypes.email).toEqual({ priority: 2, limit: 5, normalise: 'email' });
    expect(c.identifierTypes.crm_id).toEqual({ priority: 2, limit: 1, normalise: 'lower' });
    expect(ruleForType(c, 'ga_client_id')?.priority).toBe(50);
    expect(ruleForType(c, 'braze_id')).toBeUndefined();
    expect(normaliseIdentifier('phone', '020 7946 0958', c)).toEqual({ ok: true, value: '+442079460958' });
  });

  it('rejects invalid configs with the field in the message', () => {
    const bad = (input: unknown) => {
      try {
        parseIdentityConfig(input);
      } catch (err) {
        expect(err).toBeInstanceOf(IdentityConfigError);
        return (err as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(bad({ identifierTypes: { email: { limit: 0 } } })).toContain('identifierTypes.email.limit');
    expect(bad({ identifierTypes: { email: { priority: 'high' } } })).toContain('identifierTypes.email.priority');
    expect(bad({ blocklist: { patterns: ['ok', '(unclosed'] } })).toContain('blocklist.patterns.1');
    expect(bad({ defaultRegion: 'XX' })).toContain('defaultRegion');
    expect(bad({ identifierTypes: { 'bad:type': {} } })).toContain('identifierTypes');
    expect(bad({ nonsense: true })).toContain('nonsense');
  });
});

describe('normaliseIdentifier', () => {
  it('trims and lower-cases emails', () => {
    expect(norm('email', 'Alice@Example.com ')).toEqual(norm('email', 'alice@example.com'));
    expect(norm('email', 'Alice@Example.com ')).toEqual({ ok: true, value: 'alice@example.com' });
  });

  it('writes US phones in E.164 whatever the format', () => {
    for (const raw of ['+1 (415) 555-0100', '415-555-0100', '14155550100', '(415) 555-0100', '415.555.0100']) {
      expect(norm('phone', raw)).toEqual({ ok: true, value: '+14155550100' });
    }
    expect(norm('phone', 4155550100)).toEqual({ ok: true, value: '+14155550100' });
  });

  it('rejects invalid emails and phones with a reason', () => {
    expect(norm('email', 'not-an-email')).toEqual({ ok: false, reason: 'invalid_email' });
    expect(norm('email', 'a b@c.com')).toEqual({ ok: false, reason: 'invalid_email' });
    expect(norm('email', 'a@localhost')).toEqual({ ok: false, reason: 'invalid_email' });
    expect(norm('phone', '12')).toEqual({ ok: false, reason: 'invalid_phone' });
    expect(norm('phone', 'call me')).toEqual({ ok: false, reason: 'invalid_phone' });
  });

  it('blocks exact values (any case) and patterns', () => {
    for (const raw of ['null', 'NULL', 'undefined', '0', 'anonymous', 'none', 'n/a', 'unknown', '[object Object]']) {
      expect(norm('user_id', raw)).toEqual({ ok: false, reason: 'blocklisted' });
    }
    expect(norm('email', ' Test@Test.com')).toEqual({ ok: false, reason: 'blocklisted' });
    expect(norm('anonymous_id', '0000')).toEqual({ ok: false, reason: 'blocklisted' });
    expect(norm('email', 'example@gmail.com')).toEqual({ ok: false, reason: 'blocklisted' });
    expect(norm('email', 'test@company.com')).toEqual({ ok: false, reason: 'blocklisted' });
    const custom = parseIdentityConfig({ blocklist: { exact: ['guest'], patterns: ['^tmp-'] } });
    expect(normaliseIdentifier('user_id', 'Guest', custom)).toEqual({ ok: false, reason: 'blocklisted' });
    expect(normaliseIdentifier('user_id', 'tmp-123', custom)).toEqual({ ok: false, reason: 'blocklisted' });
    expect(normaliseIdentifier('user_id', 'null', custom)).toEqual({ ok: true, value: 'null' });
  });

  it('coerces numbers, rejects other non-strings, empty and unknown types', () => {
    expect(norm('user_id', 42)).toEqual({ ok: true, value: '42' });
    expect(norm('user_id', ' u-1 ')).toEqual({ ok: true, value: 'u-1' });
    expect(norm('user_id', { id: 1 })).toEqual({ ok: false, reason: 'not_a_string' });
    expect(norm('user_id', true)).toEqual({ ok: false, reason: 'not_a_string' });
    expect(norm('user_id', '   ')).toEqual({ ok: false, reason: 'empty' });
    expect(norm('user_id', 'x'.repeat(600))).toEqual({ ok: false, reason: 'too_long' });
    const closed = parseIdentityConfig({ externalIdTypes: { accept: [] } });
    expect(normaliseIdentifier('braze_id', 'b1', closed)).toEqual({ ok: false, reason: 'unknown_type' });
  });
});

describe('extraction and preparation', () => {
  const row = (over: Partial<EventIdentityRow>): EventIdentityRow => ({
    message_id: 'm1',
    type: 'identify',
    user_id: '',
    anonymous_id: '',
    previous_id: '',
    timestamp: '2026-01-02 03:04:05.678',
    traits: '{}',
    context: '{}',
    ...over,
  });

  it('parses ClickHouse and ISO timestamps', () => {
    expect(parseTimestamp('2026-01-02 03:04:05.678')).toBe(Date.parse('2026-01-02T03:04:05.678Z'));
    expect(parseTimestamp('2026-01-02 03:04:05')).toBe(Date.parse('2026-01-02T03:04:05Z'));
    expect(parseTimestamp('2026-01-02T03:04:05.678Z')).toBe(Date.parse('2026-01-02T03:04:05.678Z'));
    expect(Number.isNaN(parseTimestamp('yesterday'))).toBe(true);
    expect(() => extractFromEvent(row({ timestamp: 'yesterday' }))).toThrow(/unreadable timestamp/);
  });

  it('pulls every identifier of an event row', () => {
    const record = extractFromEvent(
      row({
        user_id: 'u-1',
        anonymous_id: 'anon-1',
        traits: JSON.stringify({ email: ' Alice@Example.com', phone: '415-555-0100', name: 'Alice' }),
        context: JSON.stringify({
          traits: { email: 'alice@work.com', phone: null },
          device: { id: 'dev-1', type: 'ios' },
          externalIds: [{ id: 'b-9', type: 'braze_id', collection: 'users' }, { id: 7, type: 'crm_id' }, { nope: 1 }],
        }),
      }),
    );
    expect(record).toMatchObject({ recordId: 'm1', source: 'events', timestamp: Date.parse('2026-01-02T03:04:05.678Z') });
    expect(record.identifiers).toEqual([
      { type: 'user_id', value: 'u-1' },
      { type: 'anonymous_id', value: 'anon-1' },
      { type: 'email', value: ' Alice@Example.com' },
      { type: 'phone', value: '415-555-0100' },
      { type: 'email', value: 'alice@work.com' },
      { type: 'device_id', value: 'dev-1' },
      { type: 'braze_id', value: 'b-9' },
      { type: 'crm_id', value: 7 },
    ]);
    const prepared = prepareRecord(record, config);
    expect(prepared.rejected).toEqual([]);
    expect(prepared.identifiers.map((i) => i.key)).toEqual([
      'user_id:u-1',
      'email:alice@example.com',
      'email:alice@work.com',
      'phone:+14155550100',
      'device_id:dev-1',
      'anonymous_id:anon-1',
      'braze_id:b-9',
      'crm_id:7',
    ]);
  });

  it('extracts the same identifiers from ClickHouse-cut fields as from the whole documents', () => {
    // The raw JSON of a value as ClickHouse's JSONExtractRaw cuts it out of a JSON.stringify'd document;
    // sometimes text no JSON parser reads (a raw control character), which loses its whole document.
    const unreadable = '"bad\u0001value"';
    const value = fc.oneof(
      fc.constantFrom(undefined, null, true, 0, 12, -1.5, 1e21, '', ' ', 'null', 'a@b.co', 'é\u00e9', 'tab\there', 'q"uote', 'back\\slash', '\u2028'),
      fc.string(),
      fc.array(fc.oneof(fc.record({ id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), type: fc.oneof(fc.constantFrom('crm_id', 'braze_id'), fc.integer()) }), fc.string()), { maxLength: 3 }),
      fc.record({ id: fc.string() }),
    );
    const raw = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
    const field = fc.oneof({ weight: 9, arbitrary: value.map(raw) }, { weight: 1, arbitrary: fc.constant(unreadable) });
    const doc = (fields: Record<string, string>) => `{${Object.entries(fields).filter(([, r]) => r !== '').map(([k, r]) => `"${k}":${r}`).join(',')}}`;
    fc.assert(
      fc.property(
        fc.record({ user: fc.constantFrom('', 'u-1', ' u 2 '), anon: fc.constantFrom('', 'anon-1'), prev: fc.constantFrom('', 'anon-0') }),
        fc.array(field, { minLength: 6, maxLength: 6 }),
        ({ user, anon, prev }, [te, tp, ce, cp, dev, ext]) => {
          const whole = extractFromEvent(
            row({
              user_id: user,
              anonymous_id: anon,
              previous_id: prev,
              timestamp: 1_000,
              traits: doc({ email: te!, phone: tp! }),
              context: `{"traits":${doc({ email: ce!, phone: cp! })},"device":${doc({ id: dev! })}${ext ? `,"externalIds":${ext}` : ''}}`,
            }),
          );
          const cut = extractFromEventFields({
            message_id: 'm1',
            timestamp: 1_000,
            user_id: user,
            anonymous_id: anon,
            previous_id: prev,
            traitsEmail: te!,
            traitsPhone: tp!,
            contextEmail: ce!,
            contextPhone: cp!,
            deviceId: dev!,
            externalIds: ext!,
          });
          expect(cut).toEqual(whole);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('links an alias previousId as an anonymous id (configurable)', () => {
    const alias = row({ type: 'alias', user_id: 'u-1', previous_id: 'anon-0' });
    expect(extractFromEvent(alias).identifiers).toEqual([
      { type: 'user_id', value: 'u-1' },
      { type: 'anonymous_id', value: 'anon-0' },
    ]);
    expect(eventExtractor({ previousIdType: 'user_id', source: 'segment' })(alias)).toMatchObject({
      source: 'segment',
      identifiers: [
        { type: 'user_id', value: 'u-1' },
        { type: 'user_id', value: 'anon-0' },
      ],
    });
  });

  it('deduplicates, sorts by priority and reports rejections', () => {
    const prepared = prepareRecord(
      {
        identifiers: [
          { type: 'anonymous_id', value: 'a1' },
          { type: 'email', value: 'A@B.co' },
          { type: 'email', value: 'a@b.co ' },
          { type: 'email', value: 'null' },
          { type: 'phone', value: '12' },
          { type: 'user_id', value: 'u1' },
        ],
      },
      config,
    );
    expect(prepared.identifiers.map((i) => i.key)).toEqual(['user_id:u1', 'email:a@b.co', 'anonymous_id:a1']);
    expect(prepared.rejected).toEqual([
      { type: 'email', raw: 'null', reason: 'invalid_email' },
      { type: 'phone', raw: '12', reason: 'invalid_phone' },
    ]);
  });

  it('maps flat rows (CDC, CRM) with mappedExtractor', () => {
    const extract = mappedExtractor<{ id: number; email: string | null; updated_at: string }>({
      source: 'cdc:public.users',
      recordId: (r) => `users:${r.id}:${r.updated_at}`,
      timestamp: (r) => Date.parse(r.updated_at),
      fields: { id: 'user_id', email: 'email' },
    });
    expect(extract({ id: 5, email: null, updated_at: '2026-01-01T00:00:00Z' })).toEqual({
      recordId: 'users:5:2026-01-01T00:00:00Z',
      source: 'cdc:public.users',
      timestamp: Date.parse('2026-01-01T00:00:00Z'),
      identifiers: [{ type: 'user_id', value: 5 }],
    });
  });
});

describe('override keys', () => {
  it('are normalised like record identifiers', () => {
    const { overrides, errors } = normaliseOverrides(
      { links: [{ a: 'email: Alice@X.com', b: 'phone:(415) 555-0100' }], unlinks: [{ a: 'user_id:u1', b: 'email:null' }], tombstones: ['nokey', 'email:BOB@x.com'] },
      config,
    );
    expect(overrides).toEqual({ links: [{ a: 'email:alice@x.com', b: 'phone:+14155550100' }], unlinks: [], tombstones: ['email:bob@x.com'] });
    expect(errors).toEqual([
      { key: 'email:null', reason: 'invalid_email' },
      { key: 'nokey', reason: 'not_a_key' },
    ]);
  });
});
