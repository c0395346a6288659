import { DEFAULT_SETTINGS } from '../../lambdas/core';
import { HostUnreachableError } from '../../lambdas/core/errors';
import type { RunRecord } from '../../lambdas/core/types';
import { handler as abort } from '../../lambdas/handlers/abort';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler as replan } from '../../lambdas/handlers/replan';
import type { RunState } from '../../lambdas/handlers/run-state';
import { FAILOVER_HOLDER, failingOverLease, memoryLease, stepDeps } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

const HOLDER = FAILOVER_HOLDER;

/** A failover at epoch 4 that fenced pg1 and promoted pg2, whose Promote (or re-point) then failed. */
function world(o: { run?: Partial<RunRecord>; revoke?: () => Promise<void>; sever?: () => Promise<number> } = {}) {
  const calls: string[] = [];
  const timeline: string[] = [];
  const cell = memoryLease(failingOverLease({ promotedLsn: '0/5000000', ...o.run }), () => void calls.push('record'));
  let sgOpen = true;
  const base = stepDeps(cell, timeline);
  const d = {
    ...base,
    store: {
      ...base.store,
      writeGuarded: async (g: { epoch: number }, w: { nodes?: { name: string; status: string }[] }) => {
        if (g.epoch !== cell.lease.epoch) throw new Error(`lease moved past epoch ${g.epoch}`);
        for (const n of w.nodes ?? []) calls.push(`mark ${n.name} ${n.status}`);
      },
    },
    fence: {
      revokeIngress: async () => {
        await o.revoke?.();
        sgOpen = false;
        calls.push('revoke');
        return { revokedRules: 1 };
      },
      ingressClosed: async () => !sgOpen,
    },
    host: {
      severConnections: async (_n: unknown, opts: { timeoutMs: number }) => {
        calls.push(`ssm-stop within ${opts.timeoutMs} ms`);
        return (o.sever ?? (async () => -1))();
      },
    },
  };
  currentDeps = d as unknown as Deps;
  return { calls, timeline, lease: () => cell.lease };
}

const state: RunState = {
  input: { mode: 'failover', cluster: 'lab', reason: 'test' },
  epoch: 4,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  candidateLsn: '0/5000000',
  promotedLsn: '0/5000000',
  newTimeline: 2,
  replicas: ['pg3'],
  error: { Error: 'Pgq.Retriable', Cause: '{"errorMessage":"PromotionFailedError: pg2: pg_promote returned false"}' },
};

