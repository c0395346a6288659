import { abortLease } from '../core/lease';
import { task } from './task';

/**
 * Every failure path ends here: the lease goes to needs-attention with the
 * reason (nothing automatic happens until an operator resumes), the history
 * records it, the needs-attention metric and a notification go out. Never throws
 * for a stale epoch: a newer run owns the cluster and this one has nothing to undo.
 */
export const handler = task(
  'abort',
  async (state, d) => {
    const reason = `${state.input.mode} aborted: ${state.error?.Cause ?? state.error?.Error ?? 'unknown error'}`.slice(
      0,
      900,
    );
    if (state.epoch !== undefined) {
      const lease = await d.store.getLease();
      const r = abortLease(lease, { epoch: state.epoch, reason, now: d.now() });
      if (r.ok && r.lease !== lease) await d.store.putLease(r.lease, { epoch: lease.epoch, state: lease.state });
      await d.store.updateEvent(state.epoch, {
        outcome: 'aborted',
        reason,
        ...(state.candidate ? { candidate: state.candidate } : {}),
      });
      await d.store.appendTimeline(state.epoch, { step: 'abort', at: d.now(), detail: reason });
    }
    await d.metrics.needsAttention();
    await d.notify(`pgquorum ${d.config.PGQ_CLUSTER}: needs attention`, reason);
    d.log.warn('run aborted', { reason, epoch: state.epoch });
    return state;
  },
  { checkEpoch: false },
);
