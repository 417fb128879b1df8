/**
 * `feature_identity`: the identity map as the last feature run saw it, a plain table with one row
 * per identifier (joins need no FINAL). Each run brings it up to the current `identity_map`
 * version; before an identifier's row is replaced, the profile it belonged to is noted, because
 * that profile lost the identifier's rows and must be computed again.
 */
import type { Clickhouse } from '../src/clients/clickhouse.ts';

export const IDENTITY_SNAPSHOT = 'feature_identity';
const STATE = 'feature_identity_state';

export interface SnapshotState {
  version: number;
  /** False when a sync was interrupted: the previous profiles of moved identifiers are lost. */
  clean: boolean;
}

export async function snapshotState(ch: Clickhouse): Promise<SnapshotState | undefined> {
  const [row] = await ch.query<{ version: string; clean: number }>(`SELECT version, clean FROM ${ch.table(STATE)} FINAL WHERE id = 0`);
  return row ? { version: Number(row.version), clean: row.clean === 1 } : undefined;
}

let lastWrite = 0;

async function setState(ch: Clickhouse, state: SnapshotState): Promise<void> {
  // The newest write wins (ReplacingMergeTree by updated_at): never write two in the same millisecond.
  lastWrite = Math.max(Date.now(), lastWrite + 1);
  await ch.insert(STATE, [{ id: 0, version: state.version, clean: state.clean ? 1 : 0, updated_at: lastWrite }]);
}

export async function currentMapVersion(ch: Clickhouse): Promise<number> {
  const [row] = await ch.query<{ v: string }>(`SELECT max(version) AS v FROM ${ch.table('identity_map')}`);
  return Number(row?.v ?? 0);
}

export interface SnapshotSync {
  version: number;
  /** Identifiers whose profile changed (or that were added or deleted) since the last sync. */
  changed: number;
  /** The whole snapshot was copied (first run, or after an interrupted sync). */
  rebuilt: boolean;
}

/**
 * Brings the snapshot to identity_map version `version`. With `touched` (a table with a
 * `profile_id` column), the old and new profiles of every changed identifier are added to it.
 */
export async function syncIdentitySnapshot(ch: Clickhouse, version: number, opts: { touched?: string; scratch: string }): Promise<SnapshotSync> {
  const snapshot = ch.table(IDENTITY_SNAPSHOT);
  const state = await snapshotState(ch);
  if (!state || !state.clean) {
    await setState(ch, { version: state?.version ?? 0, clean: false });
    await ch.command(`TRUNCATE TABLE ${snapshot}`);
    await ch.command(
      `INSERT INTO ${snapshot} SELECT id_type, id_value, argMax(profile_id, version) FROM ${ch.table('identity_map')}
       WHERE version <= {v:UInt64} GROUP BY id_type, id_value HAVING argMax(deleted, version) = 0`,
      { v: version },
    );
    await setState(ch, { version, clean: true });
    return { version, changed: 0, rebuilt: true };
  }
  if (version <= state.version) return { version: state.version, changed: 0, rebuilt: false };

  const changes = ch.table(opts.scratch);
  await ch.command(`CREATE TABLE ${changes} (id_type String, id_value String, profile_id String, deleted UInt8) ENGINE = MergeTree ORDER BY (id_type, id_value)`);
  await ch.command(
    `INSERT INTO ${changes} SELECT id_type, id_value, argMax(profile_id, version), argMax(deleted, version) FROM ${ch.table('identity_map')}
     WHERE version > {from:UInt64} AND version <= {to:UInt64} GROUP BY id_type, id_value`,
    { from: state.version, to: version },
  );
  if (opts.touched) {
    const touched = ch.table(opts.touched);
    await ch.command(`INSERT INTO ${touched} SELECT profile_id FROM ${changes}`);
    await ch.command(`INSERT INTO ${touched} SELECT profile_id FROM ${snapshot} WHERE (id_type, id_value) IN (SELECT id_type, id_value FROM ${changes})`);
  }
  const [count] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${changes}`);
  await setState(ch, { version: state.version, clean: false });
  await ch.command(`DELETE FROM ${snapshot} WHERE (id_type, id_value) IN (SELECT id_type, id_value FROM ${changes})`);
  await ch.command(`INSERT INTO ${snapshot} SELECT id_type, id_value, profile_id FROM ${changes} WHERE deleted = 0`);
  await setState(ch, { version, clean: true });
  return { version, changed: Number(count?.n ?? 0), rebuilt: false };
}
