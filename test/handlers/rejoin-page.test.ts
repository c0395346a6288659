import { DEFAULT_SETTINGS } from '../../lambdas/core';
import { HostUnreachableError } from '../../lambdas/core/errors';
import { initialLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler as rejoin } from '../../lambdas/handlers/rejoin-old-primary';
import type { RunState } from '../../lambdas/handlers/run-state';
import { handler as settle } from '../../lambdas/handlers/settle-rejoin';
import type { GuardedWrites, LeaseGuard, RegisteredNode } from '../../lambdas/ports/store-port';
import { FAILOVER_HOLDER, memoryEpisodes, registeredNode } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

/** The lease after the failover at epoch 4 committed pg2; pg1 (fenced) is the old primary to rejoin. */
const committed = (): Lease => ({
  ...initialLease('pg2', 0),
  epoch: 4,
  state: 'steady',
  run: { holder: FAILOVER_HOLDER, mode: 'failover', oldPrimary: 'pg1', candidate: 'pg2', outcome: 'committed' },
});

/**
 * The store as the post-commit steps use it, in memory: guarded writes land only while the lease still names the
 * epoch and primary (as DynamoStore's ConditionCheck), episodes are written conditionally on their revision. Every
 * page is kept. `host` decides what the rejoin's host command does; `setRecord` what Route 53 does.
 */
function world(o: { host?: () => Promise<never>; setRecord?: () => Promise<void> } = {}) {
  let lease = committed();
  const registry = new Map<string, RegisteredNode>(
    ['pg1', 'pg2', 'pg3'].map((n) => [
      n,
      registeredNode(n, { role: n === 'pg2' ? 'primary' : 'replica', status: n === 'pg1' ? 'fenced' : 'healthy' }),
    ]),
  );
  const eps = memoryEpisodes();
  const event: Record<string, unknown> = {};
  const pages: { subject: string; message: string }[] = [];
  const timeline: string[] = [];
  currentDeps = {
    config: {
      settings: DEFAULT_SETTINGS,
      PGQ_CLUSTER: 'orders',
      PGQ_DB_NAME: 'postgres',
      PGQ_READER_RECORD: 'reader.db',
      PGQ_RECORD_TTL: 5,
      sslMode: 'verify-full',
      PGQ_HOST_CA_FILE: '/etc/pgquorum/db-ca.pem',
    },
    repl: { user: 'replicator' },
    rewind: { user: 'pgquorum_rewind' },
    now: () => 1000,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    metrics: { flush: async () => undefined },
    notify: async (subject: string, message: string) => void pages.push({ subject, message }),
    pg: {
      checkpoint: async () => undefined,
      ensureSlot: async () => undefined,
      timelineSwitchpoint: async () => '0/5000100',
    },
    host: {
      run: async () => {
        await o.host?.();
        throw new HostUnreachableError('pg1: rewind-and-follow not delivered within 30000 ms (Pending)');
      },
    },
    dns: { setRecord: o.setRecord ?? (async () => ({ changeId: 'c1' })) },
    store: {
      getLease: async () => lease,
      listNodes: async () => [...registry.values()],
      getEvent: async () => ({ epoch: 4, timeline: [], ...event }),
      writeGuarded: async (g: LeaseGuard, w: GuardedWrites) => {
        if (lease.epoch !== g.epoch || (g.primary && lease.primary !== g.primary)) {
          throw new Error(`lease moved past epoch ${g.epoch}: not recorded`);
        }
        for (const n of w.nodes ?? []) registry.set(n.name, n);
        Object.assign(event, w.event?.fields);
      },
      appendTimeline: async (_e: number, s: { step: string; detail: string }) =>
        void timeline.push(`${s.step}: ${s.detail}`),
      getEpisodes: eps.getEpisodes,
      putEpisode: eps.putEpisode,
    },
  } as unknown as Deps;
  return {
    pages,
    event,
    registry,
    moveLease: (l: Partial<Lease>) => {
      lease = { ...lease, ...l };
    },
  };
}

