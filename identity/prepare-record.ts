/**
 * Preparing a record for resolution: normalise each raw identifier (rejecting invalid and
 * blocklisted values with a reason), drop duplicates (the same email spelled twice), and sort by
 * (priority, key) — the order the resolver drops identifiers in, least important last.
 */
import { compareIdentifiers, identifierKey, type Identifier } from './identifier.ts';
import { ruleForType, type ResolvedIdentityConfig } from './identity-config.ts';
import type { IdentityRecord } from './extract.ts';
import { normaliseIdentifier, type RejectionReason } from './normalise.ts';

/** A raw identifier that normalisation refused. */
export interface RejectedIdentifier {
  type: string;
  raw: unknown;
  reason: RejectionReason;
}

export interface PreparedRecord {
  /** Normalised, deduplicated, sorted by (priority, key). */
  identifiers: Identifier[];
  rejected: RejectedIdentifier[];
}

export function prepareRecord(record: Pick<IdentityRecord, 'identifiers'>, config: ResolvedIdentityConfig): PreparedRecord {
  const identifiers: Identifier[] = [];
  const rejected: RejectedIdentifier[] = [];
  for (const raw of record.identifiers) {
    const result = normaliseIdentifier(raw.type, raw.value, config);
    if (!result.ok) {
      rejected.push({ type: raw.type, raw: raw.value, reason: result.reason });
      continue;
    }
    const key = identifierKey(raw.type, result.value);
    let seen = false;
    for (const other of identifiers) {
      if (other.key === key) {
        seen = true;
        break;
      }
    }
    if (seen) continue;
    // normaliseIdentifier found a rule, so ruleForType does too.
    identifiers.push({ type: raw.type, value: result.value, key, priority: (ruleForType(config, raw.type) as { priority: number }).priority });
  }
  if (identifiers.length > 1) identifiers.sort(compareIdentifiers);
  return { identifiers, rejected };
}
