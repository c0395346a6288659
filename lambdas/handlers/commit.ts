import { FatalError } from '../core/errors';
import { commitLease } from '../core/lease';
import { accountRpo } from '../core/rpo';
import { record, task } from './task';

/** Records the new primary in the lease (conditional on the epoch), the registry and the history, with the RPO account. */
export const handler = task('commit', async (state, d) => {
  const lease = await d.store.getLease();
  const r = commitLease(lease, { epoch: state.epoch!, primary: state.candidate!, now: d.now() });
  if (!r.ok) throw new FatalError(`commit refused: ${r.reason}`);
  const rpo =
    state.input.mode === 'switchover'
      ? {
          bytesAtRisk: 0n,
          reason: `none: planned switchover, ${state.candidate} replayed past the final checkpoint ${state.finalLsn}`,
        }
      : accountRpo(
          state.oldPrimaryLastSeenLsn ?? null,
          state.promotedLsn ?? null,
          d.config.settings.replicationMode === 'async'
            ? {
                rateBytesPerSec: state.oldPrimaryLsnRate ?? null,
                // Its last good probe, then at most one interval until the next, which may take the probe deadline.
                windowMs: d.config.settings.probeIntervalMs + d.pg.probeDeadlineMs,
              }
            : undefined,
        );
  const nodes = await d.store.listNodes();
  for (const n of nodes) {
    if (n.name === state.candidate) await d.store.putNode({ ...n, role: 'primary', status: 'healthy' });
    else if (n.name === state.oldPrimary) {
      // Not healthy until the rejoin step proves it streams: fenced (failover) or stopped (switchover).
      await d.store.putNode({ ...n, role: 'replica', status: state.input.mode === 'failover' ? 'fenced' : 'stopped' });
    } else {
      const repointed = state.repointed?.find((x) => x.replica === n.name);
      await d.store.putNode({ ...n, role: 'replica', status: repointed && !repointed.ok ? 'needs-rejoin' : 'healthy' });
    }
  }
  await d.store.putLease(r.lease, { epoch: lease.epoch, state: lease.state });
  const duration = d.now() - (state.startedAt ?? d.now());
  await d.store.updateEvent(state.epoch!, {
    outcome: 'committed',
    newPrimary: state.candidate,
    oldPrimaryLastSeenLsn: state.oldPrimaryLastSeenLsn ?? null,
    promotedLsn: state.promotedLsn ?? null,
    bytesAtRisk: rpo.bytesAtRisk === null ? null : rpo.bytesAtRisk.toString(),
  });
  await record(d, state, 'commit', `${state.candidate} is primary at epoch ${state.epoch}; RPO ${rpo.reason}`);
  await d.metrics.failoverDuration(state.input.mode, duration);
  if (rpo.bytesAtRisk !== null) await d.metrics.bytesAtRisk(Number(rpo.bytesAtRisk));
  await d.notify(
    `pgquorum ${d.config.PGQ_CLUSTER}: ${state.input.mode} to ${state.candidate} committed`,
    `${state.input.mode} ${state.oldPrimary} -> ${state.candidate} at epoch ${state.epoch} in ${duration} ms. ${state.candidateReason ?? ''}. RPO: ${rpo.reason}.`,
  );
  return state;
});
