import { lsnDiff, maxLsn } from './lsn';

/** Bytes at risk in a failover (invariant 6). */
export interface RpoAccount {
  /** null when it cannot be known: never reported as zero then. */
  readonly bytesAtRisk: bigint | null;
  readonly reason: string;
}

/** Async mode: what the old primary may have written after the last probe saw it. */
export interface UnseenWrites {
  /** Its WAL rate as the probes measured it (bytes/s); null when never measured. */
  readonly rateBytesPerSec: number | null;
  /** How long it may have gone on unseen: one probe interval plus the probe deadline. */
  readonly windowMs: number;
}

/**
 * Bytes the old primary had written (as last seen by probes) beyond what the
 * promoted node holds. Zero only when the promoted LSN is at or past the old
 * primary's; unknown when the old LSN was never seen. The true loss can still
 * exceed this by what the old primary wrote after the last probe saw it: in
 * async mode (`unseen`), that is bounded by its measured WAL rate over the
 * window before the next probe, so the figure is an upper bound; the real
 * loss is listed from its WAL at rejoin. In sync mode acknowledged commits
 * are on the promoted node, so the seen difference is all there is.
 */
export function accountRpo(
  oldPrimaryLastSeenLsn: string | null,
  promotedLsn: string | null,
  unseen?: UnseenWrites,
): RpoAccount {
  if (!oldPrimaryLastSeenLsn) return { bytesAtRisk: null, reason: "unknown: the old primary's LSN was never seen" };
  if (!promotedLsn) return { bytesAtRisk: null, reason: "unknown: the promoted node's LSN is not known" };
  const seen = lsnDiff(oldPrimaryLastSeenLsn, promotedLsn);
  if (unseen) {
    // Async: the old primary went on writing after the last probe saw it, until it died (before the next probe).
    if (unseen.rateBytesPerSec === null) {
      return { bytesAtRisk: null, reason: "unknown: async, and the old primary's WAL rate was never measured" };
    }
    const extra = BigInt(Math.ceil((unseen.rateBytesPerSec * unseen.windowMs) / 1000));
    const total = (seen > 0n ? seen : 0n) + extra;
    return {
      bytesAtRisk: total,
      reason: `at most ${total} bytes: ${seen > 0n ? seen : 0n} between promoted ${promotedLsn} and the old primary's last seen ${oldPrimaryLastSeenLsn}, plus up to ${extra} written unseen (${Math.round(unseen.rateBytesPerSec)} B/s for ${unseen.windowMs} ms)`,
    };
  }
  const d = seen;
  if (d <= 0n) {
    return {
      bytesAtRisk: 0n,
      reason: `none: promoted at ${promotedLsn}, at or past the old primary's last seen ${oldPrimaryLastSeenLsn}`,
    };
  }
  return {
    bytesAtRisk: d,
    reason: `${d} bytes between promoted ${promotedLsn} and the old primary's last seen ${oldPrimaryLastSeenLsn}`,
  };
}

/** What one probe recorded of a node's WAL: the fields the rate and RPO rules read (a vote's NodeSeen). */
export interface WalSighting {
  /** The node's LSN when a probe last saw it as primary. */
  readonly lastSeenLsn?: string | null;
  /** When that was (ms). */
  readonly lastSeenAt?: number | null;
  /** The WAL-rate maximum so far (bytes/s). */
  readonly lsnRate?: number | null;
}

/**
 * How much of the WAL-rate maximum survives one probe round: a burst bounds the estimate for a while, then
 * fades, so one busy minute does not inflate every later RPO bound forever. @default 0.95
 */
export const WAL_RATE_DECAY = 0.95;

/**
 * The primary's WAL rate between two probes, as a maximum that decays 5% a
 * round: RPO accounting needs an upper bound of what it may have written in
 * the window between its last successful probe and its death. Without a new
 * measurement (no LSN, no earlier sighting, a clock that did not move) the
 * decayed maximum stands; null when nothing was ever measured.
 */
export function walRate(lsn: string | null, prev: WalSighting | undefined, now: number): number | null {
  const decayed = prev?.lsnRate != null ? prev.lsnRate * WAL_RATE_DECAY : null;
  if (!lsn || !prev?.lastSeenLsn || !prev.lastSeenAt || now <= prev.lastSeenAt) return decayed;
  const d = lsnDiff(lsn, prev.lastSeenLsn);
  const rate = d > 0n ? Number(d) / ((now - prev.lastSeenAt) / 1000) : 0;
  return Math.round(Math.max(rate, decayed ?? 0));
}

/** Votes as the RPO rules read them: what each AZ last saw of each node. */
export type WalVotes = readonly { readonly nodes?: Readonly<Record<string, WalSighting>> }[];

/** The highest WAL rate any AZ measured on the primary (bytes/s), or null. */
export function primaryLsnRate(votes: WalVotes, primary: string): number | null {
  const rates = votes.map((v) => v.nodes?.[primary]?.lsnRate ?? null).filter((x): x is number => x !== null);
  return rates.length ? Math.max(...rates) : null;
}

/** The old primary's LSN as last seen by any probe AZ (RPO accounting and the async lag rule). */
export function lastSeenPrimaryLsn(votes: WalVotes, primary: string): string | null {
  const seen = votes.map((v) => v.nodes?.[primary]?.lastSeenLsn ?? null).filter((x): x is string => !!x);
  return maxLsn(seen) ?? null;
}
