import type { LeaseResult } from '../../lambdas/core/lease';
import { initialLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import { handler as abort } from '../../lambdas/handlers/abort';
import type { Deps } from '../../lambdas/handlers/deps';
import type { RunState } from '../../lambdas/handlers/run-state';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;
const HOLDER = 'c-failover-e4';

/** The abort of epoch 4's failover (pg1 -> pg2); the lease, history reason and page recorded. */
function world() {
  let lease: Lease = {
    ...initialLease('pg1', 0),
    epoch: 4,
    state: 'failing-over',
    holder: HOLDER,
    run: { holder: HOLDER, mode: 'failover', oldPrimary: 'pg1', candidate: 'pg2' },
  };
  const seen: { event?: string; page?: string } = {};
  currentDeps = {
    config: { PGQ_CLUSTER: 'c', settings: {} },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    metrics: { flush: async () => undefined, needsAttention: async () => undefined },
    store: {
      getLease: async () => lease,
      transitionLease: async (
        decide: (l: Lease) => LeaseResult,
        writes?: (l: Lease) => { event?: { fields: { reason?: string } } },
      ) => {
        const r = decide(lease);
        if (!r.ok) return { ok: false, before: lease, reason: r.reason };
        const before = lease;
        lease = r.lease;
        seen.event = writes?.(lease).event?.fields.reason;
        return { ok: true, before, lease, changed: r.lease !== before };
      },
      appendTimeline: async () => undefined,
      getEvent: async () => undefined,
      listNodes: async () => [],
    },
    notify: async (_s: string, m: string) => {
      seen.page = m;
    },
    now: () => 1000,
  } as unknown as Deps;
  return { lease: () => lease, seen };
}

it('writes one readable sentence, not the Lambda JSON, to the lease, the history and the page', async () => {
  const w = world();
  const state: RunState = {
    input: { mode: 'failover', cluster: 'c', reason: 'r' },
    epoch: 4,
    oldPrimary: 'pg1',
    candidate: 'pg2',
    error: {
      Error: 'PromotionFailedError',
      Cause: JSON.stringify({
        errorType: 'PromotionFailedError',
        errorMessage: 'pg2: pg_promote did not finish within 30000 ms',
        trace: ['PromotionFailedError: pg2: ...', '    at promote (/var/task/index.js:1:2)'],
      }),
    },
  };
  await abort({ state, executionName: HOLDER });
  const reason = w.lease().reason;
  expect(reason).toBe(
    'failover pg1 -> pg2 aborted at epoch 4: candidate pg2 did not promote (pg2: pg_promote did not finish within 30000 ms); next: find the node that should be primary (`npx pgquorum status`), then `npx pgquorum resume --primary <node>`',
  );
  expect(w.lease().state).toBe('needs-attention');
  expect(w.seen.event).toBe(reason);
  expect(w.seen.page).toBe(reason);
});
