import { endpointOf, findNode, replicationEndpointOf } from './cluster-view';
import { record, StepRefusedError, task } from './task';

/**
 * One Map iteration: re-points a replica at the new primary. A failure is
 * recorded, not thrown: by now the new primary is promoted and named by DNS,
 * so one unreachable replica must not abort the failover (it needs a rejoin).
 */
export const handler = task(
  'repoint-replica',
  { policy: 'holder', requires: ['candidate', 'promoted'] },
  async (state, d, ev) => {
    const name = ev.item!;
    // Only the run's own replicas: never the promoted node or the one it replaced.
    if (!state.replicas?.includes(name) || name === state.candidate || name === state.oldPrimary) {
      throw new StepRefusedError(`repoint-replica refused: ${name} is not one of this run's replicas; nothing changed`);
    }
    const nodes = await d.store.listNodes();
    const replica = findNode(nodes, name);
    const primary = findNode(nodes, state.candidate!);
    const upstream = replicationEndpointOf(primary);
    let ok = true;
    let detail = `streams from ${primary.name} on timeline ${state.newTimeline ?? '?'}`;
    try {
      await d.pg.repoint(
        endpointOf(replica),
        endpointOf(primary),
        { ...upstream, ...d.repl, slotName: replica.name },
        { timeoutMs: 20000 },
      );
    } catch (err) {
      ok = false;
      detail = `not re-pointed: ${(err as Error).message}`;
    }
    await record(d, state, 'repoint', `${name}: ${detail}`);
    return { replica: name, ok, detail };
  },
);
