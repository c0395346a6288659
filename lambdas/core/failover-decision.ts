import { automaticFailoverGuard } from './guards';
import { quorumVerdict } from './quorum';
import type { ControllerSettings } from './settings';
import type { Lease, Vote } from './types';

/** What the automatic path decides after a probe round. */
export type FailoverDecision =
  | { readonly action: 'start-failover'; readonly reason: string; readonly nextEpoch: number }
  | { readonly action: 'no-action'; readonly reason: string }
  | { readonly action: 'needs-attention'; readonly reason: string };

/**
 * Quorum first, then the lease guards: a healthy or undecided primary is left
 * alone whatever the lease says; a down one is failed over only from a steady
 * lease outside the anti-flap window (fail static otherwise).
 */
export function decideFailover(input: {
  votes: readonly Vote[];
  lease: Lease;
  probeAzs: readonly string[];
  now: number;
  settings: ControllerSettings;
}): FailoverDecision {
  const { votes, lease, probeAzs, now, settings } = input;
  const q = quorumVerdict(votes, { primary: lease.primary, probeAzs, now, settings });
  if (q.verdict !== 'primary-down') return { action: 'no-action', reason: q.reason };
  const g = automaticFailoverGuard(lease, now, settings);
  if (!g.allow) {
    return g.escalate
      ? { action: 'needs-attention', reason: `${q.reason}; ${g.reason}` }
      : { action: 'no-action', reason: `${q.reason}; ${g.reason}` };
  }
  return { action: 'start-failover', reason: q.reason, nextEpoch: lease.epoch + 1 };
}
