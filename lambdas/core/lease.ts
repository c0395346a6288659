import type { Lease, LeaseState, Mode } from './types';

/** A lease transition either yields the next lease or refuses with the reason. */
export type LeaseResult =
  | { readonly ok: true; readonly lease: Lease }
  | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): LeaseResult => ({ ok: false, reason });
const IN_FLIGHT: readonly LeaseState[] = ['failing-over', 'switching-over'];

/** The initial lease of a new cluster. */
export function initialLease(primary: string, now: number): Lease {
  return {
    epoch: 1,
    state: 'steady',
    primary,
    holder: null,
    leaseUntil: 0,
    reason: 'initial',
    updatedAt: now,
    lastFailoverAt: null,
  };
}

/** Why a step holding `epoch` must not act, or null when its epoch is current (the fencing-token check). */
export function staleEpoch(lease: Lease, epoch: number): string | null {
  if (lease.epoch !== epoch) return `stale epoch ${epoch}: the lease is at epoch ${lease.epoch} (${lease.state})`;
  if (!IN_FLIGHT.includes(lease.state)) return `epoch ${epoch} is no longer in flight: the lease is ${lease.state}`;
  return null;
}

/**
 * Takes the lease for a failover or switchover: the epoch moves up by one and
 * becomes the fencing token of that run. Failover starts only from steady;
 * switchover also from paused (invariant 8). An in-flight lease is never taken
 * over, even when expired: a Standard execution may still be retrying, and two
 * writers of one epoch is the failure we exist to prevent. An expired holder
 * is reported so an operator can act.
 */
export function acquireLease(
  lease: Lease,
  req: { mode: Mode; holder: string; now: number; durationMs: number; reason: string },
): LeaseResult {
  if (IN_FLIGHT.includes(lease.state)) {
    const expired = lease.leaseUntil <= req.now;
    return refuse(
      `lease held by ${lease.holder ?? 'unknown'} (${lease.state}, epoch ${lease.epoch})` +
        (expired ? `, expired ${req.now - lease.leaseUntil} ms ago: needs an operator` : ''),
    );
  }
  const allowed: readonly LeaseState[] = req.mode === 'failover' ? ['steady'] : ['steady', 'paused'];
  if (!allowed.includes(lease.state)) {
    return refuse(`cannot start a ${req.mode} from ${lease.state}${lease.reason ? ` (${lease.reason})` : ''}`);
  }
  return {
    ok: true,
    lease: {
      ...lease,
      epoch: lease.epoch + 1,
      state: req.mode === 'failover' ? 'failing-over' : 'switching-over',
      holder: req.holder,
      leaseUntil: req.now + req.durationMs,
      reason: req.reason,
      updatedAt: req.now,
      resumeState: lease.state === 'paused' ? 'paused' : 'steady',
    },
  };
}

/** Ends a successful run: the new primary is recorded and the cluster returns to the state it started from. */
export function commitLease(lease: Lease, req: { epoch: number; primary: string; now: number }): LeaseResult {
  const stale = staleEpoch(lease, req.epoch);
  if (stale) return refuse(stale);
  return {
    ok: true,
    lease: {
      ...lease,
      state: lease.resumeState ?? 'steady',
      primary: req.primary,
      holder: null,
      leaseUntil: 0,
      reason: `${lease.state === 'failing-over' ? 'failover' : 'switchover'} to ${req.primary} committed`,
      updatedAt: req.now,
      lastFailoverAt: lease.state === 'failing-over' ? req.now : lease.lastFailoverAt,
      resumeState: undefined,
    },
  };
}

/** Ends a failed run: needs-attention with the reason, so nothing automatic happens until an operator looks. */
export function abortLease(lease: Lease, req: { epoch: number; reason: string; now: number }): LeaseResult {
  if (lease.epoch !== req.epoch) return refuse(`stale epoch ${req.epoch}: the lease is at epoch ${lease.epoch}`);
  if (lease.state === 'needs-attention') return { ok: true, lease };
  return {
    ok: true,
    lease: {
      ...lease,
      state: 'needs-attention',
      holder: null,
      leaseUntil: 0,
      reason: req.reason,
      updatedAt: req.now,
      resumeState: undefined,
    },
  };
}

/** Operator pause: nothing automatic happens (switchover still works). Not while a run is in flight. */
export function pauseLease(lease: Lease, req: { now: number; reason: string }): LeaseResult {
  if (lease.state === 'paused') return { ok: true, lease };
  if (IN_FLIGHT.includes(lease.state)) return refuse(`cannot pause while ${lease.state} (epoch ${lease.epoch})`);
  return { ok: true, lease: { ...lease, state: 'paused', reason: req.reason, updatedAt: req.now } };
}

/**
 * Operator resume, from paused or needs-attention. Resuming from
 * needs-attention must name the primary the operator has verified: after a
 * failed run the controller does not know which node is safe to call primary.
 */
export function resumeLease(lease: Lease, req: { now: number; reason: string; primary?: string }): LeaseResult {
  if (lease.state === 'steady') return { ok: true, lease };
  if (lease.state === 'needs-attention' && !req.primary) {
    return refuse(`resuming from needs-attention (${lease.reason}) needs the verified primary`);
  }
  if (lease.state !== 'paused' && lease.state !== 'needs-attention') {
    return refuse(`cannot resume while ${lease.state} (epoch ${lease.epoch})`);
  }
  return {
    ok: true,
    lease: { ...lease, state: 'steady', primary: req.primary ?? lease.primary, reason: req.reason, updatedAt: req.now },
  };
}

/**
 * Gives an in-flight lease back without changing anything else: used when a
 * run finds nothing to do (the backstop alarm fired but the quorum does not
 * confirm the primary is down). The epoch stays advanced, so any step of the
 * released run that is still retrying is refused.
 */
export function releaseLease(lease: Lease, req: { epoch: number; reason: string; now: number }): LeaseResult {
  const stale = staleEpoch(lease, req.epoch);
  if (stale) return refuse(stale);
  return {
    ok: true,
    lease: {
      ...lease,
      state: lease.resumeState ?? 'steady',
      holder: null,
      leaseUntil: 0,
      reason: req.reason,
      updatedAt: req.now,
      resumeState: undefined,
    },
  };
}
