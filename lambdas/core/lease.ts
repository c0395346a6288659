import type { Lease, LeaseState, Mode, RunOutcome, RunRecord, SyncDegraded } from './types';

/** A lease transition either yields the next lease or refuses with the reason. */
export type LeaseResult =
  | { readonly ok: true; readonly lease: Lease }
  | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): LeaseResult => ({ ok: false, reason });
const IN_FLIGHT: readonly LeaseState[] = ['failing-over', 'switching-over'];

/** The lease handed to an operator: needs-attention, no holder, its run (if any) marked aborted. */
function toNeedsAttention(lease: Lease, reason: string, now: number): Lease {
  return {
    ...lease,
    state: 'needs-attention',
    holder: null,
    leaseUntil: 0,
    reason,
    updatedAt: now,
    resumeState: undefined,
    ...(lease.run ? { run: { ...lease.run, outcome: 'aborted' as const } } : {}),
  };
}

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
  req: {
    mode: Mode;
    holder: string;
    now: number;
    durationMs: number;
    reason: string;
    /**
     * An operator's `failover --to NODE --force`: allowed from paused too, where nothing automatic runs to race it
     * (the way forward after `resume --primary OLD` while OLD is down). The lease returns to paused after it.
     * @default false
     */
    forced?: boolean;
  },
): LeaseResult {
  if (IN_FLIGHT.includes(lease.state)) {
    const expired = lease.leaseUntil <= req.now;
    return refuse(
      `lease held by ${lease.holder ?? 'unknown'} (${lease.state}, epoch ${lease.epoch})` +
        (expired ? `, expired ${req.now - lease.leaseUntil} ms ago: needs an operator` : ''),
    );
  }
  const allowed: readonly LeaseState[] = req.mode === 'failover' && !req.forced ? ['steady'] : ['steady', 'paused'];
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
      run: { holder: req.holder, mode: req.mode, oldPrimary: lease.primary },
    },
  };
}

/** Why `holder` may not end or advance the run at `epoch`, or null when it is that run's holder. */
function notHolder(lease: Lease, epoch: number, holder: string | undefined): string | null {
  if (lease.epoch !== epoch) return `stale epoch ${epoch}: the lease is at epoch ${lease.epoch} (${lease.state})`;
  if (!lease.run) return `epoch ${epoch} carries no run record: no run holds it`;
  if (!holder) return `no execution name: only the holder of epoch ${epoch} (${lease.run.holder}) may act`;
  if (holder !== lease.run.holder) return `${holder} is not the holder of epoch ${epoch} (${lease.run.holder})`;
  return null;
}

/** True when the run at `epoch` held by `holder` already ended with `outcome` (a retry after the write). */
export function endedAs(lease: Lease, req: { epoch: number; holder?: string }, outcome: RunOutcome): boolean {
  return notHolder(lease, req.epoch, req.holder) === null && lease.run?.outcome === outcome;
}

/** What a step adds to its run's record. */
export type RunProgress = Partial<Pick<RunRecord, 'candidate' | 'fenceVerified' | 'finalLsn' | 'promotedLsn'>>;

/**
 * Advances the run's record: only its holder, only while in flight, only in
 * order (a candidate before the fence is proven, the fence or the final
 * checkpoint before a promotion), and never rewriting a decision: a field
 * already recorded with the same value is a retry (the lease comes back
 * unchanged); with another value the step refuses. The first promoted LSN
 * recorded stands (a retried promote of a promoted node reads a later LSN).
 */
