import { initialLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import { handler as confirmCandidate } from '../../lambdas/handlers/confirm-candidate';
import type { Deps } from '../../lambdas/handlers/deps';
import type { RunState } from '../../lambdas/handlers/run-state';
import { registeredNode } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

type Seen = { ok: boolean; role?: string; error?: string } | Error;

/** The run's lease and nodes; the candidate answers each probe with the next of `seen` (the last one repeats). */
function world(lease: Lease, seen: readonly Seen[]) {
  const probes: string[] = [];
  const timeline: string[] = [];
  currentDeps = {
    config: {},
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    store: {
      getLease: async () => lease,
      listNodes: async () =>
        ['pg1', 'pg2', 'pg3'].map((n, i) =>
          registeredNode(n, { privateIp: `10.0.0.${i + 1}`, host: `10.0.0.${i + 1}` }),
        ),
      appendTimeline: async (_e: number, s: { step: string; detail: string }) =>
        void timeline.push(`${s.step}: ${s.detail}`),
    },
    pg: {
      probe: async (n: { host: string }) => {
        const r = seen[Math.min(probes.length, seen.length - 1)]!;
        probes.push(n.host);
        if (r instanceof Error) throw r;
        return r;
      },
    },
    now: () => 1_000_000,
  } as unknown as Deps;
  return { probes, timeline };
}

const failingOver = (mode: 'failover' | 'switchover' = 'failover'): Lease => ({
  ...initialLease('pg1', 0),
  epoch: 7,
  state: mode === 'failover' ? 'failing-over' : 'switching-over',
  run: { holder: 'c-e7', mode, oldPrimary: 'pg1', candidate: 'pg2', fenceVerified: true, promotedLsn: '0/5000000' },
});

const run: RunState = {
  input: { mode: 'failover', cluster: 'c', reason: 'r' },
  epoch: 7,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  replicas: ['pg3'],
};

describe('confirm-candidate: the last look at the promoted candidate before the commit', () => {
  it('a writable primary: the run goes on unchanged, one probe', async () => {
    const w = world(failingOver(), [{ ok: true, role: 'primary' }]);
    expect(await confirmCandidate({ state: run, executionName: 'c-e7' })).toEqual(run);
    expect(w.probes).toEqual(['10.0.0.2']);
    expect(w.timeline).toEqual([]);
  });

  it.each([
    {
      name: 'a candidate that stopped answering after the last re-point',
      seen: [{ ok: false, error: 'connect ECONNREFUSED 10.0.0.2:5432' }],
      how: 'does not answer (connect ECONNREFUSED 10.0.0.2:5432)',
    },
    {
      name: 'a candidate that answers as a replica',
      seen: [{ ok: true, role: 'replica' }],
      how: 'answers as a replica',
    },
    { name: 'a probe that throws', seen: [new Error('socket hang up')], how: 'does not answer (socket hang up)' },
  ])('$name: the candidate failed (Replan chooses again), probed twice first', async ({ seen, how }) => {
    const w = world(failingOver(), seen);
    const reason = `new primary pg2 ${how} after the re-points, before the commit`;
    await expect(confirmCandidate({ state: run, executionName: 'c-e7' })).rejects.toMatchObject({
      name: 'Pgq.CandidateFailed',
      message: `CandidateFailedError: ${reason}`,
    });
    // Probed twice before giving a primary up: one slow probe must not cost a healthy candidate.
    expect(w.probes).toEqual(['10.0.0.2', '10.0.0.2']);
    expect(w.timeline).toEqual([
      `confirm-candidate-candidate-lost: ${reason}`,
      `confirm-candidate-failed: CandidateFailedError: ${reason}`,
    ]);
  });

  it('one failed probe, then a live primary: the run goes on', async () => {
    const w = world(failingOver(), [
      { ok: false, error: 'timeout' },
      { ok: true, role: 'primary' },
    ]);
    expect(await confirmCandidate({ state: run, executionName: 'c-e7' })).toEqual(run);
    expect(w.probes).toEqual(['10.0.0.2', '10.0.0.2']);
  });

  it('a switchover is refused with nothing probed: its target failing is its rollback’s to handle', async () => {
    const w = world(failingOver('switchover'), [{ ok: false, error: 'down' }]);
    await expect(
      confirmCandidate({ state: { ...run, input: { ...run.input, mode: 'switchover' } }, executionName: 'c-e7' }),
    ).rejects.toThrow('a switchover does not re-plan');
    expect(w.probes).toEqual([]);
  });

  it('a caller that is not the holder is refused with nothing probed', async () => {
    const w = world(failingOver(), [{ ok: true, role: 'primary' }]);
    await expect(confirmCandidate({ state: run, executionName: 'someone-else' })).rejects.toThrow(/refused/);
    expect(w.probes).toEqual([]);
  });
});
