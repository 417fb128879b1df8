/**
 * An identifier is a `(type, value)` pair with a normalised value. Everywhere outside the hot loop
 * it is also addressed by its *key*, `type:value` (type names never contain `:`, values may), which
 * is what the repositories store and what overrides and diffs refer to.
 */

/** A normalised identifier of one record. */
export interface Identifier {
  type: string;
  /** Normalised value. */
  value: string;
  /** `type:value`. */
  key: string;
  /** The priority of its type (lower = more important). */
  priority: number;
}

/** `type:value`. */
export function identifierKey(type: string, value: string): string {
  return `${type}:${value}`;
}

/** Splits a key at its first `:`; throws when there is none. */
export function parseIdentifierKey(key: string): { type: string; value: string } {
  const at = key.indexOf(':');
  if (at <= 0) throw new Error(`not an identifier key (type:value): ${JSON.stringify(key)}`);
  return { type: key.slice(0, at), value: key.slice(at + 1) };
}

/** The type part of a key. */
export function keyType(key: string): string {
  const at = key.indexOf(':');
  return at <= 0 ? '' : key.slice(0, at);
}

/** Order of identifiers inside a record: priority, then key (code-unit order). */
export function compareIdentifiers(a: Identifier, b: Identifier): number {
  return a.priority - b.priority || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}