export function advanceRun(lease: Lease, req: { epoch: number; holder?: string; progress: RunProgress }): LeaseResult {
  const who = notHolder(lease, req.epoch, req.holder);
  if (who) return refuse(who);
  const stale = staleEpoch(lease, req.epoch);
  if (stale) return refuse(stale);
  const run = lease.run!;
  const p = req.progress;
  if (p.candidate !== undefined && run.candidate !== undefined && p.candidate !== run.candidate) {
    return refuse(`epoch ${req.epoch} already chose ${run.candidate}, not ${p.candidate}`);
  }
  const candidate = p.candidate ?? run.candidate;
  if ((p.fenceVerified || p.finalLsn || p.promotedLsn) && !candidate) {
    return refuse(`epoch ${req.epoch} has no candidate recorded yet`);
  }
  if (p.fenceVerified && run.mode !== 'failover') return refuse(`a ${run.mode} does not fence`);
  if (p.finalLsn !== undefined) {
    if (run.mode !== 'switchover') return refuse(`a ${run.mode} has no final checkpoint`);
    if (run.finalLsn !== undefined && run.finalLsn !== p.finalLsn) {
      return refuse(`epoch ${req.epoch} already recorded the final checkpoint ${run.finalLsn}, not ${p.finalLsn}`);
    }
  }
  if (p.promotedLsn !== undefined) {
    const ready = run.mode === 'failover' ? (p.fenceVerified ?? run.fenceVerified) : (p.finalLsn ?? run.finalLsn);
    if (!ready) {
      return refuse(
        run.mode === 'failover'
          ? `epoch ${req.epoch} has not verified the fence of ${run.oldPrimary}: nothing may be promoted`
          : `epoch ${req.epoch} has not stopped ${run.oldPrimary} at a final checkpoint: nothing may be promoted`,
      );
    }
  }
  const next: RunRecord = {
    ...run,
    ...(candidate !== undefined ? { candidate } : {}),
    ...(p.fenceVerified || run.fenceVerified ? { fenceVerified: true } : {}),
    ...((p.finalLsn ?? run.finalLsn) !== undefined ? { finalLsn: p.finalLsn ?? run.finalLsn } : {}),
    ...((run.promotedLsn ?? p.promotedLsn) !== undefined ? { promotedLsn: run.promotedLsn ?? p.promotedLsn } : {}),
  };
  const same = (Object.keys(next) as (keyof RunRecord)[]).every((k) => next[k] === run[k]);
  if (same && Object.keys(next).length === Object.keys(run).length) return { ok: true, lease };
  return { ok: true, lease: { ...lease, run: next } };
}

/**
 * Ends a successful run: the new primary is recorded and the cluster returns
 * to the state it started from. Only the holder commits, only the candidate it
 * recorded and only once that candidate is promoted. A retry whose first
 * attempt already committed gets the lease back unchanged.
 */
export function commitLease(
  lease: Lease,
  req: { epoch: number; holder?: string; primary: string; now: number },
): LeaseResult {
  if (endedAs(lease, req, 'committed') && lease.primary === req.primary) return { ok: true, lease };
  const who = notHolder(lease, req.epoch, req.holder);
  if (who) return refuse(who);
  const stale = staleEpoch(lease, req.epoch);
  if (stale) return refuse(stale);
  const run = lease.run!;
  if (run.candidate !== req.primary) {
    return refuse(`epoch ${req.epoch} chose ${run.candidate ?? 'no candidate'}, not ${req.primary}`);
  }
  if (!run.promotedLsn) return refuse(`epoch ${req.epoch} has not promoted ${req.primary}`);
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
      run: { ...run, outcome: 'committed' },
    },
  };
}

/**
 * Ends a failed run: needs-attention with the reason, so nothing automatic
 * happens until an operator looks. Only the holder aborts its own run, and
 * only while it is in flight: a run that committed or gave the lease back has
 * nothing to undo (a stranger's abort must not put a steady cluster into
 * needs-attention). A retried abort gets the lease back unchanged.
 */
export function abortLease(
  lease: Lease,
  req: { epoch: number; holder?: string; reason: string; now: number },
): LeaseResult {
  if (endedAs(lease, req, 'aborted')) return { ok: true, lease };
  const who = notHolder(lease, req.epoch, req.holder);
  if (who) return refuse(who);
  if (lease.run?.outcome) return refuse(`epoch ${req.epoch} already ended (${lease.run.outcome}): nothing to abort`);
  const stale = staleEpoch(lease, req.epoch);
  if (stale) return refuse(stale);
  return { ok: true, lease: toNeedsAttention(lease, req.reason, req.now) };
}

/**
 * Ends a switchover that failed before its promotion (invariant 9): the
 * lease goes back to the state the run started from with the old primary,
 * which the rollback step restarted and proved writable. Only the holder,
 * only a switchover in flight, never once a promotion is recorded (rolling
 * back then would fork two timelines). A retry whose first attempt already
 * wrote it gets the lease back unchanged.
 */
export function rollbackLease(
  lease: Lease,
  req: { epoch: number; holder?: string; reason: string; now: number },
): LeaseResult {
  if (endedAs(lease, req, 'rolled-back')) return { ok: true, lease };
  const who = notHolder(lease, req.epoch, req.holder);
  if (who) return refuse(who);
  if (lease.run?.outcome)
    return refuse(`epoch ${req.epoch} already ended (${lease.run.outcome}): nothing to roll back`);
  const stale = staleEpoch(lease, req.epoch);
  if (stale) return refuse(stale);
  const run = lease.run!;
  if (run.mode !== 'switchover') return refuse(`a ${run.mode} is never rolled back`);
  if (run.promotedLsn) {
    return refuse(
      `epoch ${req.epoch} promoted ${run.candidate ?? 'its candidate'} at ${run.promotedLsn}: rolling back would fork two timelines`,
    );
  }
  return {
    ok: true,
    lease: {
      ...lease,
      state: lease.resumeState ?? 'steady',
      primary: run.oldPrimary,
      holder: null,
      leaseUntil: 0,
      reason: req.reason,
      updatedAt: req.now,
      resumeState: undefined,
      run: { ...run, outcome: 'rolled-back' },
    },
  };
}

