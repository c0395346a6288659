import {
  abortLease,
  acquireLease,
  advanceRun,
  breakLease,
  commitLease,
  escalateLease,
  type Lease,
  type LeaseResult,
  pauseLease,
  releaseLease,
  resumeLease,
  staleEpoch,
} from '../../lambdas/core';
import { lease, NOW } from './builders';

/** A failover at epoch 8 held by exec-1 that has chosen pg2, fenced pg1 and promoted pg2. */
const promoted = (over: Partial<Lease> = {}): Lease =>
  lease({
    state: 'failing-over',
    epoch: 8,
    holder: 'exec-1',
    run: {
      holder: 'exec-1',
      mode: 'failover',
      oldPrimary: 'pg1',
      candidate: 'pg2',
      fenceVerified: true,
      promotedLsn: '0/5000000',
    },
    ...over,
  });
const held = (over: Partial<Lease> = {}): Lease =>
  lease({
    state: 'failing-over',
    holder: 'exec-1',
    run: { holder: 'exec-1', mode: 'failover', oldPrimary: 'pg1' },
    ...over,
  });

const acq = (l: Lease, mode: 'failover' | 'switchover') =>
  acquireLease(l, { mode, holder: 'exec-1', now: NOW, durationMs: 300000, reason: 'test' });

function expectOk(r: LeaseResult): Lease {
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.lease;
}

