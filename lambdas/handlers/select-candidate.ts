import { existingPrimaryDecision, selectCandidate, selectSwitchoverTarget } from '../core/candidate';
import { FatalError } from '../core/errors';
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
    let pick =
      state.input.mode === 'switchover'
        ? selectSwitchoverTarget(viewWithLsn, d.config.settings, state.input.target)
        : selectCandidate({
            view: viewWithLsn,
            oldPrimary: state.oldPrimary,
            settings: d.config.settings,
            force: Boolean(state.input.force),
            excluded,
            followedTimelines: state.followedTimelines ?? [],
            ...(excluded.length && state.startedAt ? { streamingAsOf: state.startedAt } : {}),
          });
    if (state.input.mode === 'failover') {
      // Never a second primary; finish the previous run's promotion if that is what left one.
      const prev = state.epoch && state.epoch > 1 ? await d.store.getEvent(state.epoch - 1) : undefined;
      const interrupted =
        prev?.outcome === 'aborted' && prev.candidate ? { epoch: prev.epoch, candidate: prev.candidate } : undefined;
      const existing = existingPrimaryDecision(viewWithLsn, state.oldPrimary, interrupted, excluded);
      if (existing) {
        const mismatch =
          existing.action === 'promote' && state.input.target && state.input.target !== existing.candidate;
        pick = mismatch
          ? { action: 'no-candidate', reason: `${existing.reason}; not ${state.input.target} as asked`, rejected: {} }
          : existing;
      }
    }
    if (
      state.input.mode === 'failover' &&
      pick.action === 'promote' &&
      pick.kind !== 'adopted' &&
      state.input.target &&
      pick.candidate !== state.input.target
    ) {
      const forced = selectCandidate({
        view: {
          ...viewWithLsn,
          nodes: viewWithLsn.nodes.filter((n) => n.name === state.input.target || n.name === state.oldPrimary),
        },
        oldPrimary: state.oldPrimary,
        settings: d.config.settings,
        force: true,
        excluded,
        followedTimelines: state.followedTimelines ?? [],
        ...(excluded.length && state.startedAt ? { streamingAsOf: state.startedAt } : {}),
      });
      pick =
        forced.action === 'promote'
          ? { ...forced, kind: 'operator', reason: `operator chose ${state.input.target} (${forced.reason})` }
          : forced;
    }
    await record(d, state, 'select-candidate', pick.reason);
    if (pick.action !== 'promote') throw new FatalError(pick.reason);
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
