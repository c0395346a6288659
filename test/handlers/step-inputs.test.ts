import { initialLease } from '../../lambdas/core/lease';
import { handler as acquireLease } from '../../lambdas/handlers/acquire-lease';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler as repointReplica } from '../../lambdas/handlers/repoint-replica';
import type { RunState } from '../../lambdas/handlers/run-state';
import { FATAL_ERROR } from '../../lambdas/handlers/task';
import { FAILOVER_HOLDER, failingOverLease, memoryLease, stepDeps } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

/** Deps whose PostgreSQL and host ports record any call: a refused step must make none. */
function world(lease = initialLease('pg1', 0)) {
  const cell = memoryLease(lease);
  const timeline: string[] = [];
  const calls: string[] = [];
  const spy = new Proxy({}, { get: (_t, k) => async () => void calls.push(String(k)) });
  currentDeps = {
    ...stepDeps(cell, timeline),
    config: { ...stepDeps(cell, timeline).config, PGQ_CLUSTER: 'lab' },
    pg: spy,
    host: spy,
    repl: { user: 'repl', password: 'x' },
  } as unknown as Deps;
  return { cell, timeline, calls, before: cell.lease };
}

describe('a step called without the event field it acts on refuses, naming it, with nothing changed', () => {
  it('acquire-lease without an executionName takes no lease', async () => {
    const w = world();
    const err = await acquireLease({ state: { input: { mode: 'failover', cluster: 'lab' } } }).catch((e) => e);
    expect(err.name).toBe(FATAL_ERROR);
    // The acquire policy (lambdas/core/step-policy.ts) refuses it before the step reads the name itself.
    expect(err.message).toBe(
      'StepRefusedError: acquire-lease refused: no execution name: the lease is only taken by a state-machine execution; nothing changed',
    );
    expect(w.cell.lease).toBe(w.before);
    expect(w.cell.writes).toEqual([]);
  });

  it('repoint-replica without an item re-points nothing', async () => {
    const w = world(failingOverLease({ promotedLsn: '0/5000100' }));
    const state: RunState = {
      input: { mode: 'failover', cluster: 'lab', reason: 'test' },
      epoch: 4,
      oldPrimary: 'pg1',
      candidate: 'pg2',
      replicas: ['pg3'],
    };
    const err = await repointReplica({ state, executionName: FAILOVER_HOLDER }).catch((e) => e);
    expect(err.message).toBe(
      'StepRefusedError: repoint-replica refused: the event has no item (the replica); nothing changed',
    );
    expect(w.calls).toEqual([]);
    expect(w.timeline).toEqual([]);
    expect(w.cell.lease).toBe(w.before);
  });
});
