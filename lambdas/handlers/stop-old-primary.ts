import { FatalError } from '../core/errors';
import { findNode } from './cluster-view';
import { parseControlData } from './deps';
import { advance, record, task } from './task';

/**
 * Switchover: a fast shutdown of the old primary through the host command.
 * Its shutdown checkpoint is the last WAL it will ever write; once the target
 * has replayed past it, the target has every acknowledged commit.
 */
export const handler = task(
  'stop-old-primary',
  { needs: ['epoch', 'oldPrimary'], policy: 'holder', requires: ['candidate'] },
  async (state, d, ev) => {
    const old = findNode(await d.store.listNodes(), state.oldPrimary);
    const out = await d.host.run(old, 'stop-postgres-fast', {}, { timeoutMs: 60000 });
    const cd = parseControlData(out.stdout);
    if (cd.state !== 'shut down') throw new FatalError(`${old.name} did not shut down cleanly (state '${cd.state}')`);
    await record(
      d,
      state,
      'stop-old-primary',
      `${old.name} shut down; final checkpoint ${cd.checkpointLsn} on timeline ${cd.timeline}`,
    );
    // A retry of a stopped node reads the same checkpoint; the record keeps the first.
    await advance(d, state, ev, { finalLsn: cd.checkpointLsn });
    return { ...state, finalLsn: cd.checkpointLsn };
  },
);
