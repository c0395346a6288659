import { HostUnreachableError } from '../core/errors';
import { rejoinMethod } from '../core/replan';
import { endpointOf, replicationEndpointOf } from './cluster-view';
import { afterCommit, followConninfo, hostRoles, rewindSourceConninfo, waitStreaming } from './follow';
import { record, task } from './task';

/**
 * How long the rejoin waits for the old primary's host to pick its command up (ms). A reachable host's agent
 * takes about a second; a lost one never does, and the rejoin can be run again later. @default 30000
 */
export const REJOIN_DELIVERY_TIMEOUT_MS = 30000;

/**
 * Best effort, after the commit: lists what only the old primary has, rewinds
 * it onto the new timeline (re-clones when pg_rewind cannot), restarts it as a
 * replica, re-opens its security group and checks it streams.
 */
export const handler = task(
  'rejoin-old-primary', // The run committed before this step: the lease is steady and must name the candidate, never the old primary.
  { policy: 'after-commit', needs: ['oldPrimary', 'candidate', 'epoch'] },
  (state, d) =>
    afterCommit(d, state, 'rejoin', async (old, primary) => {
      const sent = state.fence?.stopCommandId;
      if (sent) {
        // The fence sent its stop and did not wait (the quorum fence stood in). Let it end before the rewind is sent:
        // both would otherwise reach a returning host together, and the stop would kill the rewound replica.
        try {
          await d.host.wait(old, 'stop-postgres-immediate', sent, {
            timeoutMs: REJOIN_DELIVERY_TIMEOUT_MS,
          });
          await record(
            d,
            state,
            'fence-stop-result',
            `${old.name}: PostgreSQL stopped by the fence's SSM command ${sent}`,
          );
        } catch (err) {
          const line = `${old.name}: the fence's stop (SSM command ${sent}) did not end: ${(err as Error).message}; PostgreSQL may still run there, behind the quorum fence`;
          await record(d, state, 'fence-stop-result', line);
          if (err instanceof HostUnreachableError)
            throw new HostUnreachableError(`${line}; once its host is back: pgquorum rejoin ${old.name}`);
        }
      }
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
        ...hostRoles(d),
      };
      const reclone = async () => {
        const src = replicationEndpointOf(primary);
        const up = { SOURCE_HOST: src.host, SOURCE_PORT: String(src.port) };
        return (await d.host.run(old, 'reclone', { ...params, ...up }, { timeoutMs: 600000 })).stdout;
      };
      const event = await d.store.getEvent(state.epoch).catch(() => undefined);
      const plan = rejoinMethod({
        node: old.name,
        givenUp: event?.excluded ?? state.excluded ?? [],
        status: old.status,
      });
      let how = 'pg_rewind';
      let out: string;
      if (plan.method === 'reclone') {
        await record(d, state, 'rejoin-method', plan.reason);
        how = `re-clone (${plan.reason})`;
        out = await reclone();
      } else {
        try {
          out = (
            await d.host.run(old, 'rewind-and-follow', params, {
              timeoutMs: 120000,
              deliveryTimeoutMs: REJOIN_DELIVERY_TIMEOUT_MS,
            })
          ).stdout;
        } catch (err) {
          // A host that did not pick the command up will not pick a re-clone up either: leave it needs-rejoin now
          // rather than hold the run for the re-clone's 10 minutes (a lost host held executions that long).
          if (err instanceof HostUnreachableError) {
            throw new HostUnreachableError(
              `${(err as Error).message}; once its host is back: pgquorum rejoin ${old.name}`,
            );
          }
          how = `re-clone (pg_rewind failed: ${(err as Error).message.slice(0, 200)})`;
          out = await reclone();
        }
      }
      const lost = out
        .split('\n')
        .filter((l) => l.startsWith('LOST: '))
        .map((l) => l.slice(6));
      await d.store.updateEvent(state.epoch, { lostTransactions: lost });
      await record(d, state, 'rejoin-wal', `${lost.length} transaction(s) only on ${old.name} after ${diverge}`);
      const decide = d.restoreRule;
      const restored = await d.fence.restoreIngress(old, decide && ((snap) => decide(old, snap)));
      if (restored.reason) await record(d, state, 'rejoin-ingress', restored.reason);
      await waitStreaming(d, old, timeline);
      return `${old.name} streams from ${primary.name} again (${how})`;
    }),
);
