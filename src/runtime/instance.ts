import path from 'node:path';
import { isAlive, readJson, removeFile, writeJson } from '../embedded/process-files.ts';

/**
 * What a running `tessera start` records in the data directory so that other CLI processes use its
 * stores instead of opening the same data (chdb allows one process per data path).
 */
export interface InstanceInfo {
  pid: number;
  apiUrl: string;
  /** ClickHouse-over-HTTP endpoint served by the instance when its ClickHouse is in-process. */
  clickhouseUrl?: string;
  startedAt: string;
}

const fileIn = (dataDir: string) => path.join(dataDir, 'instance.json');

export async function findRunningInstance(dataDir: string): Promise<InstanceInfo | undefined> {
  const info = await readJson<InstanceInfo>(fileIn(dataDir));
  return info && info.pid !== process.pid && isAlive(info.pid) ? info : undefined;
}

export const writeInstance = (dataDir: string, info: InstanceInfo) => writeJson(fileIn(dataDir), info);
export const removeInstance = (dataDir: string) => removeFile(fileIn(dataDir));
