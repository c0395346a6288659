import { FatalError } from '../core/errors';
import { endpointOf, findNode } from './cluster-view';
import { record, task } from './task';

/**
 * Switchover: the target must replay past the old primary's final checkpoint before it is promoted (zero loss).
 * Writes are down while this waits, so its bound (switchoverReplayTimeoutMs) is the whole wait: a timeout is
 * fatal, not retried (three attempts would triple the outage), and the state machine rolls the switchover back.
 */
export const handler = task(
  'wait-for-replay',
  { needs: ['candidate', 'finalLsn'], policy: 'holder', requires: ['candidate', 'old-primary-out'] },
  async (state, d) => {
    const target = findNode(await d.store.listNodes(), state.candidate);
    const at = await d.pg
      .waitForReplay(endpointOf(target), state.finalLsn, d.config.settings.switchoverReplayTimeoutMs)
      .catch((err: Error) => {
        // The adapter's ReplayTimeoutError (by name: handlers reach adapters only through deps).
        throw err.name === 'ReplayTimeoutError' ? new FatalError(err.message) : err;
      });
    await record(d, state, 'wait-for-replay', `${target.name} replayed to ${at}, past ${state.finalLsn}`);
    return { ...state, candidateLsn: at };
  },
);
