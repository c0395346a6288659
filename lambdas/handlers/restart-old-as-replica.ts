import { endpointOf } from './cluster-view';
import { afterCommit, followConninfo, hostRoles, waitStreaming } from './follow';
import { task } from './task';

/**
 * Switchover, after the commit: the cleanly stopped old primary follows the new
 * one. No rewind: it stopped at a shutdown checkpoint the new primary replayed.
 */
export const handler = task(
  'restart-old-as-replica',
  { policy: 'after-commit', needs: ['oldPrimary', 'candidate', 'epoch'] },
  (state, d) =>
    afterCommit(d, state, 'restart-old-as-replica', async (old, primary) => {
      await d.pg.ensureSlot(endpointOf(primary), old.name);
      await d.host.run(
        old,
        'start-as-replica',
        { PRIMARY_CONNINFO: followConninfo(d, primary, old.name), SLOT_NAME: old.name, ...hostRoles(d) },
        { timeoutMs: 60000 },
      );
      await waitStreaming(d, old, state.newTimeline ?? 1);
      return `${old.name} streams from ${primary.name} (no rewind needed)`;
    }),
);
