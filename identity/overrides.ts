/**
 * Manual identity data, decided by people (support, privacy requests) rather than by records, and
 * honoured by every resolution (rebuild, incremental, recompute):
 *
 * - `links`: force `a` and `b` into one profile. The merge happens as soon as both identifiers
 *   exist (right after the record that registers the later one), ignoring type limits (a person
 *   decided) but not unlinks. It leaves an edge with source `override:link`.
 * - `unlinks`: `a` and `b` never share a profile. A merge that would join them is refused like a
 *   limit breach (rule `unlink`): the record's least important identifiers are dropped until it
 *   fits. An unlink wins over a link of the same pair.
 * - `tombstones`: deleted identifiers (GDPR). They are dropped from incoming records (reason
 *   `tombstoned`) so that replays never recreate them.
 *
 * All three are stored as data (a Postgres table in production, `MemoryIdentityState` in tests),
 * keyed by identifier keys (`type:value`, normalised). Adding one to an already resolved graph
 * calls for `recomputeComponents` (recompute.ts) on the components it touches.
 */
import { z } from 'zod';
import { identifierKey, parseIdentifierKey } from './identifier.ts';
import type { ResolvedIdentityConfig } from './identity-config.ts';
import { normaliseIdentifier, type RejectionReason } from './normalise.ts';

export interface IdentifierPair {
  a: string;
  b: string;
}

export interface IdentityOverrides {
  links: IdentifierPair[];
  unlinks: IdentifierPair[];
  tombstones: string[];
}

const key = z.string().refine((k) => {
  try {
    parseIdentifierKey(k);
    return true;
  } catch {
    return false;
  }
}, 'must be an identifier key "type:value"');
const pair = z.object({ a: key, b: key }).refine((p) => p.a !== p.b, 'a and b must differ');

export const identityOverridesSchema = z.object({
  links: z.array(pair).default([]),
  unlinks: z.array(pair).default([]),
  tombstones: z.array(key).default([]),
});

export function emptyOverrides(): IdentityOverrides {
  return { links: [], unlinks: [], tombstones: [] };
}

/** The overrides that mention any of `keys` (what a loader returns for a set of identifiers). */
export function overridesTouching(overrides: IdentityOverrides, keys: ReadonlySet<string>): IdentityOverrides {
  return {
    links: overrides.links.filter((p) => keys.has(p.a) || keys.has(p.b)),
    unlinks: overrides.unlinks.filter((p) => keys.has(p.a) || keys.has(p.b)),
    tombstones: overrides.tombstones.filter((k) => keys.has(k)),
  };
}

/**
 * Normalises the keys of overrides as records are normalised (`Email:Alice@X.com ` would never
 * match `email:alice@x.com` otherwise). Keys that cannot be identifiers are returned as errors.
 */
export function normaliseOverrides(
  overrides: IdentityOverrides,
  config: ResolvedIdentityConfig,
): { overrides: IdentityOverrides; errors: { key: string; reason: RejectionReason | 'not_a_key' }[] } {
  const errors: { key: string; reason: RejectionReason | 'not_a_key' }[] = [];
  const norm = (key: string): string | null => {
    let parsed: { type: string; value: string };
    try {
      parsed = parseIdentifierKey(key);
    } catch {
      errors.push({ key, reason: 'not_a_key' });
      return null;
    }
    const result = normaliseIdentifier(parsed.type, parsed.value, config);
    if (!result.ok) {
      errors.push({ key, reason: result.reason });
      return null;
    }
    return identifierKey(parsed.type, result.value);
  };
  const pairs = (list: IdentifierPair[]) =>
    list.flatMap((p) => {
      const a = norm(p.a);
      const b = norm(p.b);
      return a !== null && b !== null && a !== b ? [{ a, b }] : [];
    });
  return {
    overrides: {
      links: pairs(overrides.links),
      unlinks: pairs(overrides.unlinks),
      tombstones: overrides.tombstones.flatMap((k) => {
        const n = norm(k);
        return n === null ? [] : [n];
      }),
    },
    errors,
  };
}
