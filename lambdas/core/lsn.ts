import { ValidationError } from './errors';

/**
 * PostgreSQL LSNs ('X/Y', two hex halves of a 64-bit WAL position). All
 * arithmetic is on bigint: byte distances past 2^53 must stay exact, and a
 * Number would silently round them.
 */
export type Lsn = bigint;

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses 'X/Y' into a bigint; ValidationError names the bad input. */
export function parseLsn(text: string): Lsn {
  const m = LSN_RE.exec(typeof text === 'string' ? text.trim() : '');
  if (!m)
    throw new ValidationError(`malformed LSN '${String(text)}': expected two hex numbers of up to 8 digits as X/Y`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats a bigint LSN as PostgreSQL prints it ('16/B374D848'). */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > 0xffffffffffffffffn) throw new ValidationError(`LSN ${lsn} is outside 0..2^64-1`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** -1, 0 or 1 as a is before, at or after b. */
export function compareLsn(a: string | Lsn, b: string | Lsn): -1 | 0 | 1 {
  const x = typeof a === 'bigint' ? a : parseLsn(a);
  const y = typeof b === 'bigint' ? b : parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Bytes from b to a (a - b); negative when a is behind b. */
export function lsnDiff(a: string | Lsn, b: string | Lsn): bigint {
  return (typeof a === 'bigint' ? a : parseLsn(a)) - (typeof b === 'bigint' ? b : parseLsn(b));
}

/** The most advanced of the given LSNs (undefined for none). */
export function maxLsn(lsns: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const l of lsns) if (best === undefined || compareLsn(l, best) > 0) best = l;
  return best;
}
