import { FatalError } from '../core/errors';
import { acquireLease } from '../core/lease';
import { task } from './task';

/** Takes the lease: the epoch it moves to is this run's fencing token. */
export const handler = task(
  'acquire-lease',
  async (state, d, ev) => {
    const lease = await d.store.getLease();
    const holder = ev.executionName ?? `run-${d.now()}`;
    // A retried acquire that already won finds its own holder at the next epoch: same outcome.
    if (lease.holder === holder && (lease.state === 'failing-over' || lease.state === 'switching-over')) {
      return { ...state, epoch: lease.epoch, holder, oldPrimary: lease.primary, startedAt: lease.updatedAt };
    }
    const r = acquireLease(lease, {
      mode: state.input.mode,
      holder,
      now: d.now(),
      durationMs: d.config.settings.leaseDurationMs,
      reason: state.input.reason,
    });
    if (!r.ok) throw new FatalError(`lease not acquired: ${r.reason}`);
    await d.store.putLease(r.lease, { epoch: lease.epoch, state: lease.state });
    const startedAt = d.now();
    await d.store.startEvent({
      epoch: r.lease.epoch,
      kind: state.input.mode,
      startedAt,
      outcome: 'running',
      oldPrimary: lease.primary,
      reason: state.input.reason,
      timeline: [
        {
          step: 'acquire-lease',
          at: startedAt,
          detail: `epoch ${r.lease.epoch} taken by ${holder}: ${state.input.reason}`,
        },
      ],
    });
    return { ...state, epoch: r.lease.epoch, holder, oldPrimary: lease.primary, startedAt };
  },
  { checkEpoch: false },
);
