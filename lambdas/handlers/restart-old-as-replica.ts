import { endpointOf, findNode } from './cluster-view';
import { followConninfo, waitStreaming } from './follow';
import { record, task } from './task';

/** Switchover: the cleanly stopped old primary follows the new one (no rewind: it stopped at a checkpoint the target replayed). */
export const handler = task('restart-old-as-replica', async (state, d) => {
  const nodes = await d.store.listNodes();
  const old = findNode(nodes, state.oldPrimary!);
  const primary = findNode(nodes, state.candidate!);
  await d.pg.ensureSlot(endpointOf(primary), old.name);
  await d.host.run(
    old,
    'start-as-replica',
    { PRIMARY_CONNINFO: followConninfo(d, primary, old.name), SLOT_NAME: old.name },
    { timeoutMs: 60000 },
  );
  await waitStreaming(d, old, state.newTimeline ?? 1);
  await record(d, state, 'restart-old-as-replica', `${old.name} streams from ${primary.name}`);
  return state;
});
