import { candidateBehindAfterFence } from '../core/candidate';
import { CandidateFailedError } from '../core/errors';
import { endpointOf, findNode } from './cluster-view';
import { advance, record, type TaskRule, task } from './task';

/** Promotes the chosen replica (idempotent: an already promoted node is success). */
/** Only the holder, for its recorded candidate, once the old primary is fenced (switchover: stopped). */
const rule: TaskRule<'candidate' | 'epoch'> = {
  needs: ['candidate', 'epoch'],
  policy: 'holder',
  requires: ['candidate', 'old-primary-out'],
};

export const handler = task('promote', rule, async (state, d, ev) => {
  const nodes = await d.store.listNodes();
  const node = findNode(nodes, state.candidate);
  // A failover the controller chose itself: the candidate must still be the most advanced now that no more WAL
  // can arrive; an operator's --to is their choice (SelectCandidate already said what it costs).
  if (state.input.mode === 'failover' && !state.input.target) {
    // Only nodes SelectCandidate could choose: a noFailover replica's WAL counted for nothing there either.
    const others = nodes.filter((n) => (state.replicas ?? []).includes(n.name) && !n.noFailover);
    const [mine, theirs] = await Promise.all([
      d.pg.probe(endpointOf(node)),
      Promise.all(others.map((n) => d.pg.probe(endpointOf(n)))),
    ]);
    const behind = candidateBehindAfterFence({
      candidate: node.name,
      candidateReceived: mine.ok && mine.role === 'replica' ? (mine.receiveLsn ?? null) : null,
      others: theirs
        .filter((p) => p.ok && p.role === 'replica')
        .map((p) => ({ name: p.node, received: p.receiveLsn ?? null })),
    });
    // Replan gives the candidate up (fenced, excluded) and SelectCandidate chooses the more advanced one.
    if (behind) throw new CandidateFailedError(behind);
  }
  const r = await d.pg.promote(endpointOf(node), { timeoutMs: 30000 });
  await record(
    d,
    state,
    'promote',
    `${node.name} ${r.alreadyPrimary ? 'was already' : 'is now'} primary on timeline ${r.timeline} at ${r.lsn}`,
  );
  // The first promoted LSN recorded stands: a retry of a promoted node reads a later one.
  const run = await advance(d, state, ev, { promotedLsn: state.candidateLsn ?? r.lsn });
  return { ...state, promotedLsn: run.promotedLsn, newTimeline: r.timeline };
});
