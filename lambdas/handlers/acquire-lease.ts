import { FatalError } from '../core/errors';
import { acquireLease } from '../core/lease';
import { checkRunRequest, forcedFailover } from '../core/run-checks';
import { StepRefusedError, task } from './task';

/**
 * Takes the lease: the epoch it moves to is this run's fencing token, and the
 * lease records the run (holder execution, old primary) every later step is
 * checked against. The lease-and-registry pre-checks run again under the same
 * read, so a direct invoke cannot skip ValidateInput (wrong cluster, anti-flap).
 */
export const handler = task('acquire-lease', { policy: 'acquire' }, async (state, d, ev) => {
  // The acquire policy already refused a nameless call; this check only carries the name typed.
  const holder = ev.executionName;
  if (!holder) throw new StepRefusedError('acquire-lease refused: the event has no executionName; nothing changed');
  const nodes = await d.store.listNodes();
  const now = d.now();
  const t = await d.store.transitionLease((lease) => {
    // A retried acquire that already won finds its own record at the next epoch: same outcome.
    if (lease.run?.holder === holder && (lease.state === 'failing-over' || lease.state === 'switching-over')) {
      return { ok: true, lease };
    }
    const pre = checkRunRequest(state.input, {
      cluster: d.config.PGQ_CLUSTER,
      lease,
      nodes,
      settings: d.config.settings,
      now,
    });
    if (!pre.ok) return pre;
    return acquireLease(lease, {
      mode: state.input.mode,
      holder,
      now,
      durationMs: d.config.settings.leaseDurationMs,
      reason: state.input.reason,
      forced: forcedFailover(state.input),
    });
  });
  if (!t.ok) throw new FatalError(`lease not acquired: ${t.reason}`);
  const { epoch, run } = t.lease;
  // acquireLease always writes the new run's record; a lease without one is not this run's.
  if (!run) throw new FatalError(`lease not acquired: epoch ${epoch} carries no run record`);
  const startedAt = t.lease.updatedAt;
  // Idempotent: a retry whose first attempt wrote the lease but not the event creates it now.
  await d.store.startEvent({
    epoch,
    kind: state.input.mode,
    startedAt,
    outcome: 'running',
    oldPrimary: run.oldPrimary,
    reason: state.input.reason,
    timeline: [
      { step: 'acquire-lease', at: startedAt, detail: `epoch ${epoch} taken by ${holder}: ${state.input.reason}` },
    ],
  });
  return { input: state.input, epoch, holder, oldPrimary: run.oldPrimary, startedAt };
});
