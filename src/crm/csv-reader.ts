/**
 * Streams the rows of a CSV file with the physical line each starts on. csv-parse does the CSV:
 * quoted fields with delimiters, doubled quotes and line breaks inside, a UTF-8 BOM, `\n`, `\r\n`
 * or `\r` line ends; empty lines are skipped. Rows of any width come through (the caller checks
 * them against the header). A stray quote inside a field is kept as a character; a quote that is
 * never closed swallows the rest of the file, which comes back as one bad row at its start line.
 *
 * Lines are counted on the bytes (csv-parse counts a `\r\n` inside a quoted field twice): a row's
 * start line is the line of its last byte less the line breaks inside its fields.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, type CsvError, type InfoRecord, type Options } from 'csv-parse';

export interface CsvRow {
  kind: 'row';
  /** Physical line (1-based) where the row starts. */
  line: number;
  fields: string[];
  /** The row's text as read (for dead letters). */
  raw: string;
}

export interface CsvBadRow {
  kind: 'bad_row';
  line: number;
  code: 'invalid_csv';
  message: string;
  raw: string;
}

export type CsvItem = CsvRow | CsvBadRow;

export const CSV_DELIMITERS = [',', ';', '\t'] as const;

const LF = 0x0a;
const CR = 0x0d;
const BREAK = /\r\n|\r|\n/g;
const LEADING_BREAKS = /^[\r\n]*/;
const TRAILING_BREAK = /(\r\n|\r|\n)$/;

const countBreaks = (text: string) => text.match(BREAK)?.length ?? 0;
/** A row's text without the empty lines before it and its own line end. */
const rowText = (raw: string) => raw.replace(LEADING_BREAKS, '').replace(TRAILING_BREAK, '');

/**
 * The delimiter of a CSV file from its first line (outside quotes): the most frequent of `,`, `;`
 * and tab; `,` when none occurs.
 */
export function detectDelimiter(head: string): string {
  const counts = new Map<string, number>(CSV_DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of head.replace(/^\uFEFF/, '')) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best: string = ',';
  for (const [d, n] of counts) if (n > counts.get(best)!) best = d;
  return best;
}

/**
 * Passes bytes through and remembers where line breaks end (`\n` of `\r\n` and `\n`, a lone
 * `\r`), so the line of any byte offset can be asked for. Offsets must be asked in increasing
 * order; breaks behind the last one asked are forgotten, so memory stays bounded.
 */
export class LineCounter extends Transform {
  private breakEnds: number[] = [];
  private head = 0;
  private linesBefore = 0;
  private offset = 0;
  private pendingCr = false;
  private total = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (chunk.length === 0) return done(null, chunk);
    // A `\r` that ended the previous chunk is a break of its own unless this one starts with `\n`.
    if (this.pendingCr && chunk[0] !== LF) this.addBreak(this.offset - 1);
    this.pendingCr = false;
    let lf = chunk.indexOf(LF);
    let cr = chunk.indexOf(CR);
    while (lf !== -1 || cr !== -1) {
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        if (cr + 1 === chunk.length) this.pendingCr = true;
        else if (chunk[cr + 1] !== LF) this.addBreak(this.offset + cr);
        cr = chunk.indexOf(CR, cr + 1);
      } else {
        this.addBreak(this.offset + lf);
        lf = chunk.indexOf(LF, lf + 1);
      }
    }
    this.offset += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.pendingCr) this.addBreak(this.offset - 1);
    this.pendingCr = false;
    done();
  }

  /** The 1-based line that holds byte `offset` (a line's break belongs to it). */
  lineAt(offset: number): number {
    while (this.head < this.breakEnds.length && this.breakEnds[this.head]! < offset) {
      this.head++;
      this.linesBefore++;
    }
    if (this.head > 4096 && this.head * 2 > this.breakEnds.length) {
      this.breakEnds = this.breakEnds.slice(this.head);
      this.head = 0;
    }
    return this.linesBefore + 1;
  }

  /** Lines read so far (a last line without a break counts). */
  lines(): number {
    const last = this.breakEnds.length > 0 ? this.breakEnds[this.breakEnds.length - 1]! : -1;
    return this.total + (this.offset - 1 > last ? 1 : 0);
  }

  private addBreak(end: number): void {
    this.breakEnds.push(end);
    this.total++;
  }
}

export interface CsvReader {
  /** Every row (the header first) and every bad row, in file order. */
  items: AsyncIterable<CsvItem>;
  /** Physical lines read so far. */
  lines(): number;
}

/** Reads CSV rows from `input` (bytes). */
export function readCsv(input: Readable, opts: { delimiter: string }): CsvReader {
  const counter = new LineCounter();
  /** Bad rows wait until the rows before them are out, so items keep file order. */
  const bad: { after: number; item: CsvBadRow }[] = [];
  let rowsOut = 0;
  let lastEnd = 0;
  let inBadRow = false;

  /** With `raw: true` and no columns csv-parse hands on_record `{ record, raw }` (its typings cannot say so). */
  const onRecord = ({ record, raw }: { record: string[]; raw: string }, info: InfoRecord): CsvRow => {
    const end = info.bytes;
    const line = counter.lineAt(end - 1) - record.reduce((n, field) => n + countBreaks(field), 0);
    lastEnd = end;
    inBadRow = false;
    return { kind: 'row', line, fields: record, raw: rowText(raw) };
  };

  const parser = parse({
    bom: true,
    delimiter: opts.delimiter,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    raw: true,
    on_record: onRecord as unknown as Options['on_record'],
    on_skip: (err: CsvError | undefined, raw: string | undefined) => {
      // A bad row may report several errors; the first one names it.
      if (inBadRow) return undefined;
      inBadRow = true;
      const text = raw ?? '';
      const leading = countBreaks(LEADING_BREAKS.exec(text)![0]);
      bad.push({
        after: parser.info.records,
        item: { kind: 'bad_row', line: counter.lineAt(lastEnd) + leading, code: 'invalid_csv', message: csvMessage(err), raw: rowText(text) },
      });
      return undefined;
    },
  });

  const piped = pipeline(input, counter, parser);
  // Failures surface through the iteration; this only keeps an abandoned read from going unhandled.
  piped.catch(() => undefined);
  async function* items(): AsyncGenerator<CsvItem> {
    const takeBad = function* () {
      while (bad.length > 0 && bad[0]!.after <= rowsOut) yield bad.shift()!.item;
    };
    for await (const row of parser as AsyncIterable<CsvRow>) {
      yield* takeBad();
      rowsOut++;
      yield row;
    }
    await piped;
    rowsOut = Infinity;
    yield* takeBad();
  }
  return { items: items(), lines: () => counter.lines() };
}

/** csv-parse's message without its line number (ours is the row's start). */
function csvMessage(err: CsvError | undefined): string {
  if (err?.code === 'CSV_QUOTE_NOT_CLOSED') return 'a quoted field is never closed (everything after its opening quote was read into it)';
  return (err?.message ?? 'unreadable row').replace(/\s*(at|on) line \d+/, '');
}