const state: RunState = {
  input: { mode: 'failover', cluster: 'orders', reason: 'test' },
  epoch: 4,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  newTimeline: 2,
  replicas: ['pg3'],
};
const rejoinStep = (s: RunState = state) => rejoin({ state: s, executionName: FAILOVER_HOLDER }) as Promise<RunState>;
const settleStep = (s: RunState) => settle({ state: s, executionName: FAILOVER_HOLDER }) as Promise<RunState>;

describe('a post-commit rejoin failure pages once (issue 13)', () => {
  it('a failed rejoin marks the run degraded and pages once, naming the node and the next command', async () => {
    const w = world();
    const out = await rejoinStep();
    expect(w.registry.get('pg1')?.status).toBe('needs-rejoin');
    expect(w.event.degraded).toEqual([expect.stringMatching(/^rejoin failed: rejoin of pg1 failed: /)]);
    expect(out.degraded).toEqual(w.event.degraded);
    expect(w.pages).toHaveLength(1);
    expect(w.pages[0]?.subject).toBe('pgquorum orders: failover to pg2 committed-degraded, pg1 not rejoined');
    expect(w.pages[0]?.message).toMatch(/^rejoin of pg1 failed: .*not delivered within 30000 ms/);
    expect(w.pages[0]?.message).toContain('The failover at epoch 4 stands: pg2 is the primary.');
    expect(w.pages[0]?.message).toContain('pg1 is needs-rejoin in the registry');
    expect(w.pages[0]?.message).toContain('Next: `npx pgquorum rejoin pg1`');
    // The state machine goes on to SettleRejoin with what the step returned: no second page for the same failure.
    await settleStep(out);
    expect(w.pages).toHaveLength(1);
  });

  it('a Step Functions retry of the step that fails again does not page again', async () => {
    const w = world();
    await rejoinStep();
    await rejoinStep();
    expect(w.pages).toHaveLength(1);
  });

  it('a rejoin that crashed after it paged: SettleRejoin marks it again and stays quiet', async () => {
    const w = world();
    await rejoinStep();
    await settleStep({ ...state, rejoinError: { Error: 'Lambda.Unknown', Cause: 'Task timed out after 900 seconds' } });
    expect(w.pages).toHaveLength(1);
  });

  it('a rejoin Lambda that crashed before marking anything: SettleRejoin pages, once across its own retries', async () => {
    let failDns = 1;
    const w = world({
      setRecord: async () => {
        if (failDns-- > 0) throw new Error('Route 53 throttled');
      },
    });
    const crashed = { ...state, rejoinError: { Error: 'Lambda.Unknown', Cause: 'Task timed out after 900 seconds' } };
    // The first attempt marks and pages, then fails on Route 53; the retry marks again and does not page.
    await expect(settleStep(crashed)).rejects.toThrow(/Route 53 throttled/);
    await settleStep(crashed);
    expect(w.registry.get('pg1')?.status).toBe('needs-rejoin');
    expect(w.pages.map((p) => p.subject)).toEqual([
      'pgquorum orders: failover to pg2 committed-degraded, pg1 not rejoined',
    ]);
    expect(w.pages[0]?.message).toMatch(
      /^rejoin of pg1 crashed: Lambda\.Unknown: Task timed out after 900 seconds\. .*Next: `npx pgquorum rejoin pg1`/,
    );
  });

  it('a rejoin that ends after a newer run took the lease marks nothing and pages nothing', async () => {
    const w = world({
      host: async () => {
        // Another failover commits while the rejoin runs (it may take minutes).
        w.moveLease({ epoch: 5, primary: 'pg3' });
        throw new HostUnreachableError('pg1: rewind-and-follow not delivered within 30000 ms (Pending)');
      },
    });
    await rejoinStep();
    expect(w.registry.get('pg1')?.status).toBe('fenced');
    expect(w.pages).toEqual([]);
  });

  it('another node, or the same node at a later epoch, is another event: it pages', async () => {
    const w = world();
    await rejoinStep();
    w.moveLease({ epoch: 5 });
    await rejoinStep({ ...state, epoch: 5 });
    expect(w.pages.map((p) => p.message.match(/at epoch \d/)?.[0])).toEqual(['at epoch 4', 'at epoch 5']);
  });
});
