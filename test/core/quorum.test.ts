import fc from 'fast-check';
import {
  classifyVote,
  isStaleVote,
  quorumVerdict,
  readVote,
  type Vote,
  type VoteClass,
  voterAzs,
} from '../../lambdas/core';
import { AZS, downVote, NOW, S, vote } from './builders';

const verdict = (votes: Vote[], primary = 'pg1') =>
  quorumVerdict(votes, { primary, probeAzs: AZS, now: NOW, settings: S });

describe('quorum verdict', () => {
  it.each<[string, Vote[], string, RegExp]>([
    ['all three AZs down', AZS.map((a) => downVote(a)), 'primary-down', /3 of 3 AZs report pg1 down/],
    [
      'two of three down, one up (partition)',
      [downVote('az-a'), downVote('az-b'), vote('az-c')],
      'primary-down',
      /2 of 3 AZs report pg1 down/,
    ],
    ['all up', AZS.map((a) => vote(a)), 'primary-up', /3 of 3 AZs reach pg1/],
    ['one AZ cut off', [downVote('az-a'), vote('az-b'), vote('az-c')], 'primary-up', /2 of 3 AZs reach pg1/],
    [
      'two down but one of them stale',
      [downVote('az-a'), downVote('az-b', { observedAt: NOW - 6000 }), vote('az-c', { observedAt: NOW - 9000 })],
      'unknown',
      /no quorum about pg1: 1 down.*az-b: stale/,
    ],
    ['two down, one missing vote', [downVote('az-a'), downVote('az-b')], 'primary-down', /2 of 3.*az-c: no vote/],
    ['one down, two missing', [downVote('az-a')], 'unknown', /1 down, 0 up, 0 suspecting, 2 silent of 3, 2 needed/],
    [
      'failures below failuresToDown',
      [
        downVote('az-a', { consecutiveFailures: 2 }),
        downVote('az-b', { consecutiveFailures: 1 }),
        vote('az-c', { observedAt: NOW - 99999 }),
      ],
      'unknown',
      /2 suspecting.*az-a: 2 of 3 failures/,
    ],
    [
      'votes about another primary',
      [downVote('az-a', { primary: 'pg2' }), downVote('az-b', { primary: 'pg2' }), downVote('az-c')],
      'unknown',
      /about pg2, not pg1/,
    ],
    [
      'contradictory vote',
      [downVote('az-a'), vote('az-b', { consecutiveFailures: 4 }), vote('az-c', { observedAt: NOW - 10000 })],
      'unknown',
      /contradictory/,
    ],
    [
      'vote from the future (skewed clock)',
      [downVote('az-a'), downVote('az-b', { observedAt: NOW + 60000 })],
      'unknown',
      /from the future/,
    ],
    ['no votes at all', [], 'unknown', /0 down, 0 up, 0 suspecting, 3 silent/],
    [
      'two AZs refused by the primary (a rotated password), their failure counts past the threshold',
      [
        downVote('az-a', { primaryUnknown: "pg1 refused the controller's credentials (28P01)" }),
        downVote('az-b', { primaryUnknown: "pg1 refused the controller's credentials (28P01)" }),
        downVote('az-c'),
      ],
      'unknown',
      /1 down, 0 up, 0 suspecting, 2 silent.*az-a: not judged: pg1 refused the controller's credentials \(28P01\)/,
    ],
  ])('%s', (_name, votes, expected, reason) => {
    const v = verdict(votes);
    expect(v.verdict).toBe(expected);
    expect(v.reason).toMatch(reason);
  });

  it('uses the latest vote of an AZ when a store returns several', () => {
    const v = verdict([downVote('az-a', { seq: 1 }), vote('az-a', { seq: 2 }), downVote('az-b'), vote('az-c')]);
    expect(v.verdict).toBe('primary-up');
  });

  const arbVote = (az: string) =>
    fc.record({
      az: fc.constant(az),
      seq: fc.nat(),
      observedAt: fc.integer({ min: NOW - 20000, max: NOW + 20000 }),
      primary: fc.constantFrom('pg1', 'pg2'),
      primaryOk: fc.boolean(),
      consecutiveFailures: fc.nat({ max: 10 }),
    });

  it('never says primary-down with fewer than a majority of fresh down votes (property)', () => {
    fc.assert(
      fc.property(fc.tuple(arbVote('az-a'), arbVote('az-b'), arbVote('az-c')), fc.subarray([0, 1, 2]), (all, keep) => {
        const votes = keep.map((i) => all[i]!);
        const freshDown = votes.filter(
          (v) =>
            NOW - v.observedAt < S.voteTtlMs &&
            NOW - v.observedAt >= -S.voteTtlMs &&
            v.primary === 'pg1' &&
            !v.primaryOk &&
            v.consecutiveFailures >= S.failuresToDown,
        ).length;
        const v = verdict(votes);
        return freshDown >= 2 || v.verdict !== 'primary-down';
      }),
      { numRuns: 2000 },
    );
  });

  it('never says primary-down from stale votes alone (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: S.voteTtlMs, max: 10 * S.voteTtlMs }), fc.nat({ max: 50 }), (age, failures) => {
        const votes = AZS.map((a) => downVote(a, { observedAt: NOW - age, consecutiveFailures: failures }));
        return verdict(votes).verdict === 'unknown';
      }),
    );
  });
});

