import { DEFAULT_SETTINGS } from '../../lambdas/core';
import { initialLease } from '../../lambdas/core/lease';
import { handler as confirmQuorum } from '../../lambdas/handlers/confirm-quorum';
import type { Deps } from '../../lambdas/handlers/deps';
import { probeRound } from '../../lambdas/handlers/probe';
import type { ProbeResult } from '../../lambdas/ports/postgres-port';
import type { StoredVote } from '../../lambdas/ports/store-port';
import { FAILOVER_HOLDER, failingOverLease, memoryLease, stepDeps } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

const NOW = 1000;
const S = DEFAULT_SETTINGS;

/** A vote about pg1 from `az`, observed just now: down (past failuresToDown), failing (one short) or up. */
function stored(az: string, reading: 'down' | 'failing' | 'up', seq = 5): StoredVote {
  const failures = reading === 'up' ? 0 : reading === 'down' ? S.failuresToDown : S.failuresToDown - 1;
  return {
    az,
    seq,
    observedAt: NOW - 100,
    primary: 'pg1',
    primaryOk: reading === 'up',
    consecutiveFailures: failures,
    nodes: {},
  };
}

/**
 * A store holding `votes` and no configured probe AZs (as ConfirmQuorum runs: only the probes get PGQ_PROBE_AZS),
 * every node in AZ `a`; pg1 does not answer.
 */
function world(votes: StoredVote[], lease = initialLease('pg1', 0)) {
  const cell = memoryLease(lease);
  const timeline: string[] = [];
  const started: string[] = [];
  const base = stepDeps(cell, timeline);
  const byAz = new Map(votes.map((v) => [v.az, v]));
  currentDeps = {
    ...base,
    config: { ...base.config, PGQ_CLUSTER: 'lab' },
    metrics: new Proxy({}, { get: () => async () => undefined }),
    notify: async () => undefined,
    store: {
      ...base.store,
      getVotes: async () => [...byAz.values()],
      putVote: async (v: StoredVote) => {
        byAz.set(v.az, v);
        return true;
      },
      getEpisodes: async () => [],
    },
    pg: {
      probe: async (n: { name: string }): Promise<ProbeResult> =>
        n.name === 'pg1'
          ? { node: n.name, ok: false, latencyMs: 1, error: 'connection refused' }
          : { node: n.name, ok: true, latencyMs: 1, role: 'replica', receiveLsn: '0/3000000', streaming: false },
    },
    starter: {
      start: async (_input: unknown, nextEpoch: number) => {
        started.push(`epoch ${nextEpoch}`);
        return { name: `lab-failover-e${nextEpoch}`, alreadyStarted: false };
      },
    },
  } as unknown as Deps;
  return { cell, started, votes: () => [...byAz.values()] };
}

const run = {
  input: { mode: 'failover' as const, cluster: 'lab', reason: 'probe quorum' },
  epoch: 4,
  oldPrimary: 'pg1',
};

describe('the probe and ConfirmQuorum count the same voters when only two votes are stored', () => {
  it.each<[string, 'down' | 'up', boolean]>([
    ['the other AZ sees pg1 down too: both call it down', 'down', true],
    ['the other AZ reaches pg1: neither does (one of one would have)', 'up', false],
  ])('%s', async (_name, other, down) => {
    // This AZ's probe was one failure short; its round makes it a down vote.
    const w = world([stored('a', 'failing'), stored('b', other)]);
    // The heartbeat slots as runProbe orders them without PGQ_PROBE_AZS (the nodes' AZs): no longer the voters.
    const r = await probeRound(currentDeps, 'a', stored('a', 'failing'), ['a']);
    expect(r.decision.action).toBe(down ? 'start-failover' : 'no-action');
    expect(w.started).toEqual(down ? ['epoch 2'] : []);

    // ConfirmQuorum of a run that started anyway, over the votes the probe left.
    const after = w.votes();
    const c = world(after, failingOverLease());
    const out = await confirmQuorum({ state: run, executionName: FAILOVER_HOLDER });
    expect(out.quorumConfirmed).toBe(down);
    expect(out.quorumReason).toMatch(down ? /^2 of 3 AZs report pg1 down/ : /no quorum about pg1/);
    expect(c.cell.lease.state).toBe(down ? 'failing-over' : 'steady');
  });
});

describe('a probe round whose vote is refused (another invocation of this AZ stored a newer one)', () => {
  it('decides nothing and starts nothing, even when its own reading would start a failover', async () => {
    const w = world([stored('a', 'failing', 9), stored('b', 'down')]);
    const newer = stored('a', 'up', 10);
    // The conditional write loses to seq 10: the stored vote is the other invocation's, and it decides.
    currentDeps = {
      ...currentDeps,
      store: {
        ...currentDeps.store,
        putVote: async () => false,
        getVotes: async () => [newer, stored('b', 'down')],
      },
    } as unknown as Deps;
    const r = await probeRound(currentDeps, 'a', stored('a', 'failing', 9), ['a']);
    expect(r.decision).toEqual({ action: 'impaired', reason: 'vote 10 superseded by seq 10 from a: no decision' });
    expect(r.vote).toBe(newer);
    expect(w.started).toEqual([]);
  });
});
