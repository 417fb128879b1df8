/**
 * CPU time, steadier than wall time on a shared machine. This process's includes its threads (the
 * embedded ClickHouse); another process's is read from /proc (Linux, 100 ticks a second).
 */
import { readFile } from 'node:fs/promises';

/** CPU seconds (user + system) this process has used so far. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU seconds (user + system) process `pid` has used so far. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
