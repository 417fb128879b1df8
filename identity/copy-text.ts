/**
 * Rows of text written straight into byte chunks: PostgreSQL's COPY text format and ClickHouse's
 * TabSeparated, which escape the same characters (backslash, tab, newline, carriage return) with a
 * backslash and read the other escapes of the other as the character itself. A rebuild writes
 * millions of rows; building a JS string per field and per row, testing each with a regex and
 * encoding the result cost more than PostgreSQL parsing it. Pure: bytes in memory, no I/O.
 */
import { handleIsWide, handleOffset } from './string-table.ts';

const TAB = 9;
const NEWLINE = 10;
const RETURN = 13;
const BACKSLASH = 92;
const CHUNK = 1 << 20;
/** Room past a chunk's size for the row that fills it. */
const SLACK = 64 << 10;

/** The letter after the backslash for a code that needs escaping, else 0. */
function escapeLetter(c: number): number {
  return c === BACKSLASH ? BACKSLASH : c === TAB ? 116 /* t */ : c === NEWLINE ? 110 /* n */ : c === RETURN ? 114 /* r */ : 0;
}

export class CopyTextWriter {
  private buf = Buffer.allocUnsafe(CHUNK + SLACK);
  private pos = 0;
  private readonly full: Buffer[] = [];

  /** Makes room for `n` more bytes (a row longer than the chunk grows it: chunks hold whole rows). */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const buf = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(buf, 0, 0, this.pos);
    this.buf = buf;
  }

  /** Ends a row: the chunk is cut once it holds about a megabyte. */
  endRow(): void {
    if (this.pos >= CHUNK) this.cut();
  }

  private cut(): void {
    if (this.pos === 0) return;
    this.full.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(CHUNK + SLACK);
    this.pos = 0;
  }

  /** Writes one UTF-16 code unit sequence starting at `c` (the next unit in `next` when it is a high surrogate); returns the units used. */
  private unit(c: number, next: number): number {
    const buf = this.buf;
    if (c < 0x80) {
      const letter = escapeLetter(c);
      if (letter !== 0) {
        buf[this.pos++] = BACKSLASH;
        buf[this.pos++] = letter;
      } else buf[this.pos++] = c;
      return 1;
    }
    if (c < 0x800) {
      buf[this.pos++] = 0xc0 | (c >> 6);
      buf[this.pos++] = 0x80 | (c & 0x3f);
      return 1;
    }
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      buf[this.pos++] = 0xf0 | (cp >> 18);
      buf[this.pos++] = 0x80 | ((cp >> 12) & 0x3f);
      buf[this.pos++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[this.pos++] = 0x80 | (cp & 0x3f);
      return 2;
    }
    // A lone surrogate becomes U+FFFD, as Buffer.from(string) writes it.
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    buf[this.pos++] = 0xe0 | (c >> 12);
    buf[this.pos++] = 0x80 | ((c >> 6) & 0x3f);
    buf[this.pos++] = 0x80 | (c & 0x3f);
    return 1;
  }

  /** A JS string, escaped, as UTF-8. */
  text(s: string): this {
    this.room(s.length * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; ) {
      const c = s.charCodeAt(i);
      if (c < 0x80 && c !== BACKSLASH && c !== TAB && c !== NEWLINE && c !== RETURN) {
        buf[pos++] = c;
        i++;
      } else {
        this.pos = pos;
        i += this.unit(c, i + 1 < s.length ? s.charCodeAt(i + 1) : 0);
        pos = this.pos;
      }
    }
    this.pos = pos;
    return this;
  }

  /** A string stored in a `StringTable` arena (`handle` and `length` from the table), escaped, as UTF-8. */
  stored(arena: Uint8Array, handle: number, length: number): this {
    this.room(length * 3);
    const off = handleOffset(handle);
    if (!handleIsWide(handle)) {
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < length; i++) {
        const c = arena[off + i] as number;
        if (c < 0x80 && c !== BACKSLASH && c !== TAB && c !== NEWLINE && c !== RETURN) buf[pos++] = c;
        else {
          this.pos = pos;
          this.unit(c, 0);
          pos = this.pos;
        }
      }
      this.pos = pos;
      return this;
    }
    const at = (i: number) => (i < length ? (arena[off + 2 * i] as number) | ((arena[off + 2 * i + 1] as number) << 8) : 0);
    for (let i = 0; i < length; ) i += this.unit(at(i), at(i + 1));
    return this;
  }

  /** Bytes written as they are (pre-encoded, already escaped text). */
  raw(bytes: Uint8Array): this {
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** An integer (a safe one: times in ms, versions, counts) in decimal. */
  integer(n: number): this {
    if (!Number.isSafeInteger(n)) throw new RangeError(`${n} is not a safe integer`);
    this.room(17);
    if (n < 0) {
      this.buf[this.pos++] = 45; /* '-' */
      n = -n;
    }
    // In int32 halves of eight digits (a 13-digit time would take float divisions digit by digit);
    // a safe integer has at most 16.
    if (n < 1e8) return this.digits(n, 0);
    const high = Math.floor(n / 1e8);
    return this.digits(high, 0).digits(n - high * 1e8, 8);
  }

  /** `v` (0 <= v < 1e8) in decimal, left-padded with zeros to `width` digits. */
  private digits(v: number, width: number): this {
    let x = v | 0;
    let count = 1;
    for (let m = x; m >= 10; m = (m / 10) | 0) count++;
    if (count < width) count = width;
    const buf = this.buf;
    for (let at = this.pos + count - 1; at >= this.pos; at--) {
      buf[at] = 48 + (x % 10);
      x = (x / 10) | 0;
    }
    this.pos += count;
    return this;
  }

  tab(): this {
    this.room(1);
    this.buf[this.pos++] = TAB;
    return this;
  }

  newline(): this {
    this.room(1);
    this.buf[this.pos++] = NEWLINE;
    return this;
  }

  /** Takes the chunks filled so far; with `all`, the one being written too. */
  take(all = false): Buffer[] {
    if (all) this.cut();
    return this.full.splice(0);
  }
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** A field as a JS string in COPY / TabSeparated text (for rows built as strings: the small tables). */
export function copyField(v: string): string {
  return !NEEDS_ESCAPE.test(v) ? v : v.replace(/[\\\t\n\r]/g, (c) => `\\${String.fromCharCode(escapeLetter(c.charCodeAt(0)))}`);
}

/** A field as escaped UTF-8, to write many times with `raw` (type names, sources). */
export function encodeField(s: string): Buffer {
  return Buffer.from(copyField(s), 'utf8');
}

/**
 * Rows `0 .. count - 1` written by `row` (fields and separators, newline included), as chunks of
 * about 1 MB of whole rows (each can be inserted on its own), made as they are read: a stream
 * never holds more than a chunk or two of them.
 */
export function* copyTextRows(count: number, row: (w: CopyTextWriter, i: number) => void): Generator<Buffer> {
  const w = new CopyTextWriter();
  for (let i = 0; i < count; i++) {
    row(w, i);
    w.endRow();
    if ((i & 1023) === 0) yield* w.take();
  }
  yield* w.take(true);
}

/** Chunks of `text` gathered into blocks of at least `bytes` (the last one smaller). */
export function* textBlocks(text: Iterable<Uint8Array>, bytes: number): Generator<Uint8Array[]> {
  let block: Uint8Array[] = [];
  let size = 0;
  for (const chunk of text) {
    block.push(chunk);
    size += chunk.length;
    if (size >= bytes) {
      yield block;
      block = [];
      size = 0;
    }
  }
  if (block.length > 0) yield block;
}
