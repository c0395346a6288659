import { authorizeStep, type Lease, type StepClaim, type StepRule } from '../../lambdas/core';
import { lease } from './builders';

const run = { holder: 'exec-8', mode: 'failover' as const, oldPrimary: 'pg1' };
const inFlight = (r: Partial<NonNullable<Lease['run']>> = {}) =>
  lease({ epoch: 8, state: 'failing-over', holder: 'exec-8', run: { ...run, ...r } });
const committed = lease({
  epoch: 8,
  primary: 'pg2',
  run: { ...run, candidate: 'pg2', fenceVerified: true, promotedLsn: '0/5', outcome: 'committed' },
});
const claim = (over: Partial<StepClaim> = {}): StepClaim => ({
  mode: 'failover',
  epoch: 8,
  holder: 'exec-8',
  oldPrimary: 'pg1',
  ...over,
});
const holder: StepRule = { policy: 'holder' };
const promote: StepRule = { policy: 'holder', requires: ['candidate', 'old-primary-out'] };
const commit: StepRule = { policy: 'holder', requires: ['candidate', 'promoted'], retryOf: 'committed' };
const after: StepRule = { policy: 'after-commit' };

describe('authorizeStep: one epoch/holder policy per step', () => {
  it.each<[string, Lease, StepClaim, StepRule, string, RegExp | null]>([
    ['the holder acts', inFlight(), claim(), holder, 'act', null],
    ['a stale epoch', inFlight(), claim({ epoch: 7 }), holder, 'refuse', /stale epoch 7: the lease is at epoch 8/],
    [
      'no execution name (a direct invoke)',
      inFlight(),
      claim({ holder: undefined }),
      holder,
      'refuse',
      /no execution name: only the holder of epoch 8 \(exec-8\)/,
    ],
    [
      'a guessed execution name',
      inFlight(),
      claim({ holder: 'lab-failover-e8' }),
      holder,
      'refuse',
      /lab-failover-e8 is not the holder of epoch 8/,
    ],
    [
      'another old primary (fencing a healthy replica)',
      inFlight(),
      claim({ oldPrimary: 'pg3' }),
      holder,
      'refuse',
      /replaces pg1, not pg3/,
    ],
    ['another mode', inFlight(), claim({ mode: 'switchover' }), holder, 'refuse', /is a failover, not a switchover/],
    [
      'another candidate than recorded',
      inFlight({ candidate: 'pg2' }),
      claim({ candidate: 'pg3' }),
      holder,
      'refuse',
      /chose pg2, not pg3/,
    ],
    [
      'a lease no run took',
      lease({ epoch: 8, state: 'failing-over' }),
      claim(),
      holder,
      'refuse',
      /carries no run record/,
    ],
    [
      'promote with no fence verified',
      inFlight({ candidate: 'pg3' }),
      claim({ candidate: 'pg3' }),
      promote,
      'refuse',
      /has not verified the fence of pg1/,
    ],
    [
      'promote with no candidate recorded',
      inFlight(),
      claim({ candidate: 'pg3' }),
      promote,
      'refuse',
      /has no candidate recorded/,
    ],
    [
      'promote once fenced',
      inFlight({ candidate: 'pg3', fenceVerified: true }),
      claim({ candidate: 'pg3' }),
      promote,
      'act',
      null,
    ],
    [
      'a retried commit after its write',
      committed,
      claim({ candidate: 'pg2' }),
      commit,
      'retried',
      /epoch 8 already committed by exec-8/,
    ],
    [
      'another step after the commit',
      committed,
      claim({ candidate: 'pg2' }),
      holder,
      'refuse',
      /epoch 8 already ended \(committed\)/,
    ],
    [
      'a stranger retrying the commit',
      committed,
      claim({ candidate: 'pg2', holder: 'x' }),
      commit,
      'refuse',
      /x is not the holder/,
    ],
    [
      'an abort of a committed run ends quietly',
      committed,
      claim({ candidate: 'pg2' }),
      { policy: 'abort' },
      'skip',
      /already ended \(committed\)/,
    ],
    [
      'a stranger abort ends quietly',
      inFlight(),
      claim({ holder: undefined }),
      { policy: 'abort' },
      'skip',
      /no execution name/,
    ],
    [
      'acquire needs an execution name',
      lease(),
      claim({ holder: undefined, epoch: undefined }),
      { policy: 'acquire' },
      'refuse',
      /only taken by a state-machine execution/,
    ],
    ['the rejoin after the commit', committed, claim({ candidate: 'pg2' }), after, 'act', null],
    [
      "the operator's rejoin (no execution name)",
      committed,
      claim({ candidate: 'pg2', holder: undefined }),
      after,
      'act',
      null,
    ],
    [
      'a rejoin of the live primary',
      committed,
      claim({ oldPrimary: 'pg2', candidate: 'pg1', holder: undefined }),
      after,
      'refuse',
      /pg2 is the lease's primary at epoch 8: it is never rejoined/,
    ],
    [
      'a rejoin following a node that is not primary',
      committed,
      claim({ candidate: 'pg3' }),
      after,
      'refuse',
      /primary at epoch 8 is pg2, not pg3/,
    ],
    [
      'a rejoin of a stale epoch skips',
      lease({ epoch: 9 }),
      claim({ candidate: 'pg2' }),
      after,
      'skip',
      /epoch 8 is stale \(lease at 9\)/,
    ],
    [
      'a rejoin before the commit',
      inFlight({ candidate: 'pg2' }),
      claim({ candidate: 'pg2' }),
      after,
      'refuse',
      /has not committed: the lease is failing-over/,
    ],
    [
      'a rejoin from another execution',
      committed,
      claim({ candidate: 'pg2', holder: 'x' }),
      after,
      'refuse',
      /x did not commit epoch 8/,
    ],
  ])('%s', (_n, l, c, rule, verdict, reason) => {
    const v = authorizeStep(l, c, rule);
    expect(v.verdict).toBe(verdict);
    if (reason) expect('reason' in v ? v.reason : '').toMatch(reason);
  });
});