/**
 * The automatic path's own escalation (anti-flap, a candidate over the lag
 * budget): a steady cluster goes to needs-attention. Never an in-flight one:
 * only that run's holder may end it.
 */
export function escalateLease(lease: Lease, req: { reason: string; now: number }): LeaseResult {
  if (lease.state === 'needs-attention') return { ok: true, lease };
  if (lease.state !== 'steady') return refuse(`cannot escalate a ${lease.state} lease (epoch ${lease.epoch})`);
  return {
    ok: true,
    lease: { ...lease, state: 'needs-attention', holder: null, leaseUntil: 0, reason: req.reason, updatedAt: req.now },
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
export function releaseLease(
  lease: Lease,
  req: { epoch: number; holder?: string; reason: string; now: number },
): LeaseResult {
  if (endedAs(lease, req, 'released')) return { ok: true, lease };
  const who = notHolder(lease, req.epoch, req.holder);
  if (who) return refuse(who);
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
      run: { ...lease.run!, outcome: 'released' },
    },
  };
}

/**
 * Operator break of a stuck in-flight lease (an execution that was stopped,
 * timed out or failed where no Catch reaches Abort): needs-attention, as an
 * abort would have left it. Only the epoch the operator names, and never while
 * the holder execution still runs: that run may still be acting.
 */
export function breakLease(
  lease: Lease,
  req: {
    epoch: number;
    holderStatus: string;
    now: number;
    reason: string;
    /** When the holder execution stopped, failed or timed out (DescribeExecution's stopDate), if known. */
    holderEndedAt?: number;
    /** How long its tasks may still run after that (contract IN_FLIGHT_TASK_DRAIN_MS). @default 0 */
    drainMs?: number;
  },
): LeaseResult {
  if (lease.epoch !== req.epoch) return refuse(`stale epoch ${req.epoch}: the lease is at epoch ${lease.epoch}`);
  if (!IN_FLIGHT.includes(lease.state))
    return refuse(`epoch ${req.epoch} is not in flight: the lease is ${lease.state}`);
  const holder = lease.run?.holder ?? lease.holder ?? '?';
  if (req.holderStatus === 'RUNNING') {
    return refuse(`the holder execution ${holder} is still running: stop it first`);
  }
  // A stopped execution's task may still be fencing or promoting until its own timeout (Step Functions does not
  // stop a Lambda invocation in flight): breaking the lease before that could let a new run act beside it.
  if (req.holderEndedAt !== undefined) {
    const left = req.holderEndedAt + (req.drainMs ?? 0) - req.now;
    if (left > 0) {
      return refuse(
        `the holder execution ${holder} ended ${Math.round((req.now - req.holderEndedAt) / 1000)} s ago and a task it started may still run: try again in ${Math.ceil(left / 1000)} s`,
      );
    }
  }
  return { ok: true, lease: toNeedsAttention(lease, req.reason, req.now) };
}

/**
 * onNoSyncStandby degrade: records that `primary`'s synchronous_standby_names is being emptied. Only while the
 * lease is steady, names that primary and is still at the epoch the probe decided on: never during a run (a
 * run's fence and RPO account read this record and must see it fixed). The compare-and-set makes one probe of
 * three the one that acts; a second finds the record and gets the lease back unchanged.
 */
export function degradeSyncLease(
  lease: Lease,
  req: { primary: string; epoch: number; savedNames: string; now: number },
): LeaseResult {
  if (lease.syncDegraded?.primary === req.primary && lease.epoch === req.epoch) return { ok: true, lease };
  if (lease.epoch !== req.epoch) return refuse(`stale epoch ${req.epoch}: the lease is at epoch ${lease.epoch}`);
  if (lease.state !== 'steady') return refuse(`no degrade while the lease is ${lease.state} (epoch ${lease.epoch})`);
  if (lease.primary !== req.primary) return refuse(`the lease names ${lease.primary}, not ${req.primary}`);
  if (lease.syncDegraded) return refuse(`a degrade of ${lease.syncDegraded.primary} is still recorded`);
  const syncDegraded: SyncDegraded = {
    primary: req.primary,
    epoch: req.epoch,
    since: req.now,
    savedNames: req.savedNames,
  };
  return { ok: true, lease: { ...lease, syncDegraded } };
}

