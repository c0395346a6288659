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
  const node = findNode(await d.store.listNodes(), state.candidate);
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
