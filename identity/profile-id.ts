/**
 * Profile ids are a deterministic function of the data, never a sequence: a profile's id is
 * `p_` + the first 24 hex digits (96 bits) of SHA-256 of its *anchor*'s key, where the anchor is
 * the member that comes first by (first seen, priority, key). A rebuild on an empty database gives
 * the same ids, and the same ids can be recomputed in SQL (`sha256` in Postgres and ClickHouse).
 *
 * Why this rule gives "the older profile survives a merge": the anchor of a merged profile is the
 * earlier of the two anchors, so the merged profile keeps the id of the profile whose anchor was
 * seen first; the other id becomes a redirect. A member's first-seen time never changes, so the
 * id of a profile only changes when it merges into an older one (or, after a manual unlink or a
 * deletion, when the part that loses the anchor becomes a profile of its own).
 *
 * Ties in first seen (same millisecond) are broken by priority, then key: an identifier of a more
 * important type first seen in the same millisecond as a profile's anchor takes the anchor over;
 * the profile's id then changes and the old id redirects to the new one (logged as a merge).
 */
import { hash } from 'node:crypto';

export const PROFILE_ID_PREFIX = 'p_';

/** The profile id of a component whose anchor has key `anchorKey`. */
export function profileIdFor(anchorKey: string): string {
  return PROFILE_ID_PREFIX + hash('sha256', anchorKey, 'hex').slice(0, 24);
}

/** A member as far as anchor order is concerned. */
export interface AnchorCandidate {
  key: string;
  firstSeen: number;
  priority: number;
}

/** Anchor order: first seen, then priority (lower first), then key (code-unit order). */
export function compareAnchors(a: AnchorCandidate, b: AnchorCandidate): number {
  return a.firstSeen - b.firstSeen || a.priority - b.priority || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}
