/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(value))` found without building the string:
 * checking Segment's per-event size limit by serializing every event cost more than validating it.
 * Counting stops once the bound passes `limit`. Values whose JSON this cannot bound (functions, which
 * may be `toJSON`, objects that are not plain, nesting deeper than a JSON event has) give Infinity:
 * the caller then measures exactly.
 */
export function jsonBytesAtMost(value: unknown, limit: number): number {
  return bound(value, limit, 0);
}

/**
 * Longest `String(number)`: 17 significant digits after `-0.00000` (magnitudes from 1e-6 to 1e-7
 * print in decimal), e.g. `-0.0000012345678901234567`; exponent forms take at most 24.
 */
const NUMBER_BYTES = 25;
/** Escaped, one UTF-16 unit takes at most 6 bytes (`\u001f`, a lone surrogate); in UTF-8 at most 3. */
const BYTES_PER_UNIT = 6;
const MAX_DEPTH = 64;

function bound(v: unknown, limit: number, depth: number): number {
  switch (typeof v) {
    case 'string':
      return BYTES_PER_UNIT * v.length + 2;
    case 'number':
      return NUMBER_BYTES;
    case 'boolean':
    case 'undefined':
      return 5;
    case 'object':
      return v === null ? 4 : depth < MAX_DEPTH ? boundObject(v, limit, depth + 1) : Infinity;
    default:
      return Infinity;
  }
}

function boundObject(v: object, limit: number, depth: number): number {
  let n = 2;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Array.prototype) {
    for (let i = 0; i < (v as unknown[]).length && n <= limit; i++) n += bound((v as unknown[])[i], limit - n, depth) + 1;
    return n;
  }
  if (proto !== Object.prototype && proto !== null) return Infinity;
  for (const key in v) {
    n += BYTES_PER_UNIT * key.length + 3 + bound((v as Record<string, unknown>)[key], limit - n, depth);
    if (n > limit) return n;
  }
  return n;
}
