/**
 * Versions of the wide table: each run writes `profiles_v<run id>` and points the view `profiles`
 * at it in one statement (CREATE OR REPLACE VIEW is atomic), so readers see the old version or
 * the new one, never a half-written table. Columns follow the feature set, so adding, removing or
 * retyping a feature needs no manual DDL.
 */
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import { ident } from './compiler/sql.ts';

export const PROFILES_VIEW = 'profiles';
const VERSION_PREFIX = 'profiles_v';
/** Scratch tables of a run are named `_features_<run id>_<what>`. */
const SCRATCH = /^_features_\d+_/;

export const versionTable = (runId: number) => `${VERSION_PREFIX}${runId}`;
export const scratchTable = (runId: number, what: string) => `_features_${runId}_${what}`;

export async function tableExists(ch: Clickhouse, name: string): Promise<boolean> {
  const [row] = await ch.query<{ n: string }>(`SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {name:String}`, { db: ch.database, name });
  return Number(row?.n ?? 0) > 0;
}

/** Points `profiles` at `table`, showing its `columns` (not the hidden columns of feature states). */
export async function swapProfiles(ch: Clickhouse, table: string, columns: string[]): Promise<void> {
  await ch.command(`CREATE OR REPLACE VIEW ${ch.table(PROFILES_VIEW)} AS SELECT ${columns.map(ident).join(', ')} FROM ${ch.table(table)}`);
}

/** A copy of `from` that shares its data parts (hard links): instant, whatever its size. */
export async function cloneTable(ch: Clickhouse, from: string, to: string): Promise<void> {
  await ch.command(`CREATE TABLE ${ch.table(to)} AS ${ch.table(from)}`);
  await ch.command(`ALTER TABLE ${ch.table(to)} ATTACH PARTITION tuple() FROM ${ch.table(from)}`);
}

/** How often waitForMutations looks again. */
const MUTATION_POLL_MS = 5;

/** Waits until the mutations of `table` are done; throws the reason of one that fails. */
export async function waitForMutations(ch: Clickhouse, table: string): Promise<void> {
  for (;;) {
    const pending = await ch.query<{ reason: string }>(
      `SELECT latest_fail_reason AS reason FROM system.mutations WHERE database = {db:String} AND table = {table:String} AND NOT is_done`,
      { db: ch.database, table },
    );
    if (pending.length === 0) return;
    const failed = pending.find((m) => m.reason);
    if (failed) throw new Error(`a mutation of ${table} failed: ${failed.reason}`);
    await new Promise((resolve) => setTimeout(resolve, MUTATION_POLL_MS));
  }
}

async function tables(ch: Clickhouse): Promise<string[]> {
  const rows = await ch.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = {db:String}`, { db: ch.database });
  return rows.map((r) => r.name);
}

/** Drops the versions other than `keep`. */
export async function dropOldVersions(ch: Clickhouse, keep: string[]): Promise<void> {
  for (const name of await tables(ch)) {
    if (name.startsWith(VERSION_PREFIX) && /^\d+$/.test(name.slice(VERSION_PREFIX.length)) && !keep.includes(name)) {
      await ch.command(`DROP TABLE IF EXISTS ${ch.table(name)}`);
    }
  }
}

/** Drops the scratch tables of runs (`runId` only, or all: left by an interrupted run). */
export async function dropScratchTables(ch: Clickhouse, runId?: number): Promise<void> {
  const prefix = runId === undefined ? undefined : `_features_${runId}_`;
  for (const name of await tables(ch)) {
    if (prefix ? name.startsWith(prefix) : SCRATCH.test(name)) await ch.command(`DROP TABLE IF EXISTS ${ch.table(name)}`);
  }
}
