import { createHash } from 'node:crypto';
import { formatZodIssues } from '../common/zod-issues.ts';
import { MESSAGE_TYPES, messageSchemas, type MessageType, type SegmentMessage } from './segment-schemas.ts';
import { correctTimestamp } from './clock-skew.ts';
import { fastValidate } from './fast-validate.ts';
import { jsonBytesAtMost } from './json-size.ts';

/** Segment's per-event limit. */
export const MAX_EVENT_BYTES = 32 * 1024;

/** One row of the ClickHouse `events` table; times are epoch milliseconds (DateTime64(3) takes them as they are). */
export interface EventRow {
  message_id: string;
  type: MessageType;
  event: string;
  name: string;
  user_id: string;
  anonymous_id: string;
  previous_id: string;
  group_id: string;
  timestamp: number;
  original_timestamp: number | null;
  sent_at: number | null;
  received_at: number;
  traits: string;
  properties: string;
  context: string;
  integrations: string;
  source: string;
  write_key_id: string;
}

export interface Rejection {
  index: number;
  code: 'invalid_json' | 'invalid_event' | 'unknown_type' | 'event_too_large';
  message: string;
}

export interface IngestContext {
  /** Epoch ms. */
  receivedAt: number;
  /** Batch-level sentAt (epoch ms), used when a message has none of its own. */
  sentAt?: number;
  /** Batch-level context and integrations, merged under each message's own. */
  context?: Record<string, unknown>;
  integrations?: Record<string, unknown>;
  source: string;
  writeKeyId: string;
}


/** Type-level validation of one message; the error says what is wrong. */
export function validateMessage(raw: unknown): { ok: true; message: SegmentMessage } | { ok: false; rejection: Omit<Rejection, 'index'> } {
  const fast = fastValidate(raw);
  if (fast) return { ok: true, message: fast };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, rejection: { code: 'invalid_event', message: 'an event must be a JSON object' } };
  }
  const type = (raw as { type?: unknown }).type;
  if (!MESSAGE_TYPES.includes(type as MessageType)) {
    return {
      ok: false,
      rejection: { code: 'unknown_type', message: `type must be one of ${MESSAGE_TYPES.join(', ')} (got ${JSON.stringify(type) ?? 'nothing'})` },
    };
  }
  const parsed = messageSchemas[type as MessageType].safeParse(raw);
  if (!parsed.success) return { ok: false, rejection: { code: 'invalid_event', message: formatZodIssues(parsed.error) } };
  return { ok: true, message: parsed.data };
}

const str = (v: unknown) => (v === undefined ? '{}' : JSON.stringify(v));

const serialize = (raw: unknown) => JSON.stringify(raw) ?? 'null';

/** `raw` is the message as received: without a messageId, its JSON decides the id. */
export function toEventRow(m: SegmentMessage, raw: unknown, ctx: IngestContext): EventRow {
  const original = m.originalTimestamp ?? m.timestamp;
  const sentAt = m.sentAt ?? ctx.sentAt;
  const context = ctx.context ? { ...ctx.context, ...m.context } : m.context;
  const integrations = ctx.integrations ? { ...ctx.integrations, ...m.integrations } : m.integrations;
  return {
    // Without a messageId, the content decides it: the same event imported twice counts once.
    message_id: m.messageId ?? `sha1-${createHash('sha1').update(serialize(raw)).digest('hex')}`,
    type: m.type,
    event: m.type === 'track' ? m.event : '',
    name: m.type === 'page' || m.type === 'screen' ? (m.name ?? '') : '',
    user_id: m.userId ?? '',
    anonymous_id: m.anonymousId ?? '',
    previous_id: m.type === 'alias' ? m.previousId : '',
    group_id: m.type === 'group' ? m.groupId : '',
    timestamp: correctTimestamp(ctx.receivedAt, original, sentAt),
    original_timestamp: original ?? null,
    sent_at: sentAt ?? null,
    received_at: ctx.receivedAt,
    traits: m.type === 'identify' || m.type === 'group' ? str(m.traits) : '{}',
    properties: m.type === 'track' || m.type === 'page' || m.type === 'screen' ? str(pageProperties(m)) : '{}',
    context: str(context),
    integrations: str(integrations),
    source: ctx.source,
    write_key_id: ctx.writeKeyId,
  };
}

/** page and screen calls carry name and category beside their properties. */
function pageProperties(m: SegmentMessage): Record<string, unknown> | undefined {
  if (m.type !== 'page' && m.type !== 'screen') return m.type === 'track' ? m.properties : undefined;
  return m.category === undefined ? m.properties : { category: m.category, ...m.properties };
}

/**
 * Validates a list of raw messages: valid ones become `events` rows, the others rejections with
 * their index, a stable code and a readable reason. Nothing here does I/O.
 */
export function prepareEvents(raw: readonly unknown[], ctx: IngestContext): { rows: EventRow[]; rejections: (Rejection & { payload: string })[] } {
  const rows: EventRow[] = [];
  const rejections: (Rejection & { payload: string })[] = [];
  raw.forEach((item, index) => {
    // An event is serialized only when needed (a rejection's payload, a content-derived id), and
    // measured exactly only when a cheap upper bound of its size passes the limit.
    if (jsonBytesAtMost(item, MAX_EVENT_BYTES) > MAX_EVENT_BYTES) {
      const serialized = serialize(item);
      const bytes = Buffer.byteLength(serialized);
      if (bytes > MAX_EVENT_BYTES) {
        rejections.push({ index, code: 'event_too_large', message: `event is ${bytes} bytes; the limit is ${MAX_EVENT_BYTES}`, payload: serialized });
        return;
      }
    }
    const result = validateMessage(item);
    if (result.ok) rows.push(toEventRow(result.message, item, ctx));
    else rejections.push({ index, ...result.rejection, payload: serialize(item) });
  });
  return { rows, rejections };
}
