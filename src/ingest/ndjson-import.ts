import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { errorMessage } from '../common/errors.ts';
import type { EventIngestor } from './event-ingestor.ts';
import { ImportTally, type ImportOptions as BaseImportOptions, type ImportSummary } from './import-summary.ts';

export type { ImportSummary, LineRejection } from './import-summary.ts';

export interface ImportOptions extends BaseImportOptions {
  batchLines?: number;
}

/**
 * Loads a file of Segment messages, one JSON object per line. Bad lines (unparseable JSON, invalid
 * events) are dead-lettered with `file:line` and the reason while the rest loads.
 */
export async function importNdjson(file: string, ingestor: EventIngestor, opts: ImportOptions = {}): Promise<ImportSummary> {
  const batchLines = opts.batchLines ?? 2000;
  const totalBytes = (await stat(file)).size;
  const name = path.basename(file);
  const tally = new ImportTally(file, opts);
  const { summary } = tally;

  const stream = createReadStream(file, { encoding: 'utf8' });
  let messages: unknown[] = [];
  let lineNumbers: number[] = [];
  const flush = async () => {
    if (messages.length === 0) return;
    const numbers = lineNumbers;
    const result = await ingestor.ingest(messages, { receivedAt: Date.now(), source: 'import', writeKeyId: 'cli' }, (i) => `${name}:${numbers[i]}`);
    summary.accepted += result.accepted;
    for (const r of result.rejected) tally.reject({ line: numbers[r.index]!, code: r.code, message: r.message });
    messages = [];
    lineNumbers = [];
    opts.onProgress?.(stream.bytesRead, totalBytes, summary);
  };

  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    const line = ++summary.lines;
    if (text.trim() === '') continue;
    try {
      messages.push(JSON.parse(text));
      lineNumbers.push(line);
    } catch (err) {
      const rejection = { line, code: 'invalid_json', message: `not valid JSON: ${errorMessage(err)}` };
      tally.reject(rejection);
      await ingestor.deadLetter([{ origin: `${name}:${line}`, index: line, code: rejection.code, message: rejection.message, payload: text.slice(0, 64 * 1024) }], 'import');
    }
    if (messages.length >= batchLines) await flush();
  }
  await flush();
  return tally.done();
}
