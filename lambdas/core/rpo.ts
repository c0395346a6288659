import { lsnDiff } from './lsn';

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