/** A standby streams again: the degrade record asks for the saved setting back (once; not during a run). */
export function restoreSyncLease(lease: Lease, req: { primary: string; now: number }): LeaseResult {
  const rec = lease.syncDegraded;
  if (!rec || rec.primary !== req.primary) return refuse(`no degrade of ${req.primary} is recorded`);
  if (rec.restoringSince !== undefined) return { ok: true, lease };
  if (IN_FLIGHT.includes(lease.state))
    return refuse(`no restore while the lease is ${lease.state} (epoch ${lease.epoch})`);
  return { ok: true, lease: { ...lease, syncDegraded: { ...rec, restoringSince: req.now } } };
}

/**
 * The restore did not take (no standby became synchronous within degradeAfterSec): the record goes back to
 * degraded and asks for '' again. Its `since` stays: the RPO window it opened was never closed. Only while the
 * lease is steady and names that primary, and only for the restore the probe read (`restoringSince`): a second
 * probe, or one that read a newer restore, gets the lease back unchanged or refused.
 */
export function redegradeSyncLease(lease: Lease, req: { primary: string; restoringSince: number }): LeaseResult {
  const rec = lease.syncDegraded;
  if (!rec || rec.primary !== req.primary) return refuse(`no degrade of ${req.primary} is recorded`);
  if (rec.restoringSince === undefined) return { ok: true, lease };
  if (rec.restoringSince !== req.restoringSince) {
    return refuse(`${req.primary}'s restore is recorded at ${rec.restoringSince}, not ${req.restoringSince}`);
  }
  if (lease.state !== 'steady') return refuse(`no degrade while the lease is ${lease.state} (epoch ${lease.epoch})`);
  if (lease.primary !== req.primary) return refuse(`the lease names ${lease.primary}, not ${req.primary}`);
  const { restoringSince: _restored, ...degraded } = rec;
  return { ok: true, lease: { ...lease, syncDegraded: degraded } };
}

/**
 * Clears the degrade record: its primary has the saved setting back and a synchronous standby, or the lease
 * has moved on to another primary (a failover ended the window). Never during a run.
 */
export function clearSyncDegradedLease(lease: Lease, req: { primary: string }): LeaseResult {
  const rec = lease.syncDegraded;
  if (!rec || rec.primary !== req.primary) return { ok: true, lease };
  if (IN_FLIGHT.includes(lease.state))
    return refuse(`no clear while the lease is ${lease.state} (epoch ${lease.epoch})`);
  if (rec.primary === lease.primary && rec.restoringSince === undefined) {
    return refuse(`${rec.primary} is still degraded: restore before clearing`);
  }
  const { syncDegraded: _gone, ...rest } = lease;
  return { ok: true, lease: rest };
}

/**
 * Gives up the run's candidate after it failed (Replan): it moves from `candidate` to `excluded`, its promoted
 * LSN is forgotten, the proven fence of the old primary stays. The one transition that may replace a recorded
 * candidate, and only after the caller fenced it (invariant 1: a second node is promoted only once the first is
 * fenced). Failover only; only the holder, in flight, for the candidate the record names. A retry whose first
 * attempt already wrote (no candidate, this one excluded) gets the lease back unchanged.
 */
export function replanRun(lease: Lease, req: { epoch: number; holder?: string; candidate: string }): LeaseResult {
  const who = notHolder(lease, req.epoch, req.holder);
  if (who) return refuse(who);
  const stale = staleEpoch(lease, req.epoch);
  if (stale) return refuse(stale);
  const run = lease.run!;
  if (run.mode !== 'failover') return refuse(`a ${run.mode} does not re-plan`);
  const excluded = run.excluded ?? [];
  if (run.candidate === undefined && excluded.includes(req.candidate)) return { ok: true, lease };
  if (run.candidate !== req.candidate) {
    return refuse(`epoch ${req.epoch} chose ${run.candidate ?? 'no candidate'}, not ${req.candidate}`);
  }
  const { candidate: _c, promotedLsn: _p, ...rest } = run;
  return { ok: true, lease: { ...lease, run: { ...rest, excluded: [...excluded, req.candidate] } } };
}

/**
 * `resume` whose primary the probes have not yet seen up (resumeDecision): the named primary is recorded and the
 * lease stays (or becomes) paused, so the probes vote about it while nothing automatic happens.
 */
export function resumePausedLease(lease: Lease, req: { now: number; reason: string; primary: string }): LeaseResult {
  if (lease.state !== 'paused' && lease.state !== 'needs-attention') {
    return refuse(`cannot resume while ${lease.state} (epoch ${lease.epoch})`);
  }
  return {
    ok: true,
    lease: { ...lease, state: 'paused', primary: req.primary, reason: req.reason, updatedAt: req.now },
  };
}
