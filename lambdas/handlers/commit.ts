import { commitHealth, committedLabel, committedRegistry } from '../core/commit-health';
import { FatalError } from '../core/errors';
import { commitLease } from '../core/lease';
import { accountRpo } from '../core/rpo';
import type { RegisteredNode } from '../ports/store-port';
import { record, task } from './task';

/**
 * Records the new primary in the lease (conditional on the run's record: its
 * holder, its candidate, promoted), with the registry and the history in the
 * same transaction, so neither ever names a primary the lease does not. A
 * retry whose first attempt committed recognises its own record and writes
 * the same registry and history again under it: same result, no Abort.
 */
export const handler = task(
  'commit',
  { needs: ['candidate', 'epoch'], policy: 'holder', requires: ['candidate', 'promoted'], retryOf: 'committed' },
  async (state, d, ev, { lease }) => {
    const epoch = state.epoch;
    const candidate = state.candidate;
    // onNoSyncStandby degrade: the old primary acknowledged alone since the record's start (frozen during a run).
    const window = lease?.syncDegraded?.primary === state.oldPrimary ? lease?.syncDegraded : undefined;
    const accounted =
      state.input.mode === 'switchover'
        ? {
            bytesAtRisk: 0n,
            reason: `none: planned switchover, ${candidate} replayed past the final checkpoint ${state.finalLsn}`,
          }
        : accountRpo(
            state.oldPrimaryLastSeenLsn ?? null,
            state.promotedLsn ?? null,
            d.config.settings.replicationMode === 'async' || window
              ? {
                  rateBytesPerSec: state.oldPrimaryLsnRate ?? null,
                  // Its last good probe, then at most one interval until the next, which may take the probe deadline.
                  windowMs: d.config.settings.probeIntervalMs + d.pg.probeDeadlineMs,
                }
              : undefined,
          );
    const rpo = window
      ? {
          ...accounted,
          reason: `${accounted.reason} (async semantics: ${state.oldPrimary} ran without a synchronous standby since ${new Date(window.since).toISOString()}, onNoSyncStandby degrade)`,
        }
      : accounted;
    const registry = committedRegistry<RegisteredNode>(await d.store.listNodes(), {
      mode: state.input.mode,
      primary: candidate,
      oldPrimary: state.oldPrimary,
      repointed: state.repointed,
      givenUp: state.excluded ?? [],
    });
    // The lease commits either way; what the cluster is missing is told, not hidden (issue 13).
    const health = commitHealth({
      primary: candidate,
      replicas: state.replicas ?? [],
      repointed: state.repointed,
      readers: state.readers,
      deadNodes: state.excluded ?? [],
    });
    const t = await d.store.transitionLease(
      (l) => commitLease(l, { epoch, holder: ev.executionName, primary: candidate, now: d.now() }),
      () => ({
        nodes: registry,
        event: {
          epoch,
          fields: {
            outcome: 'committed',
            newPrimary: candidate,
            oldPrimaryLastSeenLsn: state.oldPrimaryLastSeenLsn ?? null,
            promotedLsn: state.promotedLsn ?? null,
            bytesAtRisk: rpo.bytesAtRisk === null ? null : rpo.bytesAtRisk.toString(),
            ...(health.degraded.length ? { degraded: health.degraded } : {}),
          },
        },
      }),
    );
    if (!t.ok) throw new FatalError(`commit refused: ${t.reason}`);
    // The commit time is the lease's, so a retry reports the same duration as the first attempt would have.
    const duration = t.lease.updatedAt - (state.startedAt ?? t.lease.updatedAt);
    await record(d, state, 'commit', `${candidate} is primary at epoch ${epoch}; RPO ${rpo.reason}`);
    if (health.degraded.length) await record(d, state, 'commit-degraded', health.reason);
    await d.metrics.failoverDuration(state.input.mode, duration);
    if (rpo.bytesAtRisk !== null) await d.metrics.bytesAtRisk(Number(rpo.bytesAtRisk));
    await d.notify(
      `pgquorum ${d.config.PGQ_CLUSTER}: ${state.input.mode} to ${candidate} ${committedLabel(health.degraded)}`,
      `${state.input.mode} ${state.oldPrimary} -> ${candidate} at epoch ${epoch} in ${duration} ms. ${state.candidateReason ?? ''}. RPO: ${rpo.reason}.` +
        (state.excluded?.length ? ` Given up and fenced: ${state.excluded.join(', ')}.` : '') +
        (health.degraded.length ? ` Degraded: ${health.degraded.join('; ')}.` : ''),
    );
    return { ...state, ...(health.degraded.length ? { degraded: [...health.degraded] } : {}) };
  },
);
