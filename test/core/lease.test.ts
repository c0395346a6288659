import {
  abortLease,
  acquireLease,
  commitLease,
  type Lease,
  type LeaseResult,
  pauseLease,
  releaseLease,
  resumeLease,
  staleEpoch,
} from '../../lambdas/core';
import { lease, NOW } from './builders';

const acq = (l: Lease, mode: 'failover' | 'switchover') =>
  acquireLease(l, { mode, holder: 'exec-1', now: NOW, durationMs: 300000, reason: 'test' });

function expectOk(r: LeaseResult): Lease {
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.lease;
}

describe('lease transitions', () => {
  it.each<[string, () => LeaseResult, boolean, RegExp | Partial<Lease>]>([
    [
      'failover from steady',
      () => acq(lease(), 'failover'),
      true,
      { epoch: 8, state: 'failing-over', holder: 'exec-1', resumeState: 'steady' },
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
      () => commitLease(lease({ state: 'failing-over', epoch: 8 }), { epoch: 8, primary: 'pg2', now: NOW }),
      true,
      { state: 'steady', primary: 'pg2', lastFailoverAt: NOW, holder: null },
    ],
    [
      'commit of a switchover started paused stays paused and is not a failover',
      () =>
        commitLease(lease({ state: 'switching-over', epoch: 8, resumeState: 'paused' }), {
          epoch: 8,
          primary: 'pg3',
          now: NOW,
        }),
      true,
      { state: 'paused', primary: 'pg3', lastFailoverAt: null },
    ],
    [
      'commit with a stale epoch',
      () => commitLease(lease({ state: 'failing-over', epoch: 9 }), { epoch: 8, primary: 'pg2', now: NOW }),
      false,
      /stale epoch 8: the lease is at epoch 9/,
    ],
    [
      'commit when not in flight',
      () => commitLease(lease({ epoch: 8 }), { epoch: 8, primary: 'pg2', now: NOW }),
      false,
      /no longer in flight: the lease is steady/,
    ],
    [
      'abort to needs-attention',
      () => abortLease(lease({ state: 'failing-over' }), { epoch: 7, reason: 'fence failed', now: NOW }),
      true,
      { state: 'needs-attention', reason: 'fence failed', epoch: 7 },
    ],
    [
      'abort with a stale epoch',
      () => abortLease(lease({ state: 'failing-over' }), { epoch: 6, reason: 'x', now: NOW }),
      false,
      /stale epoch 6/,
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
        releaseLease(lease({ state: 'failing-over', epoch: 8, resumeState: 'steady' }), {
          epoch: 8,
          reason: 'no quorum',
          now: NOW,
        }),
      true,
      { state: 'steady', epoch: 8, primary: 'pg1', reason: 'no quorum', holder: null },
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
    if (r.ok) expect(r.lease).toMatchObject(expected as Partial<Lease>);
    else expect(r.reason).toMatch(expected as RegExp);
  });

  it('epochs only increase across a full cycle', () => {
    const a = expectOk(acq(lease(), 'failover'));
    const c = expectOk(commitLease(a, { epoch: a.epoch, primary: 'pg2', now: NOW }));
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
});