describe('lease transitions', () => {
  it.each<[string, () => LeaseResult, boolean, RegExp | object]>([
    [
      'failover from steady',
      () => acq(lease(), 'failover'),
      true,
      {
        epoch: 8,
        state: 'failing-over',
        holder: 'exec-1',
        resumeState: 'steady',
        run: { holder: 'exec-1', mode: 'failover', oldPrimary: 'pg1' },
      },
    ],
    ['switchover from steady', () => acq(lease(), 'switchover'), true, { epoch: 8, state: 'switching-over' }],
    [
      'switchover from paused',
      () => acq(lease({ state: 'paused' }), 'switchover'),
      true,
      { epoch: 8, resumeState: 'paused' },
    ],
    [
      'failover from paused',
      () => acq(lease({ state: 'paused', reason: 'maintenance' }), 'failover'),
      false,
      /cannot start a failover from paused \(maintenance\)/,
    ],
    [
      "an operator's forced failover from paused: back to paused after it",
      () =>
        acquireLease(lease({ state: 'paused' }), {
          mode: 'failover',
          holder: 'exec-1',
          now: NOW,
          durationMs: 300000,
          reason: 'test',
          forced: true,
        }),
      true,
      { epoch: 8, state: 'failing-over', resumeState: 'paused' },
    ],
    [
      'a forced failover from needs-attention',
      () =>
        acquireLease(lease({ state: 'needs-attention' }), {
          mode: 'failover',
          holder: 'exec-1',
          now: NOW,
          durationMs: 300000,
          reason: 'test',
          forced: true,
        }),
      false,
      /cannot start a failover from needs-attention/,
    ],
    [
      'failover from needs-attention',
      () => acq(lease({ state: 'needs-attention' }), 'failover'),
      false,
      /cannot start a failover from needs-attention/,
    ],
    [
      'a held lease',
      () => acq(lease({ state: 'failing-over', holder: 'exec-0', leaseUntil: NOW + 1000 }), 'switchover'),
      false,
      /lease held by exec-0 \(failing-over, epoch 7\)$/,
    ],
    [
      'an expired held lease is never taken over',
      () => acq(lease({ state: 'switching-over', holder: 'exec-0', leaseUntil: NOW - 5000 }), 'failover'),
      false,
      /expired 5000 ms ago: needs an operator/,
    ],
    [
      'commit returns to steady with the new primary',
      () => commitLease(promoted(), { epoch: 8, holder: 'exec-1', primary: 'pg2', now: NOW }),
      true,
      { state: 'steady', primary: 'pg2', lastFailoverAt: NOW, holder: null, run: { outcome: 'committed' } },
    ],
    [
      'commit of a switchover started paused stays paused and is not a failover',
      () =>
        commitLease(
          promoted({
            state: 'switching-over',
            resumeState: 'paused',
            run: {
              holder: 'exec-1',
              mode: 'switchover',
              oldPrimary: 'pg1',
              candidate: 'pg3',
              finalLsn: '0/4',
              promotedLsn: '0/4',
            },
          }),
          { epoch: 8, holder: 'exec-1', primary: 'pg3', now: NOW },
        ),
      true,
      { state: 'paused', primary: 'pg3', lastFailoverAt: null },
    ],
    [
      'commit with a stale epoch',
      () => commitLease(promoted({ epoch: 9 }), { epoch: 8, holder: 'exec-1', primary: 'pg2', now: NOW }),
      false,
      /stale epoch 8: the lease is at epoch 9/,
    ],
    [
      'commit when not in flight',
      () => commitLease(promoted({ state: 'steady' }), { epoch: 8, holder: 'exec-1', primary: 'pg2', now: NOW }),
      false,
      /no longer in flight: the lease is steady/,
    ],
    [
      'commit by a caller that is not the holder',
      () => commitLease(promoted(), { epoch: 8, holder: 'guess', primary: 'pg2', now: NOW }),
      false,
      /guess is not the holder of epoch 8 \(exec-1\)/,
    ],
    [
      'commit without an execution name',
      () => commitLease(promoted(), { epoch: 8, primary: 'pg2', now: NOW }),
      false,
      /no execution name: only the holder of epoch 8 \(exec-1\) may act/,
    ],
    [
      'commit of a node the run did not choose',
      () => commitLease(promoted(), { epoch: 8, holder: 'exec-1', primary: 'pg3', now: NOW }),
      false,
      /epoch 8 chose pg2, not pg3/,
    ],
    [
      'commit before the candidate is promoted',
      () =>
        commitLease(promoted({ run: { holder: 'exec-1', mode: 'failover', oldPrimary: 'pg1', candidate: 'pg2' } }), {
          epoch: 8,
          holder: 'exec-1',
          primary: 'pg2',
          now: NOW,
        }),
      false,
      /epoch 8 has not promoted pg2/,
    ],
    [
      'a retried commit finds its own committed record and succeeds unchanged',
      () => {
        const c = expectOk(commitLease(promoted(), { epoch: 8, holder: 'exec-1', primary: 'pg2', now: NOW }));
        const again = expectOk(commitLease(c, { epoch: 8, holder: 'exec-1', primary: 'pg2', now: NOW + 5 }));
        return again === c ? { ok: true, lease: again } : { ok: false, reason: 'lease rewritten' };
      },
      true,
      { state: 'steady', primary: 'pg2', updatedAt: NOW },
    ],
    [
      'abort to needs-attention',
      () => abortLease(held(), { epoch: 7, holder: 'exec-1', reason: 'fence failed', now: NOW }),
      true,
      { state: 'needs-attention', reason: 'fence failed', epoch: 7, run: { outcome: 'aborted' } },
    ],
    [
      'abort with a stale epoch',
      () => abortLease(held(), { epoch: 6, holder: 'exec-1', reason: 'x', now: NOW }),
      false,
      /stale epoch 6/,
    ],
    [
      "a stranger's abort of a steady cluster",
      () => abortLease(lease(), { epoch: 7, reason: 'x', now: NOW }),
      false,
      /epoch 7 carries no run record/,
    ],
    [
      'abort after the run committed',
      () =>
        abortLease(expectOk(commitLease(promoted(), { epoch: 8, holder: 'exec-1', primary: 'pg2', now: NOW })), {
          epoch: 8,
          holder: 'exec-1',
          reason: 'x',
          now: NOW,
        }),
      false,
      /epoch 8 already ended \(committed\): nothing to abort/,
    ],
    [
      'a retried abort is unchanged',
      () => {
        const a = expectOk(abortLease(held(), { epoch: 7, holder: 'exec-1', reason: 'x', now: NOW }));
        return abortLease(a, { epoch: 7, holder: 'exec-1', reason: 'x', now: NOW + 9 });
      },
      true,
      { state: 'needs-attention', updatedAt: NOW },
    ],
    [
      'escalation of a steady cluster',
      () => escalateLease(lease(), { reason: 'anti-flap', now: NOW }),
      true,
      { state: 'needs-attention', reason: 'anti-flap', epoch: 7 },
    ],
    [
      'escalation never ends an in-flight run',
      () => escalateLease(held(), { reason: 'anti-flap', now: NOW }),
      false,
      /cannot escalate a failing-over lease \(epoch 7\)/,
    ],
    [
      'lease break while the holder still runs',
      () => breakLease(held(), { epoch: 7, holderStatus: 'RUNNING', now: NOW, reason: 'x' }),
      false,
      /the holder execution exec-1 is still running: stop it first/,
    ],
    [
      'lease break of another epoch',
      () => breakLease(held(), { epoch: 6, holderStatus: 'FAILED', now: NOW, reason: 'x' }),
      false,
      /stale epoch 6: the lease is at epoch 7/,
    ],
    [
      'lease break of a steady lease',
      () => breakLease(lease(), { epoch: 7, holderStatus: 'FAILED', now: NOW, reason: 'x' }),
      false,
      /epoch 7 is not in flight: the lease is steady/,
    ],
    [
      'lease break while a stopped holder’s task may still run',
      () =>
        breakLease(held(), {
          epoch: 7,
          holderStatus: 'ABORTED',
          now: NOW,
          reason: 'x',
          holderEndedAt: NOW - 30_000,
          drainMs: 120_000,
        }),
      false,
      /^the holder execution exec-1 ended 30 s ago and a task it started may still run: try again in 90 s$/,
    ],
    [
      'lease break once the stopped holder’s tasks have drained',
      () =>
        breakLease(held(), {
          epoch: 7,
          holderStatus: 'ABORTED',
          now: NOW,
          reason: 'broken by operator',
          holderEndedAt: NOW - 120_000,
          drainMs: 120_000,
        }),
      true,
      { state: 'needs-attention', reason: 'broken by operator' },
    ],
    [
      'lease break of a stopped holder',
      () => breakLease(held(), { epoch: 7, holderStatus: 'ABORTED', now: NOW, reason: 'broken by operator' }),
      true,
      { state: 'needs-attention', reason: 'broken by operator', holder: null, run: { outcome: 'aborted' } },
    ],
    [
      'pause from steady',
      () => pauseLease(lease(), { now: NOW, reason: 'upgrade' }),
      true,
      { state: 'paused', reason: 'upgrade' },
    ],
    [
      'pause while failing over',
      () => pauseLease(lease({ state: 'failing-over' }), { now: NOW, reason: 'x' }),
      false,
      /cannot pause while failing-over/,
    ],
    [
      'resume from paused',
      () => resumeLease(lease({ state: 'paused' }), { now: NOW, reason: 'done' }),
      true,
      { state: 'steady' },
    ],
    [
      'resume from needs-attention needs the primary',
      () => resumeLease(lease({ state: 'needs-attention', reason: 'fence failed' }), { now: NOW, reason: 'ok' }),
      false,
      /needs the verified primary/,
    ],
    [
      'resume from needs-attention naming the primary',
      () => resumeLease(lease({ state: 'needs-attention' }), { now: NOW, reason: 'ok', primary: 'pg2' }),
      true,
      { state: 'steady', primary: 'pg2' },
    ],
    [
      'release gives an unconfirmed run back, keeping the epoch',
      () =>
        releaseLease(held({ epoch: 8, resumeState: 'steady' }), {
          epoch: 8,
          holder: 'exec-1',
          reason: 'no quorum',
          now: NOW,
        }),
      true,
      { state: 'steady', epoch: 8, primary: 'pg1', reason: 'no quorum', holder: null, run: { outcome: 'released' } },
    ],
    [
      'a retried release is unchanged',
      () => {
        const r = expectOk(releaseLease(held(), { epoch: 7, holder: 'exec-1', reason: 'no quorum', now: NOW }));
        return releaseLease(r, { epoch: 7, holder: 'exec-1', reason: 'no quorum', now: NOW + 3 });
      },
      true,
      { state: 'steady', updatedAt: NOW },
    ],
    [
      'release by a stranger',
      () => releaseLease(held(), { epoch: 7, holder: 'guess', reason: 'x', now: NOW }),
      false,
      /guess is not the holder of epoch 7/,
    ],
    [
      'release with a stale epoch',
      () => releaseLease(lease({ state: 'failing-over', epoch: 9 }), { epoch: 8, reason: 'x', now: NOW }),
      false,
      /stale epoch 8/,
    ],
    [
      'resume while switching over',
      () => resumeLease(lease({ state: 'switching-over' }), { now: NOW, reason: 'x' }),
      false,
      /cannot resume while switching-over/,
    ],
  ])('%s', (_name, run, ok, expected) => {
    const r = run();
    expect(r.ok).toBe(ok);
    if (r.ok) expect(r.lease).toMatchObject(expected as object);
    else expect(r.reason).toMatch(expected as RegExp);
  });

  it('epochs only increase across a full cycle', () => {
    const a = expectOk(acq(lease(), 'failover'));
    const p = expectOk(
      advanceRun(a, {
        epoch: a.epoch,
        holder: 'exec-1',
        progress: { candidate: 'pg2', fenceVerified: true, promotedLsn: '0/1' },
      }),
    );
    const c = expectOk(commitLease(p, { epoch: a.epoch, holder: 'exec-1', primary: 'pg2', now: NOW }));
    const b = expectOk(acq(c, 'switchover'));
    expect([lease().epoch, a.epoch, c.epoch, b.epoch]).toEqual([7, 8, 8, 9]);
  });

  it.each([
    [lease({ state: 'failing-over', epoch: 8 }), 8, null],
    [lease({ state: 'failing-over', epoch: 9 }), 8, /stale epoch 8: the lease is at epoch 9/],
    [lease({ state: 'needs-attention', epoch: 8 }), 8, /no longer in flight: the lease is needs-attention/],
  ])('staleEpoch guard %#', (l, epoch, expected) => {
    const r = staleEpoch(l, epoch);
    if (expected === null) expect(r).toBeNull();
    else expect(r).toMatch(expected);
  });

  const rec = (over: Partial<NonNullable<Lease['run']>> = {}) =>
    held({ run: { holder: 'exec-1', mode: 'failover', oldPrimary: 'pg1', ...over } });
  it.each<
    [
      string,
      Lease,
      Parameters<typeof advanceRun>[1]['progress'],
      string | undefined,
      RegExp | Partial<NonNullable<Lease['run']>> | 'unchanged',
    ]
  >([
    ['records the candidate', rec(), { candidate: 'pg2' }, 'exec-1', { candidate: 'pg2' }],
    [
      'a retry recording the same candidate changes nothing',
      rec({ candidate: 'pg2' }),
      { candidate: 'pg2' },
      'exec-1',
      'unchanged',
    ],
    [
      'another candidate is refused',
      rec({ candidate: 'pg2' }),
      { candidate: 'pg3' },
      'exec-1',
      /epoch 7 already chose pg2, not pg3/,
    ],
    [
      'a fence before a candidate is refused',
      rec(),
      { fenceVerified: true },
      'exec-1',
      /has no candidate recorded yet/,
    ],
    [
      'the fence once a candidate is chosen',
      rec({ candidate: 'pg2' }),
      { fenceVerified: true },
      'exec-1',
      { fenceVerified: true },
    ],
    [
      'a promotion before the fence is verified is refused',
      rec({ candidate: 'pg2' }),
      { promotedLsn: '0/1' },
      'exec-1',
      /has not verified the fence of pg1: nothing may be promoted/,
    ],
    [
      'a promotion once fenced',
      rec({ candidate: 'pg2', fenceVerified: true }),
      { promotedLsn: '0/1' },
      'exec-1',
      { promotedLsn: '0/1' },
    ],
    [
      'the first promoted LSN stands',
      rec({ candidate: 'pg2', fenceVerified: true, promotedLsn: '0/1' }),
      { promotedLsn: '0/2' },
      'exec-1',
      'unchanged',
    ],
    [
      'a stranger may not record',
      rec(),
      { candidate: 'pg3' },
      'guess',
      /guess is not the holder of epoch 7 \(exec-1\)/,
    ],
    ['nothing without an execution name', rec(), { candidate: 'pg3' }, undefined, /no execution name/],
    [
      'a switchover does not fence',
      rec({ mode: 'switchover', candidate: 'pg2' }),
      { fenceVerified: true },
      'exec-1',
      /a switchover does not fence/,
    ],
    [
      'a switchover promotes only past the final checkpoint',
      rec({ mode: 'switchover', candidate: 'pg2' }),
      { promotedLsn: '0/1' },
      'exec-1',
      /has not stopped pg1 at a final checkpoint/,
    ],
  ])('advanceRun: %s', (_n, l, progress, holder, expected) => {
    const r = advanceRun(l, { epoch: 7, holder, progress });
    if (expected instanceof RegExp) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(expected);
      return;
    }
    const next = expectOk(r);
    if (expected === 'unchanged') expect(next).toBe(l);
    else expect(next.run).toMatchObject(expected);
  });
});
