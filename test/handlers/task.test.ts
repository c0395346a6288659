import { FatalError, RetriableError, ValidationError } from '../../lambdas/core/errors';
import { initialLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import type { Deps } from '../../lambdas/handlers/deps';
import { FATAL_ERROR, RETRIABLE_ERROR, task, toStepError } from '../../lambdas/handlers/task';

class NodeDown extends RetriableError {}

describe('toStepError', () => {
  it.each([
    [new NodeDown('pg2 timed out'), RETRIABLE_ERROR, /^NodeDown: pg2 timed out$/],
    [new ValidationError('unknown target'), FATAL_ERROR, /^ValidationError: unknown target$/],
    [new FatalError('stale epoch'), FATAL_ERROR, /stale epoch/],
    // Unknown errors (sockets, SDK timeouts) are retried: the epoch guard makes a retry safe.
    [new Error('ECONNRESET'), RETRIABLE_ERROR, /^Error: ECONNRESET$/],
    ['a string', RETRIABLE_ERROR, /a string/],
  ])('%#: maps %p to %s', (err, name, message) => {
    const e = toStepError(err);
    expect(e.name).toBe(name);
    expect(e.message).toMatch(message);
  });
});

/** Minimal dependencies: only what the wrapper itself touches. */
function fakeDeps(lease: Lease, timeline: string[] = []): Deps {
  return {
    log: { info: () => undefined, error: () => undefined, warn: () => undefined },
    store: {
      getLease: async () => lease,
      appendTimeline: async (_e: number, s: { step: string; detail: string }) => {
        timeline.push(`${s.step}: ${s.detail}`);
      },
    },
    now: () => 1000,
  } as unknown as Deps;
}

describe('task wrapper', () => {
  const input = { mode: 'failover', cluster: 'c', reason: 'r' };

  it('accepts the bare input an operator types and wraps it as the run state', async () => {
    const seen: unknown[] = [];
    const h = task(
      't',
      { policy: 'none' },
      async (s) => {
        seen.push(s);
        return s;
      },
      async () => fakeDeps(initialLease('pg1', 0)),
    );
    await h({ state: input });
    expect(seen[0]).toEqual({ input: { ...input } });
  });

  const held: Lease = {
    ...initialLease('pg1', 0),
    epoch: 5,
    state: 'failing-over',
    run: { holder: 'exec-5', mode: 'failover', oldPrimary: 'pg1' },
  };

  it.each([
    [
      'a stale epoch',
      { input, epoch: 4, oldPrimary: 'pg1' },
      'exec-5',
      /fence refused: stale epoch 4: the lease is at epoch 5/,
    ],
    [
      'no execution name',
      { input, epoch: 5, oldPrimary: 'pg1' },
      undefined,
      /only the holder of epoch 5 \(exec-5\) may act/,
    ],
    ['another execution', { input, epoch: 5, oldPrimary: 'pg1' }, 'guess', /guess is not the holder of epoch 5/],
    ['another old primary', { input, epoch: 5, oldPrimary: 'pg2' }, 'exec-5', /epoch 5 replaces pg1, not pg2/],
  ])('refuses to act for %s, leaving even the timeline untouched', async (_n, state, executionName, reason) => {
    const timeline: string[] = [];
    const step = jest.fn();
    const h = task('fence', { policy: 'holder' }, step, async () => fakeDeps(held, timeline));
    await expect(h({ state, executionName })).rejects.toMatchObject({
      name: FATAL_ERROR,
      message: expect.stringMatching(reason),
    });
    expect(step).not.toHaveBeenCalled();
    expect(timeline).toEqual([]);
  });

  it('runs the step for the holder whose input matches the record', async () => {
    const h = task(
      'fence',
      { policy: 'holder' },
      async (s) => ({ ...s, candidate: 'pg2' }),
      async () => fakeDeps(held),
    );
    await expect(h({ state: { input, epoch: 5, oldPrimary: 'pg1' }, executionName: 'exec-5' })).resolves.toMatchObject({
      candidate: 'pg2',
      epoch: 5,
    });
  });

  it('refuses a state without the fields the step declared it needs, naming them, before the step runs', async () => {
    const timeline: string[] = [];
    const step = jest.fn();
    const h = task('promote', { policy: 'holder', needs: ['epoch', 'candidate', 'candidateLsn'] }, step, async () =>
      fakeDeps(held, timeline),
    );
    await expect(
      h({ state: { input, epoch: 5, oldPrimary: 'pg1', candidateLsn: '0/1' }, executionName: 'exec-5' }),
    ).rejects.toMatchObject({
      name: FATAL_ERROR,
      message: 'StepRefusedError: promote refused: the run state has no candidate; nothing changed',
    });
    expect(step).not.toHaveBeenCalled();
    expect(timeline).toEqual([]);
  });

  it('hands the step its declared fields as present', async () => {
    const h = task(
      'promote',
      { policy: 'holder', needs: ['epoch', 'oldPrimary'] },
      // Typed: `s.epoch` is a number and `s.oldPrimary` a string here, no assertion needed.
      async (s) => ({ ...s, reason: `${s.oldPrimary.toUpperCase()} at ${s.epoch.toFixed(0)}` }),
      async () => fakeDeps(held),
    );
    await expect(h({ state: { input, epoch: 5, oldPrimary: 'pg1' }, executionName: 'exec-5' })).resolves.toMatchObject({
      reason: 'PG1 at 5',
    });
  });

  it('withDeps builds the same handler over other dependencies', async () => {
    const base = task('fence', { policy: 'holder' }, async (s) => s);
    await expect(
      base.withDeps(async () => fakeDeps(held))({ state: { input, epoch: 5, oldPrimary: 'pg1' } }),
    ).rejects.toThrow(/fence refused: no execution name/);
  });

  it('rejects a malformed state with the field named', async () => {
    const h = task(
      't',
      { policy: 'none' },
      async (s) => s,
      async () => fakeDeps(initialLease('pg1', 0)),
    );
    await expect(h({ state: { input: { mode: 'sideways', cluster: 'c' } } })).rejects.toThrow(/input\.mode/);
  });

  it('answers a keep-warm ping without running the step', async () => {
    const step = jest.fn();
    const h = task('t', { policy: 'holder' }, step, async () => fakeDeps(initialLease('pg1', 0)));
    await expect(h({ warmup: true, state: undefined })).resolves.toEqual({ warm: true });
    expect(step).not.toHaveBeenCalled();
  });
});
