import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';

export interface BenchRow {
  case: string;
  [metric: string]: string | number;
}

/** Prints a result table and writes it, with the machine, to benchmarks/results/NAME.json. */
export async function report(name: string, rows: BenchRow[], notes: Record<string, unknown> = {}): Promise<void> {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => columns.map((c) => fmt(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i]!)).join('  ');
  console.log(`\n${name}`);
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of cells) console.log(line(row));
  const dir = path.resolve('benchmarks/results');
  await mkdir(dir, { recursive: true });
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ name, at: new Date().toISOString(), machine, notes, rows }, null, 2));
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(2);
  return String(v ?? '');
}
