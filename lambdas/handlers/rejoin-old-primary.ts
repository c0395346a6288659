import { endpointOf, findNode } from './cluster-view';
import { followConninfo, rewindSourceConninfo, waitStreaming } from './follow';
import { record, task } from './task';

/**
 * Best effort, after the commit: lists what only the old primary has, rewinds
 * it onto the new timeline (re-clones when pg_rewind cannot), restarts it as a
 * replica, re-opens its security group and checks it streams. A failure is
 * recorded (node status needs-rejoin), never thrown: the failover stands.
 */
export const handler = task(
  'rejoin-old-primary',
  async (state, d) => {
    const nodes = await d.store.listNodes();
    const old = findNode(nodes, state.oldPrimary!);
    const primary = findNode(nodes, state.candidate!);
    const epoch = state.epoch!;
    const lease = await d.store.getLease();
    if (lease.epoch !== epoch) {
      const detail = `rejoin skipped: epoch ${epoch} is stale (lease at ${lease.epoch})`;
      await record(d, state, 'rejoin-skipped', detail);
      return { ...state, rejoin: detail };
    }
    try {
      // pg_rewind reads the source's control file, which shows the new timeline only after a checkpoint.
      await d.pg.checkpoint(endpointOf(primary));
      await d.pg.ensureSlot(endpointOf(primary), old.name);
      const timeline = state.newTimeline ?? 2;
      const diverge = (await d.pg.timelineSwitchpoint(endpointOf(primary), timeline)) ?? state.promotedLsn ?? '';
      const params = {
        SOURCE_CONNINFO: rewindSourceConninfo(d, primary),
        PRIMARY_CONNINFO: followConninfo(d, primary, old.name),
        SLOT_NAME: old.name,
        DIVERGE_LSN: diverge,
        OLD_TIMELINE: String(timeline - 1),
      };
      let how = 'pg_rewind';
      let out: string;
      try {
        out = (await d.host.run(old, 'rewind-and-follow', params, { timeoutMs: 120000 })).stdout;
      } catch (err) {
        how = `re-clone (pg_rewind failed: ${(err as Error).message.slice(0, 200)})`;
        const up = {
          SOURCE_HOST: params.SOURCE_CONNINFO.match(/host=(\S+)/)![1]!,
          SOURCE_PORT: params.SOURCE_CONNINFO.match(/port=(\d+)/)![1]!,
        };
        out = (
          await d.host.run(
            old,
            'reclone',
            { ...params, ...up, REPL_USER: d.repl.user, REPL_PASSWORD: d.repl.password },
            { timeoutMs: 600000 },
          )
        ).stdout;
      }
      const lost = out
        .split('\n')
        .filter((l) => l.startsWith('LOST: '))
        .map((l) => l.slice(6));
      await d.store.updateEvent(epoch, { lostTransactions: lost });
      await record(d, state, 'rejoin-wal', `${lost.length} transaction(s) only on ${old.name} after ${diverge}`);
      await d.fence.restoreIngress(old);
      await waitStreaming(d, old, timeline);
      await d.store.putNode({ ...old, role: 'replica', status: 'healthy' });
      const detail = `${old.name} streams from ${primary.name} again (${how})`;
      await d.store.updateEvent(epoch, { rejoin: detail });
      await record(d, state, 'rejoin', detail);
      return { ...state, rejoin: detail };
    } catch (err) {
      const detail = `rejoin of ${old.name} failed: ${(err as Error).message}`;
      await d.store.putNode({ ...old, role: 'replica', status: 'needs-rejoin' }).catch(() => undefined);
      await d.store.updateEvent(epoch, { rejoin: detail }).catch(() => undefined);
      await record(d, state, 'rejoin-failed', detail).catch(() => undefined);
      d.log.warn('rejoin failed', { node: old.name, reason: detail });
      return { ...state, rejoin: detail };
    }
  },
  // The run committed before this step: the lease is steady again, so the epoch is no longer "in flight".
  { checkEpoch: false },
);
