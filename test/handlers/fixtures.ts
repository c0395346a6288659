import { DEFAULT_SETTINGS, type Episode } from '../../lambdas/core';
import { initialLease, type LeaseResult } from '../../lambdas/core/lease';
import type { Lease, RunRecord } from '../../lambdas/core/types';
import type { GuardedWrites, RegisteredNode } from '../../lambdas/ports/store-port';

/**
 * A registered node of the handler tests' three-node cluster: pgN at 10.0.0.N:5432 in AZ `a`, its own security
 * group and instance, pg1 the primary. @default role primary for pg1, replica otherwise; status healthy
 */
export function registeredNode(name: string, over: Partial<RegisteredNode> = {}): RegisteredNode {
  const ip = `10.0.0.${name.replace(/^\D+/, '')}`;
  return {
    name,
    instanceId: `i-0${name}`,
    az: 'a',
    privateIp: ip,
    host: ip,
    port: 5432,
    securityGroupId: `sg-${name}`,
    role: name === 'pg1' ? 'primary' : 'replica',
    status: 'healthy',
    noFailover: false,
    ...over,
  };
}

/**
 * The lease half of the store port in memory, with the real store's semantics (lambdas/adapters/aws/dynamo-store.ts):
 * the core decides, a refusal writes nothing, an accepted decision writes its registry and history writes even when
 * the lease itself is unchanged (a retry completes them). `writes` collects them; `lease` is the current value.
 */
export function memoryLease(initial: Lease, onTransition?: (after: Lease, writes: GuardedWrites | undefined) => void) {
  let lease = initial;
  const writes: GuardedWrites[] = [];
  return {
    get lease(): Lease {
      return lease;
    },
    set lease(l: Lease) {
      lease = l;
    },
    writes,
    getLease: async () => lease,
    transitionLease: async (decide: (l: Lease) => LeaseResult, w?: (after: Lease) => GuardedWrites) => {
      const r = decide(lease);
      if (!r.ok) return { ok: false as const, before: lease, reason: r.reason };
      const before = lease;
      lease = r.lease;
      const written = w?.(r.lease);
      if (written) writes.push(written);
      onTransition?.(lease, written);
      return { ok: true as const, before, lease, changed: r.lease !== before };
    },
  };
}

/** The execution that holds the handler tests' failover at epoch 4. */
export const FAILOVER_HOLDER = 'c-failover-e4';

/** A failover at epoch 4 held by FAILOVER_HOLDER: pg1 the old primary, its fence proven, pg2 the candidate. */
export function failingOverLease(run: Partial<RunRecord> = {}): Lease {
  return {
    ...initialLease('pg1', 0),
    epoch: 4,
    state: 'failing-over',
    run: {
      holder: FAILOVER_HOLDER,
      mode: 'failover',
      oldPrimary: 'pg1',
      candidate: 'pg2',
      fenceVerified: true,
      ...run,
    },
  } as Lease;
}

/**
 * What every step's wrapper reads besides the step's own ports: default settings, a fixed clock, silent logs and
 * metrics, and a store made of the lease cell, pg1..pg3 (or `nodes`) and a timeline collected as `step: detail`.
 */
export function stepDeps(
  cell: ReturnType<typeof memoryLease>,
  timeline: string[],
  nodes: () => RegisteredNode[] = () => ['pg1', 'pg2', 'pg3'].map((n) => registeredNode(n)),
) {
  return {
    config: { settings: DEFAULT_SETTINGS },
    now: () => 1000,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    metrics: { flush: async () => undefined },
    store: {
      getLease: cell.getLease,
      transitionLease: cell.transitionLease,
      listNodes: async () => nodes(),
      appendTimeline: async (_e: number, s: { step: string; detail: string }) =>
        void timeline.push(`${s.step}: ${s.detail}`),
    },
  };
}

/** The episode items of a store: one per kind, written only at the revision the writer read (as DynamoDB's condition). */
export function memoryEpisodes() {
  const episodes = new Map<string, Episode>();
  return {
    episodes,
    getEpisodes: async () => [...episodes.values()],
    putEpisode: async (e: Episode, rev: number | null) => {
      if ((episodes.get(e.kind)?.rev ?? null) !== rev) return false;
      episodes.set(e.kind, { ...e, rev: (rev ?? 0) + 1 });
      return true;
    },
  };
}
