import type { Vote } from './types';

/**
 * A probe AZ's next vote from its previous one and this round's result.
 * Failures only accumulate against the same primary: after a failover the
 * count starts again, so old failures never count against the new primary.
 */
export function nextVote(
  prev: Vote | undefined,
  round: { az: string; primary: string; primaryOk: boolean; now: number },
): Vote {
  const sameTarget = prev !== undefined && prev.primary === round.primary;
  return {
    az: round.az,
    seq: (prev?.seq ?? 0) + 1,
    observedAt: round.now,
    primary: round.primary,
    primaryOk: round.primaryOk,
    consecutiveFailures: round.primaryOk ? 0 : (sameTarget ? prev.consecutiveFailures : 0) + 1,
  };
}
