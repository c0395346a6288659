import { nextVote, readPrimary } from '../../lambdas/core';
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

describe('a round that could not judge the primary', () => {
  const refused = "pg1 refused the controller's credentials (28P01)";
  it.each([
    ['first round', undefined, 'pg1', { seq: 1, consecutiveFailures: 0 }],
    [
      'failures before it are kept, not grown',
      vote('az-a', { primaryOk: false, consecutiveFailures: 2 }),
      'pg1',
      { seq: 11, consecutiveFailures: 2 },
    ],
    ['an up vote before it is not carried as up', vote('az-a'), 'pg1', { seq: 11, consecutiveFailures: 0 }],
    [
      'a new primary starts from nothing',
      vote('az-a', { primaryOk: false, consecutiveFailures: 5 }),
      'pg2',
      { seq: 11, consecutiveFailures: 0, primary: 'pg2' },
    ],
  ])('%s', (_n, prev, primary, expected) => {
    expect(nextVote(prev, { az: 'az-a', primary, primaryOk: false, now: NOW, unknown: refused })).toEqual({
      az: 'az-a',
      primary: 'pg1',
      observedAt: NOW,
      primaryOk: false,
      primaryUnknown: refused,
      ...expected,
    });
  });
});

describe('readPrimary', () => {
  it.each([
    ['no answer at all', undefined, { primaryOk: false }],
    ['a writable primary', { ok: true, role: 'primary' as const, heartbeatOk: true }, { primaryOk: true }],
    [
      'a primary whose heartbeat failed',
      { ok: false, role: 'primary' as const, heartbeatOk: false },
      { primaryOk: false },
    ],
    ['a replica where the primary should be', { ok: true, role: 'replica' as const }, { primaryOk: false }],
    ['refused the connection', { ok: false, error: 'connect ECONNREFUSED' }, { primaryOk: false }],
    [
      'refused the credentials',
      { ok: false, authFailed: true, error: 'password authentication failed for user "pgquorum"' },
      {
        primaryOk: false,
        unknown: `pg1 refused the controller's credentials (password authentication failed for user "pgquorum")`,
      },
    ],
    [
      'failed TLS verification',
      { ok: false, tlsFailed: true, error: 'certificate has expired (TLS: nothing was sent to it)' },
      {
        primaryOk: false,
        unknown: `pg1 failed the controller's TLS verification (certificate has expired (TLS: nothing was sent to it))`,
      },
    ],
  ])('%s', (_n, answer, want) => {
    expect(readPrimary('pg1', answer)).toEqual(want);
  });
});
