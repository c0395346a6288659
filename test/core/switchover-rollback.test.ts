import {
  decideSwitchoverFailure,
  type Lease,
  type RollbackStep,
  type RunRecord,
  rollbackLease,
  rollbackRestartOutcome,
} from '../../lambdas/core';
import { lease, NOW } from './builders';

const stopped: RunRecord = {
  holder: 'exec-1',
  mode: 'switchover',
  oldPrimary: 'pg1',
  candidate: 'pg2',
  finalLsn: '0/5000028',
};
const replica = { name: 'pg2', reachable: true, role: 'replica' as const };

describe('decideSwitchoverFailure: roll back or stop for an operator', () => {
  it.each<{
    name: string;
    run: RunRecord;
    step: RollbackStep;
    target: { name: string; reachable: boolean; role: 'primary' | 'replica' | 'unknown' };
    action: 'rollback' | 'needs-attention';
    fenceTarget?: boolean;
    reason: RegExp;
  }>([
    {
      name: 'WaitForReplay timed out, the target is still a replica',
      run: stopped,
      step: 'WaitForReplay',
      target: replica,
      action: 'rollback',
      fenceTarget: false,
      reason:
        /^switchover pg1 -> pg2 rolled back: WaitForReplay failed: pg2 did not replay; pg2 is still a replica; pg1 restarted as the primary$/,
    },
    {
      name: 'the target died while the old primary was stopping',
      run: { ...stopped, finalLsn: undefined },
      step: 'StopOldPrimary',
      target: { name: 'pg2', reachable: false, role: 'unknown' },
      action: 'rollback',
      fenceTarget: false,
      reason: /StopOldPrimary failed: .*; pg2 cannot be reached; pg1 restarted as the primary$/,
    },
    {
      name: 'PromoteTarget failed with no promotion recorded: rolled back, the target fenced (pg_promote may complete)',
      run: stopped,
      step: 'PromoteTarget',
      target: { name: 'pg2', reachable: false, role: 'unknown' },
      action: 'rollback',
      fenceTarget: true,
      reason:
        /pg2 cannot be reached and pg_promote was sent to it, so its ingress is revoked \(rejoin it with `pgquorum rejoin pg2`\)/,
    },
    {
      name: 'a promotion is recorded: two timelines, no rollback',
      run: { ...stopped, promotedLsn: '0/5000100' },
      step: 'PromoteTarget',
      target: replica,
      action: 'needs-attention',
      reason:
        /not rolled back: pg2 was promoted at 0\/5000100 and rolling back would fork two timelines .*pgquorum resume --primary pg2/,
    },
    {
      name: 'the target answers as primary although nothing was recorded: no rollback',
      run: stopped,
      step: 'PromoteTarget',
      target: { name: 'pg2', reachable: true, role: 'primary' },
      action: 'needs-attention',
      reason: /pg2 is already primary although no promotion was recorded.*pg1 stays stopped.*resume --primary pg2/,
    },
    {
      name: 'a failover is never rolled back',
      run: { ...stopped, mode: 'failover' },
      step: 'WaitForReplay',
      target: replica,
      action: 'needs-attention',
      reason: /^a failover is never rolled back/,
    },
  ])('$name', ({ run, step, target, action, fenceTarget, reason }) => {
    const d = decideSwitchoverFailure({ run, failedStep: step, cause: 'pg2 did not replay', target });
    expect(d.action).toBe(action);
    expect(d.reason).toMatch(reason);
    if (d.action === 'rollback') expect(d.fenceTarget).toBe(fenceTarget);
  });
});

describe('rollbackRestartOutcome: writable means pg_is_in_recovery() is false', () => {
  it.each([
    { name: 'answers as primary', probe: { ok: true, role: 'primary' as const }, ok: true, reason: null },
    {
      name: 'the host did not start it',
      hostError: 'HostUnreachableError: not delivered',
      probe: { ok: false, error: 'connection refused' },
      ok: false,
      reason:
        /^switchover rollback failed: pg1 could not be restarted as the primary \(host command: HostUnreachableError: not delivered; it does not answer \(connection refused\)\); no node takes writes: start PostgreSQL on pg1 and run `pgquorum resume --primary pg1`, or promote pg2.*`pgquorum failover --to pg2 --force`/,
    },
    {
      name: 'it came up in recovery',
      probe: { ok: true, role: 'replica' as const },
      ok: false,
      reason: /it answers as a replica/,
    },
  ])('$name', ({ hostError, probe, ok, reason }) => {
    const r = rollbackRestartOutcome({ oldPrimary: 'pg1', target: 'pg2', hostError, probe });
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.reason).toMatch(reason!);
  });
});

describe('rollbackLease', () => {
  const switching = (run: Partial<RunRecord> = {}, over: Partial<Lease> = {}): Lease =>
    lease({
      state: 'switching-over',
      epoch: 8,
      holder: 'exec-1',
      resumeState: 'steady',
      run: { ...stopped, ...run },
      ...over,
    });
  const req = { epoch: 8, holder: 'exec-1', reason: 'switchover pg1 -> pg2 rolled back: x', now: NOW + 5 };

  it('returns a switchover that did not promote to steady with the old primary, outcome rolled-back', () => {
    const r = rollbackLease(switching(), req);
    expect(r).toMatchObject({
      ok: true,
      lease: {
        epoch: 8,
        state: 'steady',
        primary: 'pg1',
        holder: null,
        leaseUntil: 0,
        reason: req.reason,
        updatedAt: NOW + 5,
        run: { outcome: 'rolled-back', candidate: 'pg2' },
      },
    });
  });

  it('a paused cluster goes back to paused', () => {
    const r = rollbackLease(switching({}, { resumeState: 'paused' }), req);
    expect(r.ok && r.lease.state).toBe('paused');
  });

  it('a retry after the write gets the lease back unchanged', () => {
    const first = rollbackLease(switching(), req);
    if (!first.ok) throw new Error(first.reason);
    const again = rollbackLease(first.lease, { ...req, now: NOW + 99 });
    expect(again).toEqual({ ok: true, lease: first.lease });
  });

  it.each<[string, Lease, Partial<typeof req>, RegExp]>([
    [
      'a promotion is recorded',
      switching({ promotedLsn: '0/5000100' }),
      {},
      /promoted pg2 at 0\/5000100: rolling back would fork two timelines/,
    ],
    ['a stranger', switching(), { holder: 'exec-2' }, /exec-2 is not the holder of epoch 8 \(exec-1\)/],
    ['a stale epoch', switching(), { epoch: 7 }, /stale epoch 7/],
    ['a failover', switching({ mode: 'failover' }, { state: 'failing-over' }), {}, /a failover is never rolled back/],
    [
      'an aborted run',
      switching({ outcome: 'aborted' }, { state: 'needs-attention' }),
      {},
      /already ended \(aborted\)/,
    ],
  ])('refuses: %s', (_n, l, over, reason) => {
    const r = rollbackLease(l, { ...req, ...over });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});
