import { MAX_EVENT_NAME_LENGTH, MAX_MESSAGE_ID_LENGTH, hasIdentity, parseIsoTimestamp, type SegmentMessage } from './segment-schemas.ts';

/**
 * A hand-written check of the common case of the zod schemas in segment-schemas.ts, several times
 * cheaper per event. It accepts a message only when every field it reads is well formed, and then
 * returns what the schema would; anything else (a wrong or unknown type, an invalid field, an odd
 * object) gives undefined and the schema decides and words the error. So the schemas stay the
 * rules: this may only be stricter, never looser (test/unit/fast-validate.test.ts compares the two).
 */
export function fastValidate(raw: unknown): SegmentMessage | undefined {
  if (!isPlainRecord(raw)) return undefined;
  const out: Record<string, unknown> = { type: raw.type };
  const ok =
    set(out, 'messageId', trimmed(raw.messageId, MAX_MESSAGE_ID_LENGTH)) &&
    set(out, 'userId', id(raw.userId)) &&
    set(out, 'anonymousId', id(raw.anonymousId)) &&
    set(out, 'timestamp', timestamp(raw.timestamp)) &&
    set(out, 'originalTimestamp', timestamp(raw.originalTimestamp)) &&
    set(out, 'sentAt', timestamp(raw.sentAt)) &&
    set(out, 'context', record(raw.context)) &&
    set(out, 'integrations', record(raw.integrations)) &&
    typeFields(raw, out);
  return ok ? (out as SegmentMessage) : undefined;
}

function typeFields(raw: Record<string, unknown>, out: Record<string, unknown>): boolean {
  switch (raw.type) {
    case 'identify':
      return set(out, 'traits', record(raw.traits)) && hasIdentity(out);
    case 'track':
      return required(out, 'event', trimmed(raw.event, MAX_EVENT_NAME_LENGTH)) && set(out, 'properties', record(raw.properties)) && hasIdentity(out);
    case 'page':
    case 'screen':
      return set(out, 'name', text(raw.name)) && set(out, 'category', text(raw.category)) && set(out, 'properties', record(raw.properties)) && hasIdentity(out);
    case 'group':
      return required(out, 'groupId', nonEmpty(id(raw.groupId))) && set(out, 'traits', record(raw.traits)) && hasIdentity(out);
    case 'alias':
      return required(out, 'previousId', nonEmpty(id(raw.previousId))) && required(out, 'userId', nonEmpty(out.userId as Field<string>));
    default:
      return false;
  }
}

/** A field's value, absent (undefined), or not valid. */
const INVALID = Symbol('invalid');
type Field<T> = T | undefined | typeof INVALID;

function set(out: Record<string, unknown>, key: string, value: Field<unknown>): boolean {
  if (value === INVALID) return false;
  if (value !== undefined) out[key] = value;
  return true;
}

function required(out: Record<string, unknown>, key: string, value: Field<unknown>): boolean {
  return value !== undefined && set(out, key, value);
}

/**
 * zod's `z.record` copies an object, leaving out a `__proto__` key; reusing the object is the same
 * only without one. Only plain objects (what JSON.parse makes) are taken.
 */
function isPlainRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(v, '__proto__');
}

function record(v: unknown): Field<Record<string, unknown>> {
  return v === undefined ? undefined : isPlainRecord(v) ? v : INVALID;
}

function text(v: unknown): Field<string> {
  return v === undefined || typeof v === 'string' ? v : INVALID;
}

function trimmed(v: unknown, max: number): Field<string> {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return INVALID;
  const t = v.trim();
  return t.length >= 1 && t.length <= max ? t : INVALID;
}

/** Segment ids: strings, or finite numbers taken as strings. */
function id(v: unknown): Field<string> {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v.trim();
  return typeof v === 'number' && Number.isFinite(v) ? String(v).trim() : INVALID;
}

function nonEmpty(v: Field<string>): Field<string> {
  return v === '' ? INVALID : v;
}

function timestamp(v: unknown): Field<number> {
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? parseIsoTimestamp(v) : Number.NaN;
  return Number.isNaN(ms) ? INVALID : ms;
}
