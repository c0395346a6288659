import type { ControllerSettings } from './settings';
import type { Lease } from './types';

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
