/**
 * A rebuild's identifiers and edges as columns (the engine's own typed arrays, no object per row),
 * and the text a rebuild loads from them: PostgreSQL COPY rows of `identity_identifiers` and
 * `identity_edges`, and the ClickHouse identity map's TabSeparated rows. The same rows, in the same
 * order, as `ResolutionDiff.identifiers` / `edges` would give (unit-tested against them). Pure:
 * columns in, byte chunks out.
 */
import { copyTextRows, encodeField, type CopyTextWriter } from './copy-text.ts';

export interface GraphColumns {
  /** Where the identifier values are stored (`StringTable.arena`; handles as its `set` returns them). */
  arena: Uint8Array;
  /** Identifier type names, by type index. */
  types: readonly string[];
  /** Profile ids, by profile index. */
  profiles: readonly string[];
  /** Edge sources, by source index. */
  sources: readonly string[];
  /** Per identifier id: type index, value (handle and length in the arena), first seen. */
  keys: { type: Int32Array; valueHandle: Int32Array; valueLength: Int32Array; firstSeen: Float64Array };
  /** The rows of the identifier table: identifier ids and profile indexes. */
  identifiers: { count: number; id: Int32Array; profile: Int32Array };
  /**
   * The edges: per edge e, (a, b, source index, record count) at `ints[4e ..]` (identifier ids),
   * (first seen, last seen) at `times[2e ..]`, and its first record id.
   */
  edges: { count: number; ints: Int32Array; times: Float64Array; firstRecordId: readonly string[] };
}

/** Type names (with the key's `:` after them) and sources, encoded once. */
function encoded(g: GraphColumns) {
  return { types: g.types.map(encodeField), prefixes: g.types.map((t) => encodeField(`${t}:`)), sources: g.sources.map(encodeField) };
}

/** The value of identifier `id`. */
function writeValue(w: CopyTextWriter, g: GraphColumns, id: number): CopyTextWriter {
  return w.stored(g.arena, g.keys.valueHandle[id] as number, g.keys.valueLength[id] as number);
}

/** `type:value` of identifier `id`. */
function writeKey(w: CopyTextWriter, g: GraphColumns, prefixes: readonly Buffer[], id: number): CopyTextWriter {
  return writeValue(w.raw(prefixes[g.keys.type[id] as number] as Buffer), g, id);
}

/** COPY rows of `identity_identifiers` (key, type, value, profile_id, first_seen, version); versions `first`, `first + 1`, ... */
export function identifierCopyText(g: GraphColumns, first: number): Iterable<Buffer> {
  const e = encoded(g);
  const rows = g.identifiers;
  return copyTextRows(rows.count, (w, i) => {
    const id = rows.id[i] as number;
    writeKey(w, g, e.prefixes, id).tab().raw(e.types[g.keys.type[id] as number] as Buffer).tab();
    writeValue(w, g, id).tab().text(g.profiles[rows.profile[i] as number] as string).tab();
    w.integer(g.keys.firstSeen[id] as number).tab().integer(first + i).newline();
  });
}

/** COPY rows of `identity_edges` (a, b, source, first_seen, first_record_id, last_seen, count). */
export function edgeCopyText(g: GraphColumns): Iterable<Buffer> {
  const e = encoded(g);
  const { ints, times, firstRecordId } = g.edges;
  return copyTextRows(g.edges.count, (w, i) => {
    writeKey(w, g, e.prefixes, ints[4 * i] as number).tab();
    writeKey(w, g, e.prefixes, ints[4 * i + 1] as number).tab();
    w.raw(e.sources[ints[4 * i + 2] as number] as Buffer).tab().integer(times[2 * i] as number).tab();
    w.text(firstRecordId[i] as string).tab().integer(times[2 * i + 1] as number).tab().integer(ints[4 * i + 3] as number).newline();
  });
}

/** TabSeparated rows of the ClickHouse identity map (id_type, id_value, profile_id, version, deleted); versions as `identifierCopyText`. */
export function identityMapText(g: GraphColumns, first: number): Iterable<Buffer> {
  const e = encoded(g);
  const rows = g.identifiers;
  return copyTextRows(rows.count, (w, i) => {
    const id = rows.id[i] as number;
    writeValue(w.raw(e.types[g.keys.type[id] as number] as Buffer).tab(), g, id).tab();
    w.text(g.profiles[rows.profile[i] as number] as string).tab().integer(first + i).tab().integer(0).newline();
  });
}
