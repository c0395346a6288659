import { ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import { leaseBreakCommand } from '../../cli/commands/lease';
import type { CliContext } from '../../cli/context';
import { RefusedError } from '../../cli/errors';
import type { Output } from '../../cli/output';
import type { Lease, LeaseResult } from '../../lambdas/core';
import { lease, NOW } from '../core/builders';

const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgq';
const stuck = lease({
  state: 'failing-over',
  holder: 'orders-failover-e7',
  run: { holder: 'orders-failover-e7', mode: 'failover', oldPrimary: 'pg1', candidate: 'pg2' },
});

/** Just the ports `lease break` touches: the lease (one transition) and DescribeExecution. */
function ctxWith(l: Lease, status: string | Error, stopDate?: Date) {
  let current = l;
  const described: string[] = [];
  const ctx = {
    target: { cluster: 'orders', stateMachineArn: SM },
    now: () => NOW,
    store: {
      getLease: async () => current,
      transitionLease: async (decide: (x: Lease) => LeaseResult) => {
        const r = decide(current);
        if (!r.ok) return { ok: false, before: current, reason: r.reason };
        const before = current;
        current = r.lease;
        return { ok: true, before, lease: r.lease, changed: r.lease !== before };
      },
    },
    clients: {
      sfn: {
        send: async (cmd: { input: { executionArn: string } }) => {
          described.push(cmd.input.executionArn);
          if (status instanceof Error) throw status;
          return { status, ...(stopDate ? { stopDate } : {}) };
        },
      },
    },
  } as unknown as CliContext;
  const out: Output = { json: false, note: () => undefined, warn: () => undefined, result: () => undefined };
  return { ctx, out, described, lease: () => current };
}

describe('pgquorum lease break', () => {
  it.each(['ABORTED', 'TIMED_OUT', 'FAILED'])(
    'breaks a lease whose holder ended %s, to needs-attention',
    async (st) => {
      const w = ctxWith(stuck, st);
      await leaseBreakCommand(w.ctx, { epoch: 7, yes: true }, w.out);
      expect(w.described).toEqual([`arn:aws:states:eu-west-1:123456789012:execution:pgq:orders-failover-e7`]);
      expect(w.lease()).toMatchObject({ state: 'needs-attention', epoch: 7, run: { outcome: 'aborted' } });
      expect(w.lease().reason).toMatch(`lease of epoch 7 broken by operator (holder orders-failover-e7: ${st})`);
    },
  );

  it('is refused, with nothing changed, while a task of a holder stopped 30 s ago may still run', async () => {
    const w = ctxWith(stuck, 'ABORTED', new Date(NOW - 30_000));
    await expect(leaseBreakCommand(w.ctx, { epoch: 7, yes: true }, w.out)).rejects.toThrow(
      'lease break refused: the holder execution orders-failover-e7 ended 30 s ago and a task it started may still run: try again in 90 s',
    );
    expect(w.lease()).toBe(stuck);
  });

  it('breaks the lease of a holder stopped longer ago than its tasks may run', async () => {
    const w = ctxWith(stuck, 'ABORTED', new Date(NOW - 121_000));
    await leaseBreakCommand(w.ctx, { epoch: 7, yes: true }, w.out);
    expect(w.lease().state).toBe('needs-attention');
  });

  it('breaks a lease whose holder execution no longer exists', async () => {
    const w = ctxWith(stuck, new ExecutionDoesNotExist({ message: 'gone', $metadata: {} }));
    await leaseBreakCommand(w.ctx, { epoch: 7, yes: true }, w.out);
    expect(w.lease().state).toBe('needs-attention');
  });

  it.each([
    [
      'the holder still runs',
      stuck,
      'RUNNING',
      7,
      /the holder execution orders-failover-e7 is still running: stop it first/,
    ],
    ['another epoch', stuck, 'FAILED', 6, /stale epoch 6: the lease is at epoch 7/],
    ['a steady lease', lease(), 'FAILED', 7, /epoch 7 is not in flight: the lease is steady/],
  ])('is refused when %s, with nothing changed', async (_n, l, st, epoch, reason) => {
    const w = ctxWith(l, st);
    await expect(leaseBreakCommand(w.ctx, { epoch, yes: true }, w.out)).rejects.toThrow(RefusedError);
    await expect(leaseBreakCommand(w.ctx, { epoch, yes: true }, w.out)).rejects.toThrow(reason);
    expect(w.lease()).toBe(l);
  });
});
