import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { errorMessage } from '../common/errors.ts';
import type { EventIngestor } from './event-ingestor.ts';

export interface LineRejection {
  line: number;
  code: string;
  message: string;
}

export interface ImportSummary {
  file: string;
  lines: number;
  accepted: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  /** The first `maxReported` rejections; all of them are in `rejected_events`. */
  rejections: LineRejection[];
  seconds: number;
}

export interface ImportOptions {
  batchLines?: number;
  maxReported?: number;
  onProgress?: (bytesRead: number, totalBytes: number, summary: ImportSummary) => void;
}

/**
 * Loads a file of Segment messages, one JSON object per line. Bad lines (unparseable JSON, invalid
 * events) are dead-lettered with `file:line` and the reason while the rest loads.
 */
export async function importNdjson(file: string, ingestor: EventIngestor, opts: ImportOptions = {}): Promise<ImportSummary> {
  const batchLines = opts.batchLines ?? 2000;
  const maxReported = opts.maxReported ?? 1000;
  const totalBytes = (await stat(file)).size;
  const name = path.basename(file);
  const started = Date.now();
  const summary: ImportSummary = { file, lines: 0, accepted: 0, rejected: 0, rejectedByCode: {}, rejections: [], seconds: 0 };
  const reject = (r: LineRejection) => {
    summary.rejected++;
    summary.rejectedByCode[r.code] = (summary.rejectedByCode[r.code] ?? 0) + 1;
    if (summary.rejections.length < maxReported) summary.rejections.push(r);
  };

  const stream = createReadStream(file, { encoding: 'utf8' });
  let messages: unknown[] = [];
  let lineNumbers: number[] = [];
  const flush = async () => {
    if (messages.length === 0) return;
    const numbers = lineNumbers;
    const result = await ingestor.ingest(messages, { receivedAt: Date.now(), source: 'import', writeKeyId: 'cli' }, (i) => `${name}:${numbers[i]}`);
    summary.accepted += result.accepted;
    for (const r of result.rejected) reject({ line: numbers[r.index]!, code: r.code, message: r.message });
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
      reject(rejection);
      await ingestor.deadLetter([{ origin: `${name}:${line}`, index: line, code: rejection.code, message: rejection.message, payload: text.slice(0, 64 * 1024) }], 'import');
    }
    if (messages.length >= batchLines) await flush();
  }
  await flush();
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
