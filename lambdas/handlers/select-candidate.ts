import { decideCandidate, refusalWorthAnotherLook } from '../core/candidate';
import { FatalError, RetriableError } from '../core/errors';
import { buildClusterView } from './cluster-view';
import { advance, record, task } from './task';

/** Invariant 4: the most advanced eligible replica (or the operator's checked target), with the reason. */
export const handler = task(
  'select-candidate',
  { needs: ['epoch', 'oldPrimary'], policy: 'holder' },
  async (state, d, ev, ctx) => {
    // After a re-plan: the candidates this run gave up on (its record is authoritative, the state only mirrors it).
    const excluded = ctx.lease?.run?.excluded ?? state.excluded ?? [];
    const [nodes, votes] = await Promise.all([d.store.listNodes(), d.store.getVotes()]);
    const { view } = await buildClusterView(d, { primary: state.oldPrimary, nodes, votes });
    const lastSeen = state.oldPrimaryLastSeenLsn ?? view.primaryLastSeenLsn;
    const viewWithLsn = { ...view, primaryLastSeenLsn: lastSeen };
    // Never a second primary: the previous run's promotion, if that is what left one, is core's to finish.
    const prev =
      state.input.mode === 'failover' && state.epoch > 1 ? await d.store.getEvent(state.epoch - 1) : undefined;
    const pick = decideCandidate({
      mode: state.input.mode,
      view: viewWithLsn,
      oldPrimary: state.oldPrimary,
      settings: d.config.settings,
      ...(state.input.target ? { target: state.input.target } : {}),
      force: Boolean(state.input.force),
      excluded,
      followedTimelines: state.followedTimelines ?? [],
      ...(state.startedAt ? { startedAt: state.startedAt } : {}),
      ...(prev?.outcome === 'aborted' && prev.candidate
        ? { interrupted: { epoch: prev.epoch, candidate: prev.candidate } }
        : {}),
    });
    await record(d, state, 'select-candidate', pick.reason);
    if (pick.action !== 'promote') {
      const again = refusalWorthAnotherLook(pick, state.oldPrimary, excluded);
      throw again ? new RetriableError(`${pick.reason}; ${again}`) : new FatalError(pick.reason);
    }
    // Recorded before anything acts on it: a retry that picks another node refuses instead of fencing for it.
    await advance(d, state, ev, { candidate: pick.candidate });
    // Never the given-up candidates: they are fenced and stopped, and rejoin only by an operator.
    const replicas = nodes
      .map((n) => n.name)
      .filter((n) => n !== pick.candidate && n !== state.oldPrimary && !excluded.includes(n));
    return {
      ...state,
      candidate: pick.candidate,
      candidateReason: pick.reason,
      candidateLsn: pick.receiveLsn,
      oldPrimaryLastSeenLsn: lastSeen,
      replicas,
    };
  },
);
