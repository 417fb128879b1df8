/**
 * Normalisation of one raw identifier value, per the rule of its type, followed by the blocklist.
 * Invalid values are rejected with a stable reason instead of being kept or silently dropped.
 *
 * - `email`: trim, lower-case, then a basic shape check (`local@domain.tld`, no spaces, ≤ 254).
 * - `phone`: E.164 via libphonenumber-js, numbers without a country code read in `defaultRegion`
 *   (`+1 (415) 555-0100`, `415-555-0100`, `14155550100` in US → `+14155550100`).
 * - `trim`: trim; `lower`: trim and lower-case.
 *
 * Numbers are coerced to strings (Segment accepts numeric ids). Anything else that is not a string
 * (objects, booleans, null) is rejected as `not_a_string`.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { ruleForType, type ResolvedIdentityConfig } from './identity-config.ts';

export type RejectionReason =
  | 'unknown_type'
  | 'not_a_string'
  | 'empty'
  | 'too_long'
  | 'invalid_email'
  | 'invalid_phone'
  | 'blocklisted';

export type NormaliseResult = { ok: true; value: string } | { ok: false; reason: RejectionReason };

/** Longest accepted normalised value (keys go into B-tree indexes). */
export const MAX_IDENTIFIER_LENGTH = 512;

const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const MAX_EMAIL_LENGTH = 254;

/** Parsing a phone costs ~10 µs; the same few spellings repeat a lot, so results are memoised. */
const PHONE_CACHE_SIZE = 50_000;
const phoneCache = new Map<string, string | null>();

function normalisePhone(raw: string, region: ResolvedIdentityConfig['defaultRegion']): string | null {
  const cacheKey = `${region}|${raw}`;
  const hit = phoneCache.get(cacheKey);
  if (hit !== undefined) return hit;
  const parsed = parsePhoneNumberFromString(raw, region);
  const value = parsed && parsed.isValid() ? parsed.number : null;
  if (phoneCache.size >= PHONE_CACHE_SIZE) phoneCache.clear();
  phoneCache.set(cacheKey, value);
  return value;
}

/** Whether a normalised value is on the blocklist (exact, case-insensitive, or a pattern). */
export function isBlocklisted(value: string, config: ResolvedIdentityConfig): boolean {
  const { exactSet, regexes } = config.blocklist;
  if (exactSet.has(value) || exactSet.has(value.toLowerCase())) return true;
  for (const re of regexes) if (re.test(value)) return true;
  return false;
}

/** Normalises `raw` as an identifier of `type`; see the file comment for the rules. */
export function normaliseIdentifier(type: string, raw: unknown, config: ResolvedIdentityConfig): NormaliseResult {
  const rule = ruleForType(config, type);
  if (!rule) return { ok: false, reason: 'unknown_type' };
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if ((typeof raw === 'number' && Number.isFinite(raw)) || typeof raw === 'bigint') text = String(raw);
  else return { ok: false, reason: 'not_a_string' };

  let value = text.trim();
  if (value === '') return { ok: false, reason: 'empty' };
  switch (rule.normalise) {
    case 'email':
      value = value.toLowerCase();
      if (value.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(value)) return { ok: false, reason: 'invalid_email' };
      break;
    case 'phone': {
      const e164 = normalisePhone(value, config.defaultRegion);
      if (e164 === null) return { ok: false, reason: 'invalid_phone' };
      value = e164;
      break;
    }
    case 'lower':
      value = value.toLowerCase();
      break;
    case 'trim':
      break;
  }
  if (value.length > MAX_IDENTIFIER_LENGTH) return { ok: false, reason: 'too_long' };
  if (isBlocklisted(value, config)) return { ok: false, reason: 'blocklisted' };
  return { ok: true, value };
}
