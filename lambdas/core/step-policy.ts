import { staleEpoch } from './lease';
import type { Lease, Mode, RunOutcome } from './types';

/**
 * How a step relates to the lease (invariant 5), declared once per step in the task wrapper:
 * - `none`: before the lease (ValidateInput), nothing to check;
 * - `acquire`: takes the lease, so it needs the caller's execution name;
 * - `holder`: the caller holds the in-flight epoch and its input matches the run's record;
 * - `abort`: as `holder`, but a refusal ends quietly (a stranger's or a stale abort has nothing to undo);
 * - `after-commit`: the epoch committed and the node acted on is not the lease's primary.
 */
export type StepPolicy = 'none' | 'acquire' | 'holder' | 'abort' | 'after-commit';

/** What a `holder` step needs the record to hold before it may act. */
export type RunRequirement = 'candidate' | 'old-primary-out' | 'promoted';

/** A step's declared policy. */
export interface StepRule {
  readonly policy: StepPolicy;
  /** `holder` only: record fields that must be present (and match the input). @default [] */
  readonly requires?: readonly RunRequirement[];
  /** `holder` only: an ended run this step may find after its own first attempt (a retry after the write). */
  readonly retryOf?: RunOutcome;
}

/** What a step claims about its run: the run state it was given, and who called. */
export interface StepClaim {
  readonly mode: Mode;
  readonly epoch?: number;
  readonly holder?: string;
  readonly oldPrimary?: string;
  readonly candidate?: string;
}

/** The wrapper's verdict: act, recognise a finished retry, skip quietly, or refuse with nothing changed. */
export type StepVerdict =
  | { readonly verdict: 'act' }
  | { readonly verdict: 'retried'; readonly outcome: RunOutcome; readonly reason: string }
  | { readonly verdict: 'skip'; readonly reason: string }
  | { readonly verdict: 'refuse'; readonly reason: string };

const refuse = (reason: string): StepVerdict => ({ verdict: 'refuse', reason });

/**
 * Decides whether a step may act for the run it claims to be part of. The
 * epoch alone is a sequence number anyone can read (execution names, status,
 * the table); the record names the holder and what the run decided, so a
 * crafted call that disagrees with it, or comes from anyone but the holder,
 * is refused before anything changes.
 */
export function authorizeStep(lease: Lease, claim: StepClaim, rule: StepRule): StepVerdict {
  switch (rule.policy) {
    case 'none':
      return { verdict: 'act' };
    case 'acquire':
      return claim.holder
        ? { verdict: 'act' }
        : refuse('no execution name: the lease is only taken by a state-machine execution');
    case 'after-commit':
      return afterCommit(lease, claim);
    case 'abort':
    case 'holder': {
      const v = holderVerdict(lease, claim, rule);
      return rule.policy === 'abort' && v.verdict === 'refuse' ? { verdict: 'skip', reason: v.reason } : v;
    }
  }
}

function holderVerdict(lease: Lease, claim: StepClaim, rule: StepRule): StepVerdict {
  if (claim.epoch === undefined) return refuse('the run holds no epoch');
  if (lease.epoch !== claim.epoch) return refuse(staleEpoch(lease, claim.epoch)!);
  const run = lease.run;
  if (!run) return refuse(`epoch ${claim.epoch} carries no run record: no run holds it`);
  if (!claim.holder)
    return refuse(`no execution name: only the holder of epoch ${claim.epoch} (${run.holder}) may act`);
  if (claim.holder !== run.holder)
    return refuse(`${claim.holder} is not the holder of epoch ${claim.epoch} (${run.holder})`);
  if (claim.mode !== run.mode) return refuse(`epoch ${claim.epoch} is a ${run.mode}, not a ${claim.mode}`);
  if (claim.oldPrimary !== run.oldPrimary) {
    return refuse(`epoch ${claim.epoch} replaces ${run.oldPrimary}, not ${claim.oldPrimary ?? 'no node'}`);
  }
  if (run.candidate !== undefined && claim.candidate !== undefined && claim.candidate !== run.candidate) {
    return refuse(`epoch ${claim.epoch} chose ${run.candidate}, not ${claim.candidate}`);
  }
  for (const need of rule.requires ?? []) {
    const missing = missingRequirement(run, claim, need);
    if (missing) return refuse(`epoch ${claim.epoch} ${missing}`);
  }
  if (run.outcome) {
    if (run.outcome === rule.retryOf) {
      return {
        verdict: 'retried',
        outcome: run.outcome,
        reason: `epoch ${claim.epoch} already ${run.outcome} by ${run.holder}`,
      };
    }
    return refuse(`epoch ${claim.epoch} already ended (${run.outcome})`);
  }
  const stale = staleEpoch(lease, claim.epoch);
  return stale ? refuse(stale) : { verdict: 'act' };
}

function missingRequirement(run: NonNullable<Lease['run']>, claim: StepClaim, need: RunRequirement): string | null {
  switch (need) {
    case 'candidate':
      if (!run.candidate) return 'has no candidate recorded';
      return claim.candidate === run.candidate ? null : `chose ${run.candidate}, not ${claim.candidate ?? 'no node'}`;
    case 'old-primary-out':
      if (run.mode === 'failover') return run.fenceVerified ? null : `has not verified the fence of ${run.oldPrimary}`;
      return run.finalLsn ? null : `has not stopped ${run.oldPrimary} at a final checkpoint`;
    case 'promoted':
      return run.promotedLsn ? null : `has not promoted ${run.candidate ?? 'a candidate'}`;
  }
}

/**
 * After the commit the lease is steady (or paused), so the epoch check of an
 * in-flight step does not apply; what must hold instead is that the epoch is
 * still current, the run (or the operator's rejoin) acts on a node the lease
 * does not name as primary, and follows the node it does name.
 */
function afterCommit(lease: Lease, claim: StepClaim): StepVerdict {
  if (claim.epoch === undefined) return refuse('the run holds no epoch');
  if (lease.epoch !== claim.epoch) {
    return { verdict: 'skip', reason: `epoch ${claim.epoch} is stale (lease at ${lease.epoch})` };
  }
  if (lease.state !== 'steady' && lease.state !== 'paused') {
    return refuse(`epoch ${claim.epoch} has not committed: the lease is ${lease.state}`);
  }
  if (claim.oldPrimary === undefined || claim.oldPrimary === lease.primary) {
    return refuse(
      `${claim.oldPrimary ?? 'no node'} is the lease's primary at epoch ${lease.epoch}: it is never rejoined`,
    );
  }
  if (claim.candidate !== lease.primary) {
    return refuse(
      `the lease's primary at epoch ${lease.epoch} is ${lease.primary}, not ${claim.candidate ?? 'no node'}`,
    );
  }
  // The operator's rejoin invokes without an execution name; a run's own step must be the committed holder.
  if (
    claim.holder !== undefined &&
    lease.run &&
    (lease.run.holder !== claim.holder || lease.run.outcome !== 'committed')
  ) {
    return refuse(`${claim.holder} did not commit epoch ${claim.epoch}`);
  }
  return { verdict: 'act' };
}
