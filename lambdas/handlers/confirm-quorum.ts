import { FatalError } from '../core/errors';
import { releaseLease } from '../core/lease';
import { quorumVerdict, voterAzs } from '../core/quorum';
import { lastSeenPrimaryLsn, primaryLsnRate } from '../core/rpo';
import { record, task } from './task';

/**
 * Failover only: re-reads the votes under the lease. The trigger may be an
 * alarm or a probe that saw an older picture; if the quorum does not confirm
 * the primary is down now, the lease is given back and nothing else happens.
 * A retry whose first attempt already gave the lease back ends the same way.
 */
export const handler = task(
  'confirm-quorum',
  { needs: ['epoch', 'oldPrimary'], policy: 'holder', retryOf: 'released' },
  async (state, d, ev, ctx) => {
    if (ctx.verdict.verdict === 'retried') {
      return { ...state, quorumConfirmed: false, quorumReason: ctx.lease?.reason ?? ctx.verdict.reason };
    }
    const oldPrimary = state.oldPrimary;
    const votes = await d.store.getVotes();
    const lastSeen = lastSeenPrimaryLsn(votes, oldPrimary);
    const rate = primaryLsnRate(votes, oldPrimary);
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
    const probeAzs = voterAzs(d.config.PGQ_PROBE_AZS?.split(','), votes);
    const q = quorumVerdict(votes, { primary: oldPrimary, probeAzs, now: d.now(), settings: d.config.settings });
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
    const epoch = state.epoch;
    const t = await d.store.transitionLease(
      (l) => releaseLease(l, { epoch, holder: ev.executionName, reason: `no failover: ${q.reason}`, now: d.now() }),
      () => ({
        event: { epoch, fields: { outcome: 'aborted', reason: `released: quorum not confirmed (${q.reason})` } },
      }),
    );
    if (!t.ok) throw new FatalError(t.reason);
    return { ...state, quorumConfirmed: false, quorumReason: q.reason };
  },
);
