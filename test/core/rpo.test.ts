import {
  lastSeenPrimaryLsn,
  primaryLsnRate,
  WAL_RATE_DECAY,
  type WalSighting,
  type WalVotes,
  walRate,
} from '../../lambdas/core';

describe('the WAL-rate estimate', () => {
  const T = 1_000_000;
  // 1 MiB past 0/3000000 is 0/3100000; seen 1 s ago at 0/3000000, with an earlier maximum of 100 000 B/s.
  const prev: WalSighting = { lastSeenLsn: '0/3000000', lastSeenAt: T - 1000, lsnRate: 100_000 };
  it.each<[string, string | null, WalSighting | undefined, number, number | null]>([
    ['first sighting: nothing measured yet', '0/3000000', undefined, T, null],
    ['1 MiB in 1 s, above the decayed maximum', '0/3100000', prev, T, 1_048_576],
    ['1 MiB in 2 s', '0/3100000', { ...prev, lastSeenAt: T - 2000 }, T, 524_288],
    ['a quiet round keeps the maximum, decayed 5 %', '0/3000010', prev, T, 95_000],
    ['no write at all: the decayed maximum', '0/3000000', prev, T, 95_000],
    ['no write and no maximum yet: zero', '0/3000000', { ...prev, lsnRate: null }, T, 0],
    ['no LSN this round: the decayed maximum', null, prev, T, 95_000],
    ['the clock did not move: the decayed maximum', '0/3100000', prev, T - 1000, 95_000],
    ['never seen as primary: the decayed maximum', '0/3100000', { lsnRate: 100_000 }, T, 95_000],
    ['never seen and never measured', '0/3100000', {}, T, null],
  ])('%s', (_name, lsn, before, now, want) => {
    expect(walRate(lsn, before, now)).toBe(want);
  });

  it('decays 5 % a round, rounded to whole bytes per second', () => {
    expect(WAL_RATE_DECAY).toBe(0.95);
    let s: WalSighting = { lastSeenLsn: '0/3000000', lastSeenAt: T, lsnRate: 1000 };
    const rates: (number | null | undefined)[] = [];
    for (let i = 1; i <= 3; i++) {
      s = { ...s, lsnRate: walRate('0/3000000', s, T + i * 1000) };
      rates.push(s.lsnRate);
    }
    expect(rates).toEqual([950, 903, 858]);
  });
});

describe('what the votes say of the primary', () => {
  const votes: WalVotes = [
    { nodes: { pg1: { lastSeenLsn: '0/3000000', lsnRate: 2000 }, pg2: { lsnRate: 9999 } } },
    { nodes: { pg1: { lastSeenLsn: '0/3000100', lsnRate: 500 } } },
    { nodes: { pg1: { lastSeenLsn: null, lsnRate: null } } },
    {},
  ];
  it.each<[string, string, number | null, string | null]>([
    ['the highest rate and the furthest LSN any AZ saw', 'pg1', 2000, '0/3000100'],
    ['a node never seen as primary', 'pg2', 9999, null],
    ['a node no vote mentions', 'pg3', null, null],
  ])('%s', (_name, primary, rate, lsn) => {
    expect(primaryLsnRate(votes, primary)).toBe(rate);
    expect(lastSeenPrimaryLsn(votes, primary)).toBe(lsn);
  });
});
