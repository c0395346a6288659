import { RepointFailedError } from '../../lambdas/adapters/postgres/errors';
import { DEFAULT_SETTINGS, REPOINT_QUORUM_GRACE_MS } from '../../lambdas/core';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler as repoint } from '../../lambdas/handlers/repoint-replica';
import type { RunState } from '../../lambdas/handlers/run-state';
import type { NodeEndpoint, ReplicationTarget } from '../../lambdas/ports/postgres-port';
import { FAILOVER_HOLDER, failingOverLease, memoryLease, registeredNode, stepDeps } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({
  ...jest.requireActual('../../lambdas/handlers/deps'),
  deps: () => Promise.resolve(currentDeps),
}));
let currentDeps: Deps;

/** How long the fake write-passfile host command takes on the fake clock (0.5-2 s on AWS). */
const HOST_MS = 1500;

/**
 * A failover at epoch 4 whose candidate pg2 is promoted, with pg3 and pg4 to re-point. The re-point is the
 * adapter's wait on a fake clock: poll every 50 ms, ask `stopWaiting` at most every 500 ms, give up at the timeout
 * (PgNodeAdapter.repoint). `streamsAfterMs`: when each replica streams from pg2 once re-pointed (null: never).
 * The new primary's probe lists the replicas that stream by then. Each call's time on the fake clock is kept.
 */
function world(streamsAfterMs: Record<string, number | null>, passfile: 'current' | 'missing' = 'missing') {
  let now = 0;
  const streaming = new Set<string>();
  const waited: Record<string, number[]> = {};
  const hostCalls: string[] = [];
  const cell = memoryLease(failingOverLease({ promotedLsn: '0/5000100' }));
  const base = stepDeps(cell, [], () => ['pg1', 'pg2', 'pg3', 'pg4'].map((n) => registeredNode(n)));
  currentDeps = {
    ...base,
    config: {
      settings: { ...DEFAULT_SETTINGS, replicationMode: 'sync' },
      PGQ_PGDATA: '/var/lib/postgresql/15/main',
      sslMode: 'verify-full',
      PGQ_HOST_CA_FILE: '/etc/pgquorum/db-ca.pem',
    },
    repl: { user: 'replicator' },
    rewind: { user: 'pgquorum_rewind' },
    pg: {
      probe: async (n: NodeEndpoint) => ({
        node: n.name,
        ok: true,
        latencyMs: 1,
        role: 'primary',
        standbys: [...streaming].map((s) => ({ name: s, state: 'streaming', syncState: 'quorum', replayLsn: null })),
      }),
      repoint: async (
        r: NodeEndpoint,
        p: NodeEndpoint,
        _t: ReplicationTarget,
        opts: { timeoutMs?: number; stopWaiting?: (elapsedMs: number) => Promise<string | null> } = {},
      ) => {
        const t0 = now;
        const timeoutMs = opts.timeoutMs ?? 20000;
        let nextAsk = t0;
        try {
          for (;;) {
            const after = streamsAfterMs[r.name];
            if (after !== null && after !== undefined && now - t0 >= after) {
              streaming.add(r.name);
              return;
            }
            if (now - t0 > timeoutMs) {
              throw new RepointFailedError(
                `${r.name} does not stream from ${p.name} on timeline 2 within ${timeoutMs} ms (no WAL receiver)`,
              );
            }
            if (opts.stopWaiting && now >= nextAsk) {
              nextAsk = now + 500;
              const why = await opts.stopWaiting(now - t0);
              if (why) throw new RepointFailedError(`${r.name} not streaming from ${p.name} (no WAL receiver): ${why}`);
            }
            now += 50;
            await Promise.resolve();
          }
        } finally {
          waited[r.name] = [...(waited[r.name] ?? []), now - t0];
        }
      },
    },
    host: {
      run: async (n: { name: string }, script: string) => {
        hostCalls.push(`${script} ${n.name}`);
        now += HOST_MS;
        return { exitCode: 0, stdout: `PASSFILE_STATE=${passfile}\n`, stderr: '' };
      },
    },
  } as unknown as Deps;
  return { waited, hostCalls, elapsed: () => now };
}

const state: RunState = {
  input: { mode: 'failover', cluster: 'lab', reason: 'test' },
  epoch: 4,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  newTimeline: 2,
  replicas: ['pg3', 'pg4'],
};
const iteration = (item: string) => repoint({ state, item, executionName: FAILOVER_HOLDER });

describe('RepointReplicas in sync mode: one streaming replica is enough (issue 13, finding 4)', () => {
  it.each([
    ['its host says the passfile was missing', 'missing' as const],
    ['its host says the passfile is current', 'current' as const],
  ])(
    'pg3 streams, pg4 never does (%s): pg4 is left to the rejoin after the grace, not its 20 s timeout',
    async (_n, passfile) => {
      const w = world({ pg3: 200, pg4: null }, passfile);
      expect(await iteration('pg3')).toMatchObject({ replica: 'pg3', ok: true });
      const t = w.elapsed();
      const r = await iteration('pg4');
      // The Map (and the DNS flip after it) waits for its slowest iteration: that is how long writes are held back.
      const held = w.elapsed() - t;
      expect(held).toBeGreaterThanOrEqual(REPOINT_QUORUM_GRACE_MS);
      expect(held).toBeLessThan(REPOINT_QUORUM_GRACE_MS + 600);
      expect(r).toEqual({
        replica: 'pg4',
        ok: false,
        detail: expect.stringMatching(
          /^not re-pointed: pg4 not streaming from pg2 .*quorum met: pg3 already stream\(s\) from the new primary; pg4 not streaming after \d+ ms is left to the rejoin.*: run pgquorum rejoin pg4$/,
        ),
      });
      // One wait, and no host command or second wait: each would hold writes back once more.
      expect(w.waited.pg4).toHaveLength(1);
      expect(w.hostCalls).toEqual([]);
    },
  );

  it('no replica streams: nothing is enough, pg4 waits its full timeout', async () => {
    const w = world({ pg3: null, pg4: null }, 'current');
    const r = await iteration('pg4');
    expect(r).toMatchObject({ replica: 'pg4', ok: false });
    expect(w.waited.pg4?.[0]).toBeGreaterThan(20000);
  });
});
