/**
 * PostgreSQL log sequence numbers (LSNs): 64-bit WAL positions, written `XXXXXXXX/XXXXXXXX` (the
 * high and low 32 bits in hex). Kept as bigint: they pass 2^53.
 */

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): bigint {
  const m = LSN_TEXT.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a PostgreSQL LSN (like 0/16B3748)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
