/**
 * An open-addressing hash table from (namespace, string) to an int32 payload, for the resolver's
 * hot loop. Strings are copied into one byte arena (Latin-1 when possible, else UTF-16), and each
 * slot holds [hash, namespace|flags|length, arena offset, payload] in one Int32Array, so a lookup
 * costs about two cache misses (slot, arena) instead of the five or six of a `Map<string, number>`
 * with millions of keys, and no per-entry JS objects exist for the garbage collector to trace.
 *
 * Keys are always compared in full: equal hashes never make two strings equal.
 */

/** Returned by `get` when the key is absent. */
export const MISSING = -0x80000000;

/** Namespaces (identifier types) per table. */
export const MAX_NAMESPACES = 1 << 14;
/** Longest string stored; longer keys are never found (`set` returns -1). */
export const MAX_TABLE_STRING = (1 << 16) - 1;
const WIDE = 1 << 16;
const NS_SHIFT = 17;

function hashOf(ns: number, s: string): number {
  let h = (0x811c9dc5 ^ Math.imul(ns, 0x9e3779b1)) | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  // murmur3 finaliser: spreads FNV's low bits for linear probing.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

/** Where the string of a handle (from `set`) starts in the arena. */
export function handleOffset(handle: number): number {
  return handle >= 0 ? handle : -2 - handle;
}

/** Whether the string of a handle is stored as UTF-16LE (else Latin-1). */
export function handleIsWide(handle: number): boolean {
  return handle < 0;
}

export class StringTable {
  private slots: Int32Array;
  private mask: number;
  private count = 0;
  private bytes: Uint8Array;
  private used = 0;

  constructor(capacity = 1024) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.slots = new Int32Array(size * 4);
    this.mask = size - 1;
    for (let i = 0; i < size; i++) this.slots[i * 4 + 3] = MISSING;
    this.bytes = new Uint8Array(Math.max(1024, capacity * 24));
  }

  get size(): number {
    return this.count;
  }

  /** Bytes used by the arena (for capacity planning). */
  get arenaBytes(): number {
    return this.used;
  }

  /**
   * The arena, for writers that copy stored strings out without making JS strings: the string at
   * a handle starts at `handleOffset(handle)`, one byte per code unit (Latin-1), or two (UTF-16LE)
   * when `handleIsWide(handle)`. Valid until the next `set`.
   */
  get arena(): Uint8Array {
    return this.bytes;
  }

  /** The payload of (ns, s), or MISSING. */
  get(ns: number, s: string): number {
    if (s.length > MAX_TABLE_STRING) return MISSING;
    const slot = this.find(ns, s, hashOf(ns, s));
    return slot < 0 ? MISSING : (this.slots[slot * 4 + 3] as number);
  }

  /**
   * Sets the payload of (ns, s), inserting it when absent. Returns the arena offset of the stored
   * string (for `text` / `compare`), or -1 when the string is too long to store.
   */
  set(ns: number, s: string, payload: number): number {
    if (ns < 0 || ns >= MAX_NAMESPACES) throw new RangeError(`more than ${MAX_NAMESPACES} identifier types in one run`);
    if (s.length > MAX_TABLE_STRING) return -1;
    const hash = hashOf(ns, s);
    const found = this.find(ns, s, hash);
    if (payload === MISSING) throw new RangeError('MISSING is not a payload');
    if (found >= 0) {
      this.slots[found * 4 + 3] = payload;
      const off = this.slots[found * 4 + 2] as number;
      return ((this.slots[found * 4 + 1] as number) & WIDE) !== 0 ? -2 - off : off;
    }
    if ((this.count + 1) * 2 > this.mask + 1) this.rehash();
    const wide = !isLatin1(s);
    const bytes = wide ? s.length * 2 : s.length;
    if (this.used + bytes > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (this.used + bytes > size) size *= 2;
      const arena = new Uint8Array(size);
      arena.set(this.bytes.subarray(0, this.used));
      this.bytes = arena;
    }
    const off = this.used;
    const arena = this.bytes;
    if (wide) {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        arena[off + 2 * i] = c & 0xff;
        arena[off + 2 * i + 1] = c >>> 8;
      }
    } else {
      for (let i = 0; i < s.length; i++) arena[off + i] = s.charCodeAt(i);
    }
    this.used += bytes;
    let slot = hash & this.mask;
    while ((this.slots[slot * 4 + 3] as number) !== MISSING) slot = (slot + 1) & this.mask;
    const o = slot * 4;
    this.slots[o] = hash;
    this.slots[o + 1] = (ns << NS_SHIFT) | (wide ? WIDE : 0) | s.length;
    this.slots[o + 2] = off;
    this.slots[o + 3] = payload;
    this.count++;
    // Encode (off, wide) for callers: wide strings get a negative handle.
    return wide ? -2 - off : off;
  }

  /** The string stored at `handle` (from `set`) with `length` code units. */
  text(handle: number, length: number): string {
    const arena = this.bytes;
    let out = '';
    if (handle >= 0) {
      for (let i = 0; i < length; i += 4096) out += String.fromCharCode.apply(null, arena.subarray(handle + i, handle + Math.min(length, i + 4096)) as unknown as number[]);
      return out;
    }
    const off = -2 - handle;
    const codes: number[] = new Array<number>(length);
    for (let i = 0; i < length; i++) codes[i] = (arena[off + 2 * i] as number) | ((arena[off + 2 * i + 1] as number) << 8);
    for (let i = 0; i < length; i += 4096) out += String.fromCharCode.apply(null, codes.slice(i, i + 4096));
    return out;
  }

  /** Code-unit order of two stored strings (same result as `<` on the JS strings). */
  compare(ha: number, la: number, hb: number, lb: number): number {
    const n = la < lb ? la : lb;
    for (let i = 0; i < n; i++) {
      const d = this.codeAt(ha, i) - this.codeAt(hb, i);
      if (d !== 0) return d;
    }
    return la - lb;
  }

  private codeAt(handle: number, i: number): number {
    if (handle >= 0) return this.bytes[handle + i] as number;
    const off = -2 - handle;
    return (this.bytes[off + 2 * i] as number) | ((this.bytes[off + 2 * i + 1] as number) << 8);
  }

  private find(ns: number, s: string, hash: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const meta = (ns << NS_SHIFT) | s.length;
    let slot = hash & mask;
    for (;;) {
      const o = slot * 4;
      if ((slots[o + 3] as number) === MISSING) return -1;
      if (slots[o] === hash && ((slots[o + 1] as number) & ~WIDE) === meta && this.equals(slots[o + 2] as number, ((slots[o + 1] as number) & WIDE) !== 0, s)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private equals(off: number, wide: boolean, s: string): boolean {
    const arena = this.bytes;
    if (!wide) {
      for (let i = 0; i < s.length; i++) if (arena[off + i] !== s.charCodeAt(i)) return false;
      return true;
    }
    for (let i = 0; i < s.length; i++) {
      if (((arena[off + 2 * i] as number) | ((arena[off + 2 * i + 1] as number) << 8)) !== s.charCodeAt(i)) return false;
    }
    return true;
  }

  /** Makes room for `n` strings in all, taking ~`bytesEach` bytes each (sized once instead of doubling on the way). */
  reserve(n: number, bytesEach = 24): void {
    let size = this.mask + 1;
    while (size < n * 2) size *= 2;
    if (size > this.mask + 1) this.rehash(size);
    if (n * bytesEach > this.bytes.length) {
      const arena = new Uint8Array(n * bytesEach);
      arena.set(this.bytes.subarray(0, this.used));
      this.bytes = arena;
    }
  }

  private rehash(size = (this.mask + 1) * 2): void {
    const old = this.slots;
    const slots = new Int32Array(size * 4);
    for (let i = 0; i < size; i++) slots[i * 4 + 3] = MISSING;
    const mask = size - 1;
    for (let o = 0; o < old.length; o += 4) {
      if ((old[o + 3] as number) === MISSING) continue;
      let slot = (old[o] as number) & mask;
      while ((slots[slot * 4 + 3] as number) !== MISSING) slot = (slot + 1) & mask;
      slots.set(old.subarray(o, o + 4), slot * 4);
    }
    this.slots = slots;
    this.mask = mask;
  }
}
