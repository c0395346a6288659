import { DEFAULT_SETTINGS } from '../../lambdas/core';
import { initialLease } from '../../lambdas/core/lease';
import type { Deps } from '../../lambdas/handlers/deps';
import { probeRound } from '../../lambdas/handlers/probe';
import type { ProbeResult } from '../../lambdas/ports/postgres-port';
import type { StoredVote } from '../../lambdas/ports/store-port';
import { memoryEpisodes, memoryLease, stepDeps } from './fixtures';

const AZS = ['a', 'b', 'c'];
/** The two ways a node that answers can refuse the controller, as the pg adapter reports them. */
const KINDS = {
  credentials: {
    flag: { authFailed: true },
    error: 'pg1 (10.0.1.10:5432): password authentication failed for user "pgquorum"',
    unknown: /^pg1 refused the controller's credentials \(pg1 .*password authentication failed/,
    pages: [
      "pgquorum orders: the controller's credentials are refused",
      "pgquorum orders: the controller's credentials are accepted again",
    ],
  },
  tls: {
    flag: { tlsFailed: true },
    error: 'pg1 (10.0.1.10:5432): certificate has expired (TLS: nothing was sent to it)',
    unknown: /^pg1 failed the controller's TLS verification \(pg1 .*certificate has expired/,
    pages: [
      "pgquorum orders: a node fails the controller's TLS verification",
      'pgquorum orders: every node passes TLS verification again',
    ],
  },
} as const;

/**
 * Three probe AZs over one store; every node answers, or refuses the controller's credentials (a rotated password
 * the functions have not read yet). Pages, published PrimaryReachable values and starts are recorded.
 */
function world(kind: keyof typeof KINDS) {
  const k = KINDS[kind];
  let now = 1_000_000;
  const cell = memoryLease(initialLease('pg1', 0));
  const base = stepDeps(cell, []);
  const votes = new Map<string, StoredVote>();
  const eps = memoryEpisodes();
  const pages: string[] = [];
  const reachable: boolean[] = [];
  const started: number[] = [];
  const nodes = { refuse: true };
  const d = {
    ...base,
    now: () => now,
    config: { ...base.config, PGQ_CLUSTER: 'orders', PGQ_PROBE_AZS: AZS.join(','), settings: DEFAULT_SETTINGS },
    metrics: new Proxy(
      {},
      {
        get: (_t, name) =>
          name === 'primaryReachable'
            ? async (_az: string, ok: boolean) => void reachable.push(ok)
            : async () => undefined,
      },
    ),
    notify: async (subject: string) => void pages.push(subject),
    store: {
      ...base.store,
      getVotes: async () => [...votes.values()],
      putVote: async (v: StoredVote) => {
        votes.set(v.az, v);
        return true;
      },
      getEpisodes: eps.getEpisodes,
      putEpisode: eps.putEpisode,
    },
    pg: {
      probe: async (n: { name: string }): Promise<ProbeResult> =>
        nodes.refuse
          ? { node: n.name, ok: false, latencyMs: 3, ...k.flag, error: k.error.replace('pg1', n.name) }
          : n.name === 'pg1'
            ? {
                node: n.name,
                ok: true,
                latencyMs: 3,
                role: 'primary',
                heartbeatOk: true,
                syncStandbyNames: 'ANY 1 (pg1, pg2, pg3)',
                standbys: [{ name: 'pg2', state: 'streaming', syncState: 'quorum', replayLsn: null }],
              }
            : { node: n.name, ok: true, latencyMs: 3, role: 'replica', receiveLsn: '0/3000000', streaming: true },
    },
    starter: {
      start: async (_input: unknown, nextEpoch: number) => {
        started.push(nextEpoch);
        return { name: `orders-failover-e${nextEpoch}`, alreadyStarted: false };
      },
    },
  } as unknown as Deps;
  const round = async () => {
    for (const az of AZS) await probeRound(d, az, votes.get(az), AZS);
    now += 1000;
  };
  return { round, votes, pages, reachable, started, nodes, lease: () => cell.lease };
}

describe.each([
  ['credentials', 'refuses the controller credentials (a rotated password, an edited pg_hba.conf)'],
  ['tls', "fails the controller's TLS verification (an expired certificate, a rotated CA)"],
] as const)('%s: a primary that %s', (kind, _what) => {
  it('is judged neither up nor down by any AZ: no failover starts, one page, and the probes resume when it is judged again', async () => {
    const w = world(kind);
    const k = KINDS[kind];
    const before = w.lease();
    for (let i = 0; i < 2 * DEFAULT_SETTINGS.failuresToDown; i++) await w.round();
    expect(w.started).toEqual([]);
    expect(w.lease()).toEqual(before);
    for (const az of AZS) {
      expect(w.votes.get(az)).toMatchObject({
        primaryOk: false,
        consecutiveFailures: 0,
        primaryUnknown: expect.stringMatching(k.unknown),
      });
    }
    // Nothing toward the backstop alarm's "2 AZs unreachable" either.
    expect(w.reachable).toEqual([]);
    expect(w.pages).toEqual([k.pages[0]]);

    w.nodes.refuse = false;
    await w.round();
    expect(w.votes.get('a')).toMatchObject({ primaryOk: true, consecutiveFailures: 0 });
    expect(w.votes.get('a')?.primaryUnknown).toBeUndefined();
    expect(w.reachable).toEqual([true, true, true]);
    expect(w.pages).toEqual([...k.pages]);
  });
});
