import { describe, it, expect } from 'vitest';
import {
  DEFAULT_START,
  JUNK_EMAILS,
  generatePerson,
  generateShop,
  normaliseEmail,
  shopMessages,
  type PersonData,
  type SegmentMessage,
} from '../../benchmarks/generator/shop.ts';
import { Prng } from '../../benchmarks/generator/prng.ts';
import { validateMessage } from '../../src/ingest/prepare-events.ts';

const DAY_MS = 86_400_000;
const defaults = { seed: 42, start: DEFAULT_START, days: 90 };

function shop(people: number, opts: { seed?: number; firstPerson?: number; start?: Date; days?: number } = {}): PersonData[] {
  return [...generateShop({ people, ...opts })];
}

/** A US phone as written in traits → E.164. */
function e164(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return `+${digits.length === 10 ? `1${digits}` : digits}`;
}

// Shared by the statistical tests below.
const sample = shop(2000);

describe('prng', () => {
  it('is deterministic and in range', () => {
    const a = new Prng(1, 2);
    const b = new Prng(1, 2);
    const c = new Prng(1, 3);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    for (let i = 0; i < 1000; i++) {
      const n = a.int(3, 5);
      expect(n >= 3 && n <= 5 && Number.isInteger(n)).toBe(true);
    }
    expect(a.weighted(['a', 'b'], [1, 0])).toBe('a');
    expect(a.hex(8)).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('shop generator', () => {
  it('is deterministic: same seed, same output; other seed, other output', () => {
    expect(shop(300, { seed: 7 })).toEqual(shop(300, { seed: 7 }));
    const other = shop(300, { seed: 8 });
    expect(JSON.stringify(other)).not.toEqual(JSON.stringify(shop(300, { seed: 7 })));
    expect(shop(300)).toEqual(shop(300, { seed: 42 }));
  });

  it('generates each person independently of the others', () => {
    const people = sample.slice(0, 200);
    for (let i = people.length - 1; i >= 0; i -= 7) expect(generatePerson(i, defaults)).toEqual(people[i]);
    expect(people.map((p) => p.truth.person)).toEqual(people.map((_, i) => i));
  });

  it('firstPerson offsets the range', () => {
    const tail = shop(50, { firstPerson: 150 });
    expect(tail.map((p) => p.truth.person)).toEqual(Array.from({ length: 50 }, (_, i) => 150 + i));
    expect(tail).toEqual(sample.slice(150, 200));
    expect([...shopMessages({ people: 50, firstPerson: 150 })]).toEqual(tail.flatMap((p) => p.messages));
  });

  it('produces valid Segment messages with unique ids', () => {
    const ids = new Set<string>();
    let count = 0;
    for (const { messages } of sample.slice(0, 1000)) {
      for (const m of messages) {
        count++;
        ids.add(m.messageId);
        if (m.type === 'alias') {
          expect(m.previousId).toBeTruthy();
          expect(m.userId).toBeTruthy();
        } else {
          expect(Boolean(m.userId || m.anonymousId)).toBe(true);
        }
        if (m.type === 'track') expect(m.event).toBeTruthy();
        if (m.type === 'identify') expect(m.traits).toBeTypeOf('object');
        const checked = validateMessage(JSON.parse(JSON.stringify(m)));
        if (!checked.ok) throw new Error(`${checked.rejection.message}: ${JSON.stringify(m)}`);
      }
    }
    expect(ids.size).toBe(count);
    const types = new Set(sample.flatMap((p) => p.messages.map((m) => m.type)));
    expect([...types].sort()).toEqual(['alias', 'identify', 'page', 'screen', 'track']);
  });

  it('keeps timestamps in the window and sorted per person', () => {
    const check = (people: PersonData[], start: Date, days: number) => {
      const lo = start.getTime();
      const hi = lo + days * DAY_MS;
      for (const { messages } of people) {
        let prev = -Infinity;
        for (const m of messages) {
          expect(m.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
          const t = Date.parse(m.timestamp);
          expect(t >= lo && t < hi).toBe(true);
          expect(t >= prev).toBe(true);
          prev = t;
        }
      }
    };
    check(sample, DEFAULT_START, 90);
    const start = new Date('2025-06-01T00:00:00Z');
    check(shop(300, { start, days: 3 }), start, 3);
  });

  it('averages about 10 messages per person', () => {
    const total = sample.reduce((n, p) => n + p.messages.length, 0);
    const average = total / sample.length;
    expect(average).toBeGreaterThan(6);
    expect(average).toBeLessThan(15);
  });

  it('signs up about 60% of people', () => {
    const share = sample.filter((p) => p.truth.userId).length / sample.length;
    expect(share).toBeGreaterThan(0.55);
    expect(share).toBeLessThan(0.66);
  });

  it('puts shared devices in both persons’ truth', () => {
    const byPerson = new Map(sample.map((p) => [p.truth.person, p]));
    let pairs = 0;
    for (const { truth, messages } of sample) {
      const i = truth.deviceIds.findIndex((d) => d.startsWith('dev-shared-'));
      if (i < 0) continue;
      const k = Number(truth.deviceIds[i]!.slice('dev-shared-'.length));
      expect(Math.floor(truth.person / 2)).toBe(k);
      const partner = byPerson.get(truth.person ^ 1)!;
      expect(partner.truth.deviceIds).toContain(truth.deviceIds[i]);
      expect(partner.truth.anonymousIds).toContain(truth.anonymousIds[i]);
      expect(truth.userId).toBeDefined();
      expect(partner.truth.userId).not.toBe(truth.userId);
      // Each logs in there with their own userId.
      const logins = messages.filter((m) => m.anonymousId === truth.anonymousIds[i] && (m.type === 'identify' || m.type === 'alias'));
      expect(logins.length).toBeGreaterThan(0);
      for (const m of logins) expect(m.userId).toBe(truth.userId);
      pairs++;
    }
    // ≈2% of 1000 pairs, counted from both sides.
    expect(pairs).toBeGreaterThanOrEqual(8);
    expect(pairs).toBeLessThanOrEqual(80);
  });

  it('truth matches the identifiers in the messages', () => {
    for (const { truth, messages } of sample) {
      const emails = new Set<string>();
      const phones = new Set<string>();
      const anonymousIds = new Set<string>();
      const deviceIds = new Set<string>();
      const userIds = new Set<string>();
      for (const m of messages) {
        if (m.anonymousId) anonymousIds.add(m.anonymousId);
        if (m.previousId) anonymousIds.add(m.previousId);
        if (m.userId) userIds.add(m.userId);
        const device = (m.context?.device as { id?: string } | undefined)?.id;
        if (device) deviceIds.add(device);
        const email = m.traits?.email;
        if (typeof email === 'string' && !JUNK_EMAILS.includes(email)) emails.add(normaliseEmail(email));
        const phone = m.traits?.phone;
        if (typeof phone === 'string') phones.add(e164(phone));
      }
      expect([...userIds]).toEqual(truth.userId ? [truth.userId] : []);
      expect([...emails].sort()).toEqual([...truth.emails].sort());
      expect([...phones].sort()).toEqual([...truth.phones].sort());
      expect([...anonymousIds].sort()).toEqual([...truth.anonymousIds].sort());
      expect([...deviceIds].sort()).toEqual([...truth.deviceIds].sort());
      expect(truth.anonymousIds.length).toBe(truth.deviceIds.length);
      if (!truth.userId) expect(truth.deviceIds.length).toBe(1);
      else expect(truth.deviceIds.filter((d) => !d.startsWith('dev-shared-')).length).toBeLessThanOrEqual(3);
      for (const e of truth.emails) expect(e).toBe(normaliseEmail(e));
      for (const p of truth.phones) expect(p).toMatch(/^\+1[2-9]\d{2}[2-9]\d{6}$/);
    }
  });

  it('never gives two people the same identifier, except shared devices', () => {
    const owner = new Map<string, number>();
    for (const { truth } of sample) {
      const ids = [truth.userId ?? '', ...truth.emails, ...truth.phones, ...truth.anonymousIds, ...truth.deviceIds];
      for (const id of ids) {
        if (!id || id.includes('-shared-')) continue;
        expect(owner.get(id) ?? truth.person).toBe(truth.person);
        owner.set(id, truth.person);
      }
    }
  });

  it('writes the same email and phone differently across calls, with a little junk', () => {
    const identifies: SegmentMessage[] = shop(20_000, { seed: 3 }).flatMap((p) => p.messages.filter((m) => m.type === 'identify'));
    const emails = identifies.map((m) => m.traits?.email).filter((e): e is string => typeof e === 'string');
    const junk = emails.filter((e) => JUNK_EMAILS.includes(e)).length / identifies.length;
    expect(junk).toBeGreaterThan(0);
    expect(junk).toBeLessThan(0.015);
    expect(emails.some((e) => e !== e.trim())).toBe(true);
    expect(emails.some((e) => e.trim() !== e.trim().toLowerCase())).toBe(true);
    const phones = identifies.map((m) => m.traits?.phone).filter((p): p is string => typeof p === 'string');
    expect(phones.some((p) => /^\(\d{3}\) \d{3}-\d{4}$/.test(p))).toBe(true);
    expect(phones.some((p) => /^\+1 \d{3} \d{3} \d{4}$/.test(p))).toBe(true);
    expect(phones.some((p) => /^\d{3}\.\d{3}\.\d{4}$/.test(p))).toBe(true);
    expect(phones.some((p) => /^1\d{10}$/.test(p))).toBe(true);
  });
});
