/**
 * Loads a CSV export of a CRM source: the header row names the columns, every other row is a
 * record mapped like the API's. Bad rows (the wrong number of fields, an unclosed quote, a record
 * the mapping rejects) are dead-lettered with `file:line` and the reason while the rest loads.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { TesseraError } from '../common/errors.ts';
import { ImportTally, type ImportOptions, type ImportSummary } from '../ingest/import-summary.ts';
import type { CrmMapping } from '../sources/sources-config.ts';
import { readCsv, detectDelimiter } from './csv-reader.ts';
import type { CrmDeadLetter, CrmWriter } from './crm-writer.ts';

export interface CrmCsvImportOptions extends ImportOptions {
  /** Field delimiter; detected from the header line when not given. */
  delimiter?: string;
  batchRecords?: number;
}

/** The header does not fit the mapping (or is not a header at all). */
export class CsvHeaderError extends TesseraError {
  constructor(message: string) {
    super('invalid_csv_header', message, 400);
  }
}

/** The columns the mapping reads, with what it reads them for. */
function mappedColumns(mapping: CrmMapping): [string, string][] {
  return [
    [mapping.idColumn, 'idColumn'],
    [mapping.updatedAtColumn, 'updatedAtColumn'],
    ...Object.keys(mapping.identifiers).map((c): [string, string] => [c, 'identifiers']),
    ...Object.keys(mapping.traits).map((c): [string, string] => [c, 'traits']),
  ];
}

/**
 * The column names of a header row. Names are trimmed; empty ones (a trailing delimiter) are
 * skipped; a duplicate, or a column the mapping reads that the header lacks, fails the file.
 */
export function checkHeader(file: string, fields: readonly string[], mapping: CrmMapping): string[] {
  const names = fields.map((f) => f.trim());
  const duplicate = names.find((n, i) => n !== '' && names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new CsvHeaderError(`${file}:1: the header names column '${duplicate}' twice`);
  const missing = mappedColumns(mapping).filter(([column]) => !names.includes(column));
  if (missing.length > 0) {
    const list = missing.map(([column, use]) => `'${column}' (${use})`).join(', ');
    throw new CsvHeaderError(`${file}:1: the header has no column ${list}; it has ${names.filter(Boolean).join(', ') || 'no names'}`);
  }
  return names;
}

export type CsvRecord = { ok: true; record: Record<string, string> } | { ok: false; code: 'wrong_field_count'; message: string };

/** A data row as a record keyed by the header's column names (empty names left out). */
export function rowToRecord(columns: readonly string[], fields: readonly string[]): CsvRecord {
  if (fields.length !== columns.length) {
    return { ok: false, code: 'wrong_field_count', message: `${fields.length} field${fields.length === 1 ? '' : 's'}; the header has ${columns.length}` };
  }
  const record: Record<string, string> = {};
  columns.forEach((column, i) => {
    if (column !== '') record[column] = fields[i]!;
  });
  return { ok: true, record };
}

/** The first bytes of `file` (enough for its header line). */
async function readHead(file: string, bytes = 64 * 1024): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(bytes), 0, bytes, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

export async function importCrmCsv(file: string, writer: CrmWriter, source: string, mapping: CrmMapping, opts: CrmCsvImportOptions = {}): Promise<ImportSummary> {
  const batchRecords = opts.batchRecords ?? 5000;
  const totalBytes = (await stat(file)).size;
  const name = path.basename(file);
  const delimiter = opts.delimiter ?? detectDelimiter(await readHead(file));
  const tally = new ImportTally(file, opts);
  const stream = createReadStream(file);
  const csv = readCsv(stream, { delimiter });

  let header: string[] | undefined;
  let batch: Record<string, string>[] = [];
  let lines: number[] = [];
  let bad: CrmDeadLetter[] = [];
  const rejectRow = (line: number, code: string, message: string, payload: string) => {
    tally.reject({ line, code, message });
    bad.push({ origin: `${name}:${line}`, position: line, code, message, payload });
  };
  const store = async (records: Record<string, string>[], numbers: number[], deadLetters: CrmDeadLetter[]) => {
    const [result] = await Promise.all([writer.write(source, mapping, records, (i) => `${name}:${numbers[i]}`), writer.deadLetter(source, deadLetters)]);
    tally.summary.accepted += result.accepted;
    for (const r of result.rejected) tally.reject({ line: numbers[r.index]!, code: r.code, message: r.message });
    tally.summary.lines = csv.lines();
    opts.onProgress?.(stream.bytesRead, totalBytes, tally.summary);
  };
  /** One batch is stored while the next is read; a failed store fails the import at the next flush. */
  let storing: Promise<void> = Promise.resolve();
  const flush = async () => {
    await storing;
    storing = store(batch, lines, bad);
    storing.catch(() => undefined);
    batch = [];
    lines = [];
    bad = [];
  };

  for await (const item of csv.items) {
    if (item.kind === 'bad_row') rejectRow(item.line, item.code, item.message, item.raw);
    else if (!header) header = checkHeader(file, item.fields, mapping);
    else {
      const row = rowToRecord(header, item.fields);
      if (!row.ok) rejectRow(item.line, row.code, row.message, item.raw);
      else {
        batch.push(row.record);
        lines.push(item.line);
      }
    }
    if (batch.length + bad.length >= batchRecords) await flush();
  }
  if (!header) throw new CsvHeaderError(`${file}: no header row${tally.summary.rejected > 0 ? ' that can be read' : ' (the file is empty)'}`);
  await flush();
  await storing;
  tally.summary.rejections.sort((a, b) => a.line - b.line);
  return tally.done();
}
