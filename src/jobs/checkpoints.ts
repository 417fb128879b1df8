import type { Sql, TransactionSql } from 'postgres';

/** Where a job left off (any JSON), read and written inside the job's own transaction. */
export async function readCheckpoint<T>(tx: Sql | TransactionSql, job: string): Promise<T | undefined> {
  const [row] = await tx<{ position: T }[]>`SELECT position FROM job_checkpoints WHERE job = ${job}`;
  return row?.position;
}

export async function writeCheckpoint(tx: Sql | TransactionSql, job: string, position: unknown): Promise<void> {
  await tx`
    INSERT INTO job_checkpoints (job, position, updated_at) VALUES (${job}, ${JSON.stringify(position)}::jsonb, now())
    ON CONFLICT (job) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`;
}