describe('one vote', () => {
  it.each<[boolean, number, 'up' | 'failing' | 'down']>([
    [true, 0, 'up'],
    [false, 1, 'failing'],
    [false, 2, 'failing'],
    [false, 3, 'down'],
    [false, 9, 'down'],
  ])('ok %s with %i failures reads %s (failuresToDown 3)', (primaryOk, consecutiveFailures, want) => {
    expect(readVote({ primaryOk, consecutiveFailures }, { failuresToDown: 3 })).toBe(want);
  });

  it.each([
    [4999, false],
    [5000, true],
    [5001, true],
  ])('a vote %i ms old is stale: %s (ttl 5000 ms)', (age, want) => {
    expect(isStaleVote(age, 5000)).toBe(want);
  });
});

describe('one vote as the quorum counts it (classifyVote: the quorum and `pgquorum status`)', () => {
  const TTL = { voteTtlMs: 5000, failuresToDown: 3 };
  const at = (observedAt: number, over: Partial<Vote> = {}) => vote('az-a', { observedAt, ...over });
  // Each row: the vote, the time it is read at, and how it counts about pg1.
  it.each<[string, Vote, number, VoteClass['kind'], string | null, VoteClass['reading']]>([
    ['fresh and up', at(NOW - 500), NOW, 'fresh', null, 'up'],
    [
      'fresh, failing under the threshold',
      at(NOW - 500, { primaryOk: false, consecutiveFailures: 2 }),
      NOW,
      'fresh',
      null,
      'failing',
    ],
    ['fresh and down', at(NOW - 500, { primaryOk: false, consecutiveFailures: 3 }), NOW, 'fresh', null, 'down'],
    ['one ms under the TTL', at(NOW - 4999), NOW, 'fresh', null, 'up'],
    ['exactly the TTL old', at(NOW - 5000), NOW, 'stale', 'stale (5000 ms old, ttl 5000 ms)', 'up'],
    [
      'older, and down',
      at(NOW - 9000, { primaryOk: false, consecutiveFailures: 4 }),
      NOW,
      'stale',
      'stale (9000 ms old, ttl 5000 ms)',
      'down',
    ],
    [
      'stale wins over another primary',
      at(NOW - 6000, { primary: 'pg2' }),
      NOW,
      'stale',
      'stale (6000 ms old, ttl 5000 ms)',
      'up',
    ],
    ['ahead by one TTL: clock jitter, counts', at(NOW + 5000), NOW, 'fresh', null, 'up'],
    ['ahead by more than one TTL', at(NOW + 5001), NOW, 'unusable', 'from the future (5001 ms ahead)', 'up'],
    [
      'far in the future, down',
      at(NOW + 60000, { primaryOk: false, consecutiveFailures: 3 }),
      NOW,
      'unusable',
      'from the future (60000 ms ahead)',
      'down',
    ],
    ['about another primary', at(NOW - 500, { primary: 'pg2' }), NOW, 'unusable', 'about pg2, not pg1', 'up'],
    [
      'ok with failures',
      at(NOW - 500, { consecutiveFailures: 1 }),
      NOW,
      'unusable',
      'contradictory (ok with failures)',
      'up',
    ],
    [
      'not judged (the primary refused the controller credentials), its failure count past the threshold',
      at(NOW - 500, {
        primaryOk: false,
        consecutiveFailures: 3,
        primaryUnknown: "pg1 refused the controller's credentials (28P01)",
      }),
      NOW,
      'unusable',
      "not judged: pg1 refused the controller's credentials (28P01)",
      'down',
    ],
    [
      'read later, the same vote goes stale',
      at(NOW - 500),
      NOW + 4500,
      'stale',
      'stale (5000 ms old, ttl 5000 ms)',
      'up',
    ],
  ])('%s', (_name, v, now, kind, reason, reading) => {
    expect(classifyVote(v, 'pg1', now, TTL)).toEqual({ kind, reason, reading, ageMs: now - v.observedAt });
  });
});

describe('the voter set', () => {
  const from = (...azs: string[]) => azs.map((az) => vote(az));
  it.each<[string, string[] | undefined, Vote[], string[]]>([
    ['configured AZs, whatever voted', ['az-a', 'az-b', 'az-c'], from('az-a'), ['az-a', 'az-b', 'az-c']],
    ['configured AZs keep their order (heartbeat slots)', ['az-c', 'az-a', 'az-b'], [], ['az-c', 'az-a', 'az-b']],
    ['empty entries of a configured list are dropped', ['az-a', '', 'az-b'], [], ['az-a', 'az-b', '?1']],
    [
      'nothing configured: the AZs that voted, sorted',
      undefined,
      from('az-c', 'az-a', 'az-b'),
      ['az-a', 'az-b', 'az-c'],
    ],
    ['two votes stored: padded to three', undefined, from('az-b', 'az-a'), ['az-a', 'az-b', '?1']],
    ['one vote stored', [], from('az-a'), ['az-a', '?1', '?2']],
    ['no votes at all', undefined, [], ['?1', '?2', '?3']],
    ['an AZ voting twice counts once', undefined, [vote('az-a'), vote('az-a', { seq: 11 })], ['az-a', '?1', '?2']],
    ['more than three configured stay', ['a', 'b', 'c', 'd'], [], ['a', 'b', 'c', 'd']],
  ])('%s', (_name, configured, votes, want) => {
    expect(voterAzs(configured, votes)).toEqual(want);
  });

  it('with two votes stored, one down is no quorum and both down is one', () => {
    const q = (votes: Vote[]) =>
      quorumVerdict(votes, { primary: 'pg1', probeAzs: voterAzs(undefined, votes), now: NOW, settings: S });
    expect(q([downVote('az-a'), vote('az-b')]).verdict).toBe('unknown');
    expect(q([downVote('az-a'), downVote('az-b')]).reason).toMatch(/2 of 3 AZs report pg1 down/);
    expect(q([downVote('az-a')]).verdict).toBe('unknown');
  });
});
