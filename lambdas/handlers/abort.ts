import { abortLease } from '../core/lease';
import { task } from './task';

/**
 * Every failure path of a run ends here: the lease goes to needs-attention
 * with the reason (nothing automatic happens until an operator resumes), the
 * history records it, the needs-attention metric and a notification go out.
 * Only the holder aborts, only its own in-flight run: a stale or stranger's
 * abort (or one after the run committed) is skipped by the wrapper with nothing
 * changed, and never throws (a newer run owns the cluster). A retry whose first
 * attempt wrote the lease completes the history and notification.
 */
export const handler = task('abort', { policy: 'abort', retryOf: 'aborted' }, async (state, d, ev) => {
  const epoch = state.epoch!;
  const reason = `${state.input.mode} aborted: ${state.error?.Cause ?? state.error?.Error ?? 'unknown error'}`.slice(
    0,
    900,
  );
  const t = await d.store.transitionLease(
    (l) => abortLease(l, { epoch, holder: ev.executionName, reason, now: d.now() }),
    () => ({
      event: {
        epoch,
        fields: { outcome: 'aborted', reason, ...(state.candidate ? { candidate: state.candidate } : {}) },
      },
    }),
  );
  if (!t.ok) {
    d.log.warn('abort skipped', { reason: t.reason, epoch });
    return state;
  }
  await d.store.appendTimeline(epoch, { step: 'abort', at: t.lease.updatedAt, detail: reason });
  await d.metrics.needsAttention();
  await d.notify(`pgquorum ${d.config.PGQ_CLUSTER}: needs attention`, reason);
  d.log.warn('run aborted', { reason, epoch });
  return state;
});
