import { DEFAULT_SETTINGS } from '../../lambdas/core';
import { initialLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import type { Deps } from '../../lambdas/handlers/deps';
import { probeRound } from '../../lambdas/handlers/probe';
import type { NodeEndpoint, ProbeResult } from '../../lambdas/ports/postgres-port';
import type { StoredVote } from '../../lambdas/ports/store-port';
import { memoryEpisodes, memoryLease, registeredNode } from './fixtures';

const AZS = ['a', 'b', 'c'];
const NOW = 10_000_000;

/**
 * pg1 is down for every probe AZ (each has voted it down failuresToDown times), one minute after a failover: inside
 * the anti-flap window, so the quorum's decision is to escalate, not to fail over. One store (the lease with its
 * compare-and-set, forward-only votes, episodes written conditionally on their revision) shared by the probes.
 */
function world() {
  const lease: Lease = {
    ...initialLease('pg1', 0),
    epoch: 5,
    state: 'steady',
    lastFailoverAt: NOW - 60_000,
    updatedAt: NOW - 60_000,
  };
  const cell = memoryLease(lease);
  const votes = new Map<string, StoredVote>(
    AZS.map((az) => [
      az,
      {
        az,
        seq: 10,
        observedAt: NOW - 1000,
        primary: 'pg1',
        primaryOk: false,
        consecutiveFailures: DEFAULT_SETTINGS.failuresToDown,
        nodes: {},
      },
    ]),
  );
  const eps = memoryEpisodes();
  const pages: { subject: string; message: string }[] = [];
  const counted = { needsAttention: 0, starts: 0 };
  const d = {
    config: { PGQ_CLUSTER: 'orders', PGQ_PROBE_AZS: AZS.join(','), settings: DEFAULT_SETTINGS },
    now: () => NOW,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    metrics: {
      primaryReachable: async () => undefined,
      needsAttention: async () => void counted.needsAttention++,
      unnamedPrimaries: async () => undefined,
      syncStandbyMissing: async () => undefined,
      syncStandbyMissingSeconds: async () => undefined,
      replicaLag: async () => undefined,
    },
    notify: async (subject: string, message: string) => void pages.push({ subject, message }),
    starter: {
      start: async () => {
        counted.starts++;
        return { name: 'x', alreadyStarted: false };
      },
    },
    pg: {
      probe: async (n: NodeEndpoint): Promise<ProbeResult> =>
        n.name === 'pg1'
          ? { node: n.name, ok: false, latencyMs: 2000, error: 'connect ETIMEDOUT' }
          : { node: n.name, ok: true, latencyMs: 1, role: 'replica', streaming: false },
    },
    store: {
      getLease: cell.getLease,
      transitionLease: cell.transitionLease,
      listNodes: async () => ['pg1', 'pg2', 'pg3'].map((n) => registeredNode(n)),
      getVotes: async () => [...votes.values()],
      putVote: async (v: StoredVote) => {
        if ((votes.get(v.az)?.seq ?? 0) >= v.seq) return false;
        votes.set(v.az, v);
        return true;
      },
      getEpisodes: eps.getEpisodes,
      putEpisode: eps.putEpisode,
    },
  } as unknown as Deps;
  /** One round of the probes in `azs`, concurrent (each reads the lease before any of them writes). */
  const round = (azs: string[]) => Promise.all(azs.map((az) => probeRound(d, az, votes.get(az), AZS)));
  return { round, pages, counted, lease: () => cell.lease };
}

describe('two probes escalate the same case: one page (issue 13)', () => {
  it('two AZs escalate the anti-flap case for the same lease version: one needs-attention, one notification', async () => {
    const w = world();
    const outcomes = await w.round(['a', 'b']);
    // Both decided to escalate: the dedup is in what they wrote, not in what they saw.
    expect(outcomes.map((o) => o.decision.action)).toEqual(['needs-attention', 'needs-attention']);
    expect(w.lease()).toMatchObject({ state: 'needs-attention', epoch: 5 });
    expect(w.lease().reason).toMatch(/anti-flap: the last failover was 60 s ago/);
    expect(w.pages).toHaveLength(1);
    expect(w.pages[0]?.subject).toBe('pgquorum orders: needs attention');
    expect(w.pages[0]?.message).toMatch(/anti-flap: the last failover was 60 s ago/);
    expect(w.counted).toEqual({ needsAttention: 1, starts: 0 });
    // The next rounds of all three AZs see the escalated lease: nothing more to page.
    await w.round(AZS);
    expect(w.pages).toHaveLength(1);
  });
});
