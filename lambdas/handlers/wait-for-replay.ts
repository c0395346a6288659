import { endpointOf, findNode } from './cluster-view';
import { record, task } from './task';

/** Switchover: the target must replay past the old primary's final checkpoint before it is promoted (zero loss). */
export const handler = task(
  'wait-for-replay',
  { policy: 'holder', requires: ['candidate', 'old-primary-out'] },
  async (state, d) => {
    const target = findNode(await d.store.listNodes(), state.candidate!);
    const at = await d.pg.waitForReplay(
      endpointOf(target),
      state.finalLsn!,
      d.config.settings.switchoverReplayTimeoutMs,
    );
    await record(d, state, 'wait-for-replay', `${target.name} replayed to ${at}, past ${state.finalLsn}`);
    return { ...state, candidateLsn: at };
  },
);
