/**
 * The pull connector's checkpoint in `job_checkpoints` (key `cdc.pull:<source>`): whether the
 * initial snapshot finished, and the end LSN of the last transaction whose changes are all in
 * ClickHouse. It is written only after ClickHouse has them, and only at transaction boundaries.
 */
import type { Sql } from 'postgres';
import { z } from 'zod';
import { readCheckpoint, writeCheckpoint } from '../../jobs/checkpoints.ts';

const checkpointSchema = z.object({
  /** The slot the positions belong to. */
  slot: z.string(),
  /** False while the initial snapshot runs: a restart takes it again. */
  snapshotDone: z.boolean(),
  /** `X/Y`: resume here; transactions that committed before it are applied. */
  lsn: z.string().optional(),
  /** The tables the initial snapshot copied (a table declared later has no snapshot). */
  tables: z.array(z.string()).optional(),
});

export type PullCheckpoint = z.infer<typeof checkpointSchema>;

export const pullCheckpointJob = (source: string) => `cdc.pull:${source}`;

/** The checkpoint, or undefined when there is none (or it is not of this slot). */
export async function readPullCheckpoint(sql: Sql, source: string, slot: string): Promise<PullCheckpoint | undefined> {
  const parsed = checkpointSchema.safeParse(await readCheckpoint<unknown>(sql, pullCheckpointJob(source)));
  return parsed.success && parsed.data.slot === slot ? parsed.data : undefined;
}

export function writePullCheckpoint(sql: Sql, source: string, checkpoint: PullCheckpoint): Promise<void> {
  return writeCheckpoint(sql, pullCheckpointJob(source), checkpoint);
}

export async function deletePullCheckpoint(sql: Sql, source: string): Promise<void> {
  await sql`DELETE FROM job_checkpoints WHERE job = ${pullCheckpointJob(source)}`;
}
