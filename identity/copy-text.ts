/**
 * Tab-separated text for bulk loads: PostgreSQL's COPY text format (the rebuild's graph) and
 * ClickHouse's TabSeparated (the rebuild's identity map), which escape the same four characters
 * the same way. Rows are encoded straight into UTF-8 blocks of about a megabyte: no string per
 * line or field, no rope to flatten, one large write per block. Pure: values in, bytes out.
 */
import type { RowSource } from './resolution-diff.ts';

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
/** The escaped spelling of each character that needs one (`\t`, `\n`, `\r`, `\\`), else 0. */
const ESCAPE = new Uint8Array(128);
ESCAPE[TAB] = 116; // t
ESCAPE[NEWLINE] = 110; // n
ESCAPE[13] = 114; // r
ESCAPE[BACKSLASH] = BACKSLASH;

/**
 * Writes rows of fields into a byte block: `text` and `number` add a field (tab-separated; they
 * chain), `endRow` ends the row. Text is escaped and encoded as UTF-8 exactly as
 * `Buffer.from(escaped, 'utf8')` would (a lone surrogate becomes U+FFFD); numbers are written as
 * `String(n)` writes them.
 */
export class CopyWriter {
  private buf: Buffer;
  private pos = 0;
  private rowStart = true;

  constructor(private readonly blockBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(blockBytes);
  }

  /** Bytes written since the last `take`. */
  get length(): number {
    return this.pos;
  }

  text(s: string): this {
    // At most 3 bytes per UTF-16 unit (escapes take 2, surrogate pairs 4 for 2 units), + a tab.
    this.reserve(s.length * 3 + 1);
    const buf = this.buf;
    let p = this.separate();
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        const e = ESCAPE[c] as number;
        if (e !== 0) buf[p++] = BACKSLASH;
        buf[p++] = e !== 0 ? e : c;
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else {
        if (c >= 0xd800 && c <= 0xdfff) {
          const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
          if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
            buf[p++] = 0xf0 | (cp >> 18);
            buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
            buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
            buf[p++] = 0x80 | (cp & 0x3f);
            i++;
            continue;
          }
          c = 0xfffd;
        }
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    this.pos = p;
    return this;
  }

  number(n: number): this {
    if (!Number.isSafeInteger(n)) return this.text(String(n));
    this.reserve(18);
    const buf = this.buf;
    let p = this.separate();
    if (n < 0) {
      buf[p++] = 45; // -
      n = -n;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    this.pos = p + digits;
    for (let q = p + digits - 1; q >= p; q--) {
      buf[q] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    return this;
  }

  endRow(): void {
    this.reserve(1);
    this.buf[this.pos++] = NEWLINE;
    this.rowStart = true;
  }

  /** The bytes written so far; the writer starts a new block. */
  take(): Buffer {
    const block = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.blockBytes);
    this.pos = 0;
    return block;
  }

  /** A tab unless the field is the row's first; returns the write position. */
  private separate(): number {
    if (this.rowStart) {
      this.rowStart = false;
      return this.pos;
    }
    this.buf[this.pos] = TAB;
    return ++this.pos;
  }

  /** Room for `bytes` more (a row longer than the block moves to a larger buffer). */
  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

/** Writes one row's fields (`i`: its index in the source). */
export type RowWriter<T> = (w: CopyWriter, row: T, i: number) => void;

/** Rows `from` to `to` (exclusive) of `rows` as one block of text (rows read into one scratch object). */
export function copyText<T>(rows: RowSource<T>, from: number, to: number, write: RowWriter<T>): Buffer {
  const w = new CopyWriter();
  const scratch = rows.scratch();
  for (let i = from; i < to; i++) {
    write(w, rows.at(i, scratch), i);
    w.endRow();
  }
  return w.take();
}

/**
 * All rows in blocks of about `blockBytes`: few, large writes, so the stream spends its time in
 * the database and not in per-chunk round trips.
 */
export function* copyBlocks<T>(rows: RowSource<T>, write: RowWriter<T>, blockBytes = 1 << 20): Generator<Buffer> {
  const w = new CopyWriter(blockBytes + (blockBytes >> 4));
  const scratch = rows.scratch();
  for (let i = 0; i < rows.length; i++) {
    write(w, rows.at(i, scratch), i);
    w.endRow();
    if (w.length >= blockBytes) yield w.take();
  }
  if (w.length > 0) yield w.take();
}
