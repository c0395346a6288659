import type { Role, RunRecord } from './types';

/** The switchover steps whose failure is caught for a rollback: after the old primary stopped, before promotion. */
export const ROLLBACK_STEPS = ['StopOldPrimary', 'WaitForReplay', 'PromoteTarget'] as const;

/** One of ROLLBACK_STEPS. */
export type RollbackStep = (typeof ROLLBACK_STEPS)[number];

/** What the rollback decision sees: the run's record, the step that failed and why, and a fresh probe of the target. */
export interface SwitchoverFailureView {
  readonly run: RunRecord;
  /** The state that failed (set by the state machine's catch). */
  readonly failedStep: RollbackStep;
  /** The failed step's error, as one sentence. */
  readonly cause: string;
  readonly target: { readonly name: string; readonly reachable: boolean; readonly role: Role };
}

/** Roll back (restart the old primary as primary), or stop for an operator with the next command. */
export type SwitchoverFailureDecision =
  | {
      readonly action: 'rollback';
      readonly reason: string;
      /**
       * Revoke the target's ingress before the old primary restarts: pg_promote was sent to it and may still
       * complete (pg_promote's wait timing out does not cancel the promotion), and a promotion nobody can see
       * must not take client writes beside the restarted old primary.
       */
      readonly fenceTarget: boolean;
    }
  | { readonly action: 'needs-attention'; readonly reason: string };

/**
 * Invariant 9 for a switchover: a failure after StopOldPrimary and before the
 * target is promoted rolls back, restarting the old primary as the primary
 * (its shutdown checkpoint is the last WAL of the only timeline). Once the
 * target is promoted, recorded or seen, a rollback would leave two timelines
 * with writes on each: the way forward is the target, and an operator names it.
 */
export function decideSwitchoverFailure(v: SwitchoverFailureView): SwitchoverFailureDecision {
  const { run, target } = v;
  const old = run.oldPrimary;
  const why = `${v.failedStep} failed: ${v.cause}`;
  if (run.mode !== 'switchover') {
    return { action: 'needs-attention', reason: `a ${run.mode} is never rolled back (${why})` };
  }
  if (run.promotedLsn) {
    return {
      action: 'needs-attention',
      reason: `switchover ${old} -> ${target.name} not rolled back: ${target.name} was promoted at ${run.promotedLsn} and rolling back would fork two timelines (${why}); ${old} stays stopped: verify ${target.name} and run \`pgquorum resume --primary ${target.name}\``,
    };
  }
  if (target.reachable && target.role === 'primary') {
    return {
      action: 'needs-attention',
      reason: `switchover ${old} -> ${target.name} not rolled back: ${target.name} is already primary although no promotion was recorded, and rolling back would fork two timelines (${why}); ${old} stays stopped: verify ${target.name} and run \`pgquorum resume --primary ${target.name}\``,
    };
  }
  const fenceTarget = v.failedStep === 'PromoteTarget';
  const state = target.reachable ? `${target.name} is still a replica` : `${target.name} cannot be reached`;
  return {
    action: 'rollback',
    reason: `switchover ${old} -> ${target.name} rolled back: ${why}; ${state}${
      fenceTarget
        ? ` and pg_promote was sent to it, so its ingress is revoked (rejoin it with \`pgquorum rejoin ${target.name}\`)`
        : ''
    }; ${old} restarted as the primary`,
    fenceTarget,
  };
}

/** How restarting the old primary went: the host command's error if any, then a fresh probe. */
export interface RollbackRestartView {
  readonly oldPrimary: string;
  readonly target: string;
  /** The host command's error (unreachable host, script failure), or undefined when it succeeded. */
  readonly hostError?: string;
  /** The probe after the restart: reachable, and pg_is_in_recovery() false (role primary). */
  readonly probe: { readonly ok: boolean; readonly role?: Role; readonly error?: string };
}

/**
 * The old primary is back as the writer only when it answers as a primary
 * (pg_is_in_recovery() = false); otherwise the cluster has no writer and an
 * operator must choose, and the reason says between what.
 */
export function rollbackRestartOutcome(
  v: RollbackRestartView,
): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  if (v.probe.ok && v.probe.role === 'primary') return { ok: true };
  const seen = v.probe.ok
    ? `it answers as a ${v.probe.role ?? 'node of unknown role'}`
    : `it does not answer (${v.probe.error ?? 'no answer'})`;
  return {
    ok: false,
    reason: `switchover rollback failed: ${v.oldPrimary} could not be restarted as the primary (${
      v.hostError ? `host command: ${v.hostError}; ` : ''
    }${seen}); no node takes writes: start PostgreSQL on ${v.oldPrimary} and run \`pgquorum resume --primary ${v.oldPrimary}\`, or promote ${v.target}, which has not replayed past ${v.oldPrimary}'s final checkpoint, with \`pgquorum failover --to ${v.target} --force\` (writes after its replay position are lost)`,
  };
}
