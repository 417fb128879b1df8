import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, prepareEvents, validateMessage } from '../../src/ingest/prepare-events.ts';
import { correctTimestamp } from '../../src/ingest/clock-skew.ts';

const ctx = { receivedAt: Date.parse('2026-03-01T12:00:00.000Z'), source: 'api', writeKeyId: 'k1' };

describe('correctTimestamp', () => {
  it('moves the event by the device clock error measured between the call and the upload', () => {
    const received = 1_000_000;
    // Device clock 1 h fast: call at device time T, upload 5 s later on the same clock.
    const deviceCall = received + 3_600_000 - 5_000;
    const deviceSent = received + 3_600_000;
    expect(correctTimestamp(received, deviceCall, deviceSent)).toBe(received - 5_000);
  });
  it('keeps the client timestamp without sentAt and uses the receive time without either', () => {
    expect(correctTimestamp(10, 3)).toBe(3);
    expect(correctTimestamp(10)).toBe(10);
  });
});

describe('validateMessage', () => {
  it.each([
    [{ type: 'track', userId: 'u' }, 'invalid_event', 'event'],
    [{ type: 'identify', traits: {} }, 'invalid_event', 'userId or anonymousId is required'],
    [{ type: 'alias', userId: 'u' }, 'invalid_event', 'previousId'],
    [{ type: 'group', userId: 'u' }, 'invalid_event', 'groupId'],
    [{ type: 'page', anonymousId: 'a', timestamp: '03/01/2026' }, 'invalid_event', 'timestamp: must be an ISO-8601 timestamp'],
    [{ type: 'track', userId: 'u', event: 'E', properties: [] }, 'invalid_event', 'properties'],
    [{ type: 'purchase', userId: 'u' }, 'unknown_type', 'type must be one of'],
    ['just a string', 'invalid_event', 'JSON object'],
  ])('rejects %j with %s naming the field', (raw, code, text) => {
    const result = validateMessage(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.rejection.code).toBe(code);
      expect(result.rejection.message).toContain(text);
    }
  });

  it('accepts numeric ids as strings, as Segment does', () => {
    const result = validateMessage({ type: 'identify', userId: 42 });
    expect(result.ok && result.message.userId).toBe('42');
  });
});

describe('prepareEvents', () => {
  it('maps each call type to typed columns with JSON payloads', () => {
    const { rows, rejections } = prepareEvents(
      [
        { type: 'track', userId: 'u1', event: 'Order Completed', properties: { revenue: 9.5 }, messageId: 'm1', timestamp: '2026-03-01T11:00:00Z' },
        { type: 'page', anonymousId: 'a1', name: 'Home', category: 'Shop', properties: { path: '/' }, messageId: 'm2' },
        { type: 'alias', previousId: 'a1', userId: 'u1', messageId: 'm3' },
      ],
      ctx,
    );
    expect(rejections).toEqual([]);
    expect(rows[0]).toMatchObject({ message_id: 'm1', type: 'track', event: 'Order Completed', user_id: 'u1', properties: '{"revenue":9.5}' });
    expect(rows[0]!.timestamp).toBe(Date.parse('2026-03-01T11:00:00Z'));
    expect(rows[1]).toMatchObject({ type: 'page', name: 'Home', anonymous_id: 'a1', properties: '{"category":"Shop","path":"/"}' });
    expect(rows[1]!.timestamp).toBe(ctx.receivedAt);
    expect(rows[2]).toMatchObject({ type: 'alias', previous_id: 'a1', user_id: 'u1' });
  });

  it('merges batch-level context under the message context', () => {
    const { rows } = prepareEvents([{ type: 'track', userId: 'u', event: 'E', context: { ip: '1.2.3.4' } }], {
      ...ctx,
      context: { library: { name: 'x' }, ip: '0.0.0.0' },
    });
    expect(JSON.parse(rows[0]!.context)).toEqual({ library: { name: 'x' }, ip: '1.2.3.4' });
  });

  it('derives a stable message id from the content when none is given', () => {
    const msg = { type: 'track', userId: 'u', event: 'E', timestamp: '2026-01-01T00:00:00Z' };
    const a = prepareEvents([msg], ctx).rows[0]!.message_id;
    const b = prepareEvents([{ ...msg }], { ...ctx, receivedAt: ctx.receivedAt + 1000 }).rows[0]!.message_id;
    expect(a).toMatch(/^sha1-/);
    expect(a).toBe(b);
    expect(prepareEvents([{ ...msg, event: 'F' }], ctx).rows[0]!.message_id).not.toBe(a);
  });

  it('rejects an event over 32 KB with its index and keeps the others', () => {
    const big = { type: 'track', userId: 'u', event: 'E', properties: { blob: 'x'.repeat(MAX_EVENT_BYTES) } };
    const { rows, rejections } = prepareEvents([{ type: 'track', userId: 'u', event: 'ok' }, big], ctx);
    expect(rows).toHaveLength(1);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toMatchObject({ index: 1, code: 'event_too_large' });
    expect(rejections[0]!.payload.length).toBeGreaterThan(MAX_EVENT_BYTES);
  });
});
