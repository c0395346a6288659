import { quorumVerdict } from './quorum';
import type { ControllerSettings } from './settings';
import type { Lease, Vote } from './types';

/** What the automatic path may do given the lease. */
export type Guard =
  | { readonly allow: true }
  | { readonly allow: false; readonly escalate: boolean; readonly reason: string };

/**
 * Pause and anti-flap rules (invariants 7 and 8) for AUTOMATIC failover only:
 * operators' switchovers are checked by the lease transition itself.
 */
export function automaticFailoverGuard(lease: Lease, now: number, s: ControllerSettings): Guard {
  switch (lease.state) {
    case 'paused':
      return {
        allow: false,
        escalate: false,
        reason: `cluster is paused (${lease.reason}): nothing automatic happens`,
      };
    case 'needs-attention':
      return {
        allow: false,
        escalate: false,
        reason: `cluster needs attention (${lease.reason}): nothing automatic happens`,
      };
    case 'failing-over':
    case 'switching-over':
      return { allow: false, escalate: false, reason: `${lease.state} already in progress at epoch ${lease.epoch}` };
    case 'steady':
      break;
  }
  if (lease.lastFailoverAt !== null) {
    const ago = now - lease.lastFailoverAt;
    if (ago < s.minFailoverIntervalSec * 1000) {
      return {
        allow: false,
        escalate: true,
        reason: `anti-flap: the last failover was ${Math.round(ago / 1000)} s ago, less than minFailoverIntervalSec ${s.minFailoverIntervalSec}`,
      };
    }
  }
  return { allow: true };
}

/** What `pgquorum resume` does: steady (automatic failover on), paused with the named primary, or refuse. */
export type ResumeDecision =
  | { readonly action: 'steady'; readonly primary: string; readonly reason: string }
  | { readonly action: 'paused'; readonly primary: string; readonly reason: string }
  | { readonly action: 'refuse'; readonly reason: string };

/**
 * `resume` cannot race an automatic run (issue 13): the lease goes to steady, where the probes may start a
 * failover, only when fresh votes of a majority of probe AZs see the primary it names up as a writable primary
 * (the probes' own quorum rule): then their next round agrees with it. A primary the probes have not judged yet
 * (votes are about the lease's primary, so naming another node always starts here) is recorded with the lease
 * paused: the probes then vote about it, nothing automatic happens, and the operator's next `resume` turns
 * automatic failover on once they see it up.
 */
export function resumeDecision(
  lease: Lease,
  req: {
    readonly primary?: string;
    readonly votes: readonly Vote[];
    readonly probeAzs: readonly string[];
    readonly now: number;
    readonly settings: ControllerSettings;
  },
): ResumeDecision {
  if (lease.state === 'failing-over' || lease.state === 'switching-over') {
    return { action: 'refuse', reason: `cannot resume while ${lease.state} (epoch ${lease.epoch})` };
  }
  if (lease.state === 'needs-attention' && !req.primary) {
    return { action: 'refuse', reason: `resuming from needs-attention (${lease.reason}) needs the verified primary` };
  }
  const primary = req.primary ?? lease.primary;
  if (lease.state === 'steady' && primary === lease.primary) {
    return { action: 'steady', primary, reason: `already steady with ${primary} as primary` };
  }
  if (lease.state === 'steady') {
    return {
      action: 'refuse',
      reason: `the cluster is steady with ${lease.primary} as primary: use \`pgquorum switchover --to ${primary}\``,
    };
  }
  if (primary !== lease.primary) {
    return {
      action: 'paused',
      primary,
      reason: `${primary} recorded as primary, automatic failover still off: the probes vote about ${lease.primary}, not ${primary}; run \`pgquorum resume\` again once \`pgquorum status\` shows ${primary} up`,
    };
  }
  const q = quorumVerdict(req.votes, { primary, probeAzs: req.probeAzs, now: req.now, settings: req.settings });
  if (q.verdict === 'primary-up') {
    return { action: 'steady', primary, reason: `automatic failover on: ${q.reason}` };
  }
  return {
    action: 'paused',
    primary,
    reason: `automatic failover still off: the probes do not see ${primary} up as primary (${q.reason}); run \`pgquorum resume\` again once they do`,
  };
}