describe('Replan', () => {
  it('fences the failed candidate before its record changes, then clears it for SelectCandidate', async () => {
    const w = world();
    const out = (await replan({ state, executionName: HOLDER })) as RunState;
    // Invariant 1: ingress revoked (and proven) and the stop tried before the record lets a second node be promoted.
    // Marked first: whatever the fence manages, a node that may have promoted is re-cloned later, never rewound.
    expect(w.calls).toEqual(['mark pg2 needs-reclone', 'revoke', 'ssm-stop within 8000 ms', 'record']);
    expect(w.lease().run).toEqual({
      holder: HOLDER,
      mode: 'failover',
      oldPrimary: 'pg1',
      fenceVerified: true,
      excluded: ['pg2'],
    });
    expect(out).toMatchObject({ excluded: ['pg2'], followedTimelines: [2], replan: { count: 1 } });
    expect(out.candidate).toBeUndefined();
    expect(out.promotedLsn).toBeUndefined();
    expect(out.error).toBeUndefined();
    expect(w.timeline.at(-1)).toBe(
      'replan: candidate pg2 failed (PromotionFailedError: pg2: pg_promote returned false): fenced and given up, choosing again among pg3 (re-plan 1 of at most 2)',
    );
  });

  it('a dead host: the stop fails, ingress revoked is enough, the run re-plans', async () => {
    const w = world({ sever: () => Promise.reject(new HostUnreachableError('not delivered')) });
    await replan({ state, executionName: HOLDER });
    expect(w.lease().run?.excluded).toEqual(['pg2']);
    expect(w.timeline).toContain(
      'replan-fence-stop: pg2: postgres not stopped (HostUnreachableError: not delivered); its ingress is revoked',
    );
  });

  it('ingress that cannot be revoked: needs-attention, the record keeps the candidate (nothing else is promoted)', async () => {
    const w = world({ revoke: () => Promise.reject(new Error('UnauthorizedOperation')) });
    await expect(replan({ state, executionName: HOLDER })).rejects.toThrow(
      /its ingress could not be revoked \(UnauthorizedOperation\): no other node is promoted/,
    );
    expect(w.lease().run?.candidate).toBe('pg2');
    expect(w.lease().run?.excluded).toBeUndefined();
  });

  it('no node left: gives up with the reason, the last candidate fenced like the others (its Promote may complete)', async () => {
    const w = world({ run: { candidate: 'pg3', excluded: ['pg2'] } });
    await expect(
      replan({ state: { ...state, candidate: 'pg3', replicas: [] }, executionName: HOLDER }),
    ).rejects.toThrow(
      /^ReplanGiveUpError: candidate pg3 failed .*no other node to choose \(old primary pg1, given up: pg2, pg3\): needs attention; check pg2, pg3 \(fenced: ingress revoked\), then `npx pgquorum resume --primary pg1`/,
    );
    // Fenced and marked for a re-clone, but the record is not changed: nothing else may be promoted, the run aborts.
    expect(w.calls).toEqual(['mark pg3 needs-reclone', 'revoke', 'ssm-stop within 8000 ms']);
    expect(w.lease().run?.candidate).toBe('pg3');
    expect(w.timeline).toContainEqual(expect.stringMatching(/^replan-give-up: candidate pg3 failed/));
  });

  it('maxReplans 0: the first failed candidate is fenced and the run gives up (ReplanGiveUpError)', async () => {
    world();
    currentDeps = {
      ...currentDeps,
      config: { ...currentDeps.config, settings: { ...DEFAULT_SETTINGS, maxReplans: 0 } },
    };
    const err = await replan({ state, executionName: HOLDER }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'Pgq.Fatal' });
    expect((err as Error).message).toMatch(
      /^ReplanGiveUpError: candidate pg2 failed \(PromotionFailedError: .*\); 1 candidate\(s\) given up \(pg2\), maxReplans 0 reached: needs attention/,
    );
  });

  it('a give-up whose fence fails says so: fence it by hand', async () => {
    const w = world({
      run: { candidate: 'pg3', excluded: ['pg2'] },
      revoke: () => Promise.reject(new Error('UnauthorizedOperation')),
    });
    await expect(
      replan({ state: { ...state, candidate: 'pg3', replicas: [] }, executionName: HOLDER }),
    ).rejects.toThrow(/but pg3's ingress could NOT be revoked \(UnauthorizedOperation\): fence it by hand first$/);
    expect(w.lease().run?.candidate).toBe('pg3');
  });

  it('a retry after its write repeats the same fence and returns the same state', async () => {
    const w = world();
    const first = await replan({ state, executionName: HOLDER });
    const again = await replan({ state, executionName: HOLDER });
    expect(again).toEqual(first);
    expect(w.lease().run?.excluded).toEqual(['pg2']);
  });

  it('refuses a stranger with nothing changed', async () => {
    const w = world();
    await expect(replan({ state, executionName: 'someone' })).rejects.toThrow(/not the holder/);
    expect(w.calls).toEqual([]);
  });
});

describe('Abort after a promotion', () => {
  it('revokes the promoted candidate ingress before the run ends and says so in the notification', async () => {
    const w = world();
    const notes: string[] = [];
    const revoked: string[] = [];
    const d = currentDeps as unknown as Record<string, Record<string, unknown>>;
    Object.assign(d.store!, { getEvent: async () => ({ timeline: [] }) });
    Object.assign(d.fence!, {
      revokeIngress: async (n: { name: string }) => {
        revoked.push(n.name);
        return { revokedRules: 1 };
      },
      ingressClosed: async () => true,
      instanceState: async () => 'running',
    });
    Object.assign(d, {
      metrics: { flush: async () => undefined, needsAttention: async () => undefined },
      notify: async (_s: string, body: string) => void notes.push(body),
      config: { settings: DEFAULT_SETTINGS, PGQ_CLUSTER: 'lab' },
    });
    await abort({ state, executionName: HOLDER });
    expect(revoked).toEqual(['pg2']);
    expect(w.lease().state).toBe('needs-attention');
    expect(notes[0]).toMatch(
      /Candidate: candidate pg2 was promoted by this run: ingress revoked \(1 rule\(s\)\); it is not the lease's primary\.$/,
    );
    expect(w.timeline).toContain(
      "abort-fence-candidate: candidate pg2 was promoted by this run: ingress revoked (1 rule(s)); it is not the lease's primary",
    );
  });

  it('leaves a candidate that never reached Promote alone', async () => {
    world({ run: { promotedLsn: undefined, fenceVerified: undefined } });
    const revoked: string[] = [];
    const d = currentDeps as unknown as Record<string, Record<string, unknown>>;
    Object.assign(d.store!, { getEvent: async () => ({ timeline: [] }) });
    Object.assign(d.fence!, {
      revokeIngress: async (n: { name: string }) => void revoked.push(n.name),
      ingressClosed: async () => true,
      instanceState: async () => 'running',
    });
    Object.assign(d, {
      metrics: { flush: async () => undefined, needsAttention: async () => undefined },
      notify: async () => undefined,
      config: { settings: DEFAULT_SETTINGS, PGQ_CLUSTER: 'lab' },
    });
    const { promotedLsn: _p, ...notPromoted } = state;
    await abort({ state: notPromoted, executionName: HOLDER });
    expect(revoked).toEqual([]);
  });
});
