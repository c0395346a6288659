import type { Deps } from '../../lambdas/handlers/deps';
import { handler as promote } from '../../lambdas/handlers/promote';
import type { RunState } from '../../lambdas/handlers/run-state';
import { CANDIDATE_FAILED_ERROR } from '../../lambdas/handlers/task';
import type { ProbeResult } from '../../lambdas/ports/postgres-port';
import { FAILOVER_HOLDER, failingOverLease, memoryLease, registeredNode, stepDeps } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

const HOLDER = FAILOVER_HOLDER;

/** A failover at epoch 4 with pg1 fenced (proven) and pg2 chosen; `received` is each replica's receive LSN now. */
function world(received: Record<string, string>, noFailover: string[] = []) {
  const promoted: string[] = [];
  const timeline: string[] = [];
  const cell = memoryLease(failingOverLease());
  const nodes = () => ['pg1', 'pg2', 'pg3'].map((n) => registeredNode(n, { noFailover: noFailover.includes(n) }));
  currentDeps = {
    ...stepDeps(cell, timeline, nodes),
    pg: {
      probe: async (n: { name: string }): Promise<ProbeResult> =>
        promoted.includes(n.name)
          ? { node: n.name, ok: true, latencyMs: 1, role: 'primary', receiveLsn: null }
          : { node: n.name, ok: true, latencyMs: 1, role: 'replica', receiveLsn: received[n.name] ?? null },
      promote: async (n: { name: string }) => {
        promoted.push(n.name);
        return { alreadyPrimary: false, timeline: 2, lsn: received[n.name] };
      },
    },
  } as unknown as Deps;
  return { promoted, timeline, lease: () => cell.lease };
}

const state: RunState = {
  input: { mode: 'failover', cluster: 'lab', reason: 'test' },
  epoch: 4,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  candidateLsn: '0/5000100',
  replicas: ['pg3'],
};

describe('Promote', () => {
  it('promotes the candidate that received at least as much as every other replica once pg1 is fenced', async () => {
    const w = world({ pg2: '0/5000100', pg3: '0/5000100' });
    await promote({ state, executionName: HOLDER });
    expect(w.promoted).toEqual(['pg2']);
    expect(w.lease().run?.promotedLsn).toBe('0/5000100');
  });

  it('gives a candidate up (for Replan) when another replica received more by the fence, promoting nothing', async () => {
    const w = world({ pg2: '0/5000100', pg3: '0/5000180' });
    const err = await promote({ state, executionName: HOLDER }).catch((e) => e);
    // The state machine routes this name to Replan (the candidate fenced and excluded, SelectCandidate again).
    expect(err.name).toBe(CANDIDATE_FAILED_ERROR);
    expect(err.message).toBe(
      'CandidateFailedError: pg2 received 0/5000100 but pg3 received 0/5000180 (128 bytes more) by the time the old primary was fenced: promoting pg2 could lose commits pg3 acknowledged',
    );
    expect(w.promoted).toEqual([]);
    expect(w.lease().run?.promotedLsn).toBeUndefined();
  });

  it('a noFailover replica ahead does not count: SelectCandidate could never choose it either', async () => {
    const w = world({ pg2: '0/5000100', pg3: '0/5000180' }, ['pg3']);
    await promote({ state, executionName: HOLDER });
    expect(w.promoted).toEqual(['pg2']);
  });

  it("the operator's --to is their choice: promoted even when another replica received more", async () => {
    const w = world({ pg2: '0/5000100', pg3: '0/5000180' });
    await promote({ state: { ...state, input: { ...state.input, target: 'pg2' } }, executionName: HOLDER });
    expect(w.promoted).toEqual(['pg2']);
  });

  it('a retry after the promotion (the candidate answers as primary) promotes again without comparing', async () => {
    const w = world({ pg2: '0/5000100', pg3: '0/5000180' });
    w.promoted.push('pg2');
    await promote({ state, executionName: HOLDER });
    expect(w.promoted).toEqual(['pg2', 'pg2']);
  });
});
