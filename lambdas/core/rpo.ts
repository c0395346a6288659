import { lsnDiff } from './lsn';

/** Bytes at risk in a failover (invariant 6). */
export interface RpoAccount {
  /** null when it cannot be known: never reported as zero then. */
  readonly bytesAtRisk: bigint | null;
  readonly reason: string;
}

/**
 * Bytes the old primary had written (as last seen by probes) beyond what the
 * promoted node holds. Zero only when the promoted LSN is at or past the old
 * primary's; unknown when the old LSN was never seen. The true loss can still
 * exceed this by what the old primary wrote after the last probe saw it;
 * that remainder is listed from its WAL at rejoin.
 */
export function accountRpo(oldPrimaryLastSeenLsn: string | null, promotedLsn: string | null): RpoAccount {
  if (!oldPrimaryLastSeenLsn) return { bytesAtRisk: null, reason: "unknown: the old primary's LSN was never seen" };
  if (!promotedLsn) return { bytesAtRisk: null, reason: "unknown: the promoted node's LSN is not known" };
  const d = lsnDiff(oldPrimaryLastSeenLsn, promotedLsn);
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
