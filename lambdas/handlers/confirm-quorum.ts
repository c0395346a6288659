import { FatalError } from '../core/errors';
import { releaseLease } from '../core/lease';
import { quorumVerdict } from '../core/quorum';
import { lastSeenPrimaryLsn, primaryLsnRate } from './cluster-view';
import { record, task } from './task';

/**
 * Failover only: re-reads the votes under the lease. The trigger may be an
 * alarm or a probe that saw an older picture; if the quorum does not confirm
 * the primary is down now, the lease is given back and nothing else happens.
 */
export const handler = task('confirm-quorum', async (state, d) => {
  const votes = await d.store.getVotes();
  const lastSeen = lastSeenPrimaryLsn(votes, state.oldPrimary!);
  const rate = primaryLsnRate(votes, state.oldPrimary!);
  if (state.input.force) {
    await record(d, state, 'confirm-quorum', `skipped: operator forced the failover (${state.input.reason})`);
    return {
      ...state,
      quorumConfirmed: true,
      quorumReason: 'forced by operator',
      oldPrimaryLastSeenLsn: lastSeen,
      oldPrimaryLsnRate: rate,
    };
  }
  const probeAzs = [...new Set(votes.map((v) => v.az))];
  // Fewer than three voters must never shrink the majority: require the full fleet's majority.
  const azs = probeAzs.length >= 3 ? probeAzs : [...probeAzs, ...['?1', '?2', '?3'].slice(0, 3 - probeAzs.length)];
  const q = quorumVerdict(votes, {
    primary: state.oldPrimary!,
    probeAzs: azs,
    now: d.now(),
    settings: d.config.settings,
  });
  await record(d, state, 'confirm-quorum', `${q.verdict}: ${q.reason}`);
  if (q.verdict === 'primary-down') {
    return {
      ...state,
      quorumConfirmed: true,
      quorumReason: q.reason,
      oldPrimaryLastSeenLsn: lastSeen,
      oldPrimaryLsnRate: rate,
    };
  }
  const lease = await d.store.getLease();
  const r = releaseLease(lease, { epoch: state.epoch!, reason: `no failover: ${q.reason}`, now: d.now() });
  if (!r.ok) throw new FatalError(r.reason);
  await d.store.putLease(r.lease, { epoch: lease.epoch, state: lease.state });
  await d.store.updateEvent(state.epoch!, {
    outcome: 'aborted',
    reason: `released: quorum not confirmed (${q.reason})`,
  });
  return { ...state, quorumConfirmed: false, quorumReason: q.reason };
});
