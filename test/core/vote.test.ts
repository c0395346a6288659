import { nextVote } from '../../lambdas/core';
import { NOW, vote } from './builders';

describe('nextVote', () => {
  it.each([
    ['first round ok', undefined, true, 'pg1', { seq: 1, consecutiveFailures: 0 }],
    ['first round failed', undefined, false, 'pg1', { seq: 1, consecutiveFailures: 1 }],
    [
      'failure accumulates',
      vote('az-a', { primaryOk: false, consecutiveFailures: 2 }),
      false,
      'pg1',
      { seq: 11, consecutiveFailures: 3 },
    ],
    [
      'success resets',
      vote('az-a', { primaryOk: false, consecutiveFailures: 5 }),
      true,
      'pg1',
      { seq: 11, consecutiveFailures: 0 },
    ],
    [
      'a new primary starts the count again',
      vote('az-a', { primaryOk: false, consecutiveFailures: 5 }),
      false,
      'pg2',
      { seq: 11, consecutiveFailures: 1, primary: 'pg2' },
    ],
  ])('%s', (_n, prev, ok, primary, expected) => {
    expect(nextVote(prev, { az: 'az-a', primary, primaryOk: ok, now: NOW })).toMatchObject({
      ...expected,
      observedAt: NOW,
    });
  });
});
