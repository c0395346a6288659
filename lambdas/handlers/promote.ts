import { endpointOf, findNode } from './cluster-view';
import { record, task } from './task';

/** Promotes the chosen replica (idempotent: an already promoted node is success). */
export const handler = task('promote', async (state, d) => {
  const node = findNode(await d.store.listNodes(), state.candidate!);
  const r = await d.pg.promote(endpointOf(node), { timeoutMs: 30000 });
  await record(
    d,
    state,
    'promote',
    `${node.name} ${r.alreadyPrimary ? 'was already' : 'is now'} primary on timeline ${r.timeline} at ${r.lsn}`,
  );
  return { ...state, promotedLsn: state.candidateLsn ?? r.lsn, newTimeline: r.timeline };
});
