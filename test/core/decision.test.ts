import { accountRpo, decideFailover, type Lease, parseSettings, ValidationError, type Vote } from '../../lambdas/core';
import { AZS, downVote, lease, NOW, S, vote } from './builders';

const allDown = AZS.map((a) => downVote(a));

describe('decideFailover (automatic path)', () => {
  it.each<[string, Vote[], Lease, string, RegExp]>([
    ['quorum down, steady lease', allDown, lease(), 'start-failover', /^3 of 3 AZs report pg1 down/],
    ['primary up', AZS.map((a) => vote(a)), lease(), 'no-action', /3 of 3 AZs reach pg1/],
    ['no quorum', [downVote('az-a')], lease(), 'no-action', /no quorum about pg1/],
    [
      'paused',
      allDown,
      lease({ state: 'paused', reason: 'upgrade' }),
      'no-action',
      /cluster is paused \(upgrade\): nothing automatic happens/,
    ],
    [
      'needs attention',
      allDown,
      lease({ state: 'needs-attention', reason: 'fence failed' }),
      'no-action',
      /needs attention \(fence failed\)/,
    ],
    [
      'already failing over',
      allDown,
      lease({ state: 'failing-over', epoch: 8 }),
      'no-action',
      /failing-over already in progress at epoch 8/,
    ],
    [
      'anti-flap',
      allDown,
      lease({ lastFailoverAt: NOW - 60000 }),
      'needs-attention',
      /anti-flap: the last failover was 60 s ago, less than minFailoverIntervalSec 300/,
    ],
    [
      'outside the anti-flap window',
      allDown,
      lease({ lastFailoverAt: NOW - 301000 }),
      'start-failover',
      /report pg1 down/,
    ],
  ])('%s', (_name, votes, l, action, reason) => {
    const d = decideFailover({ votes, lease: l, probeAzs: AZS, now: NOW, settings: S });
    expect(d.action).toBe(action);
    expect(d.reason).toMatch(reason);
    if (d.action === 'start-failover') expect(d.nextEpoch).toBe(l.epoch + 1);
  });

  it('judges votes against the primary the lease names', () => {
    const d = decideFailover({
      votes: allDown,
      lease: lease({ primary: 'pg2' }),
      probeAzs: AZS,
      now: NOW,
      settings: S,
    });
    expect(d.action).toBe('no-action');
    expect(d.reason).toMatch(/about pg1, not pg2/);
  });
});

describe('RPO accounting', () => {
  it.each<[string | null, string | null, bigint | null, RegExp]>([
    ['0/3000000', '0/3000000', 0n, /none: promoted at 0\/3000000/],
    ['0/3000000', '0/3000100', 0n, /at or past/],
    [
      '0/3000100',
      '0/3000000',
      256n,
      /256 bytes between promoted 0\/3000000 and the old primary's last seen 0\/3000100/,
    ],
    [null, '0/3000000', null, /unknown: the old primary's LSN was never seen/],
    ['0/3000000', null, null, /unknown: the promoted node's LSN/],
  ])('old %s, promoted %s', (old, promoted, bytes, reason) => {
    const r = accountRpo(old, promoted);
    expect(r.bytesAtRisk).toBe(bytes);
    expect(r.reason).toMatch(reason);
  });
});

describe('RPO accounting in async mode: an upper bound', () => {
  it.each([
    [
      '0/3000100',
      '0/3000000',
      { rateBytesPerSec: 1000, windowMs: 2500 },
      2756n,
      /^at most 2756 bytes: 256 between promoted 0\/3000000 and the old primary's last seen 0\/3000100, plus up to 2500 written unseen \(1000 B\/s for 2500 ms\)$/,
    ],
    // Promoted past the last seen LSN: only the unseen window remains at risk.
    ['0/3000000', '0/3000100', { rateBytesPerSec: 400, windowMs: 2500 }, 1000n, /^at most 1000 bytes: 0 between/],
    // A rate never measured is unknown, never zero.
    ['0/3000100', '0/3000000', { rateBytesPerSec: null, windowMs: 2500 }, null, /never measured/],
  ])('old %s, promoted %s, %j', (old, promoted, unseen, bytes, reason) => {
    const r = accountRpo(old, promoted, unseen);
    expect(r.bytesAtRisk).toBe(bytes);
    expect(r.reason).toMatch(reason);
  });
});

describe('settings', () => {
  it('has defaults that fit the 5 s RTO budget', () => {
    expect(S.failuresToDown * S.probeIntervalMs).toBeLessThan(5000);
    expect(S.voteTtlMs).toBeGreaterThan(S.probeIntervalMs * 2);
  });

  it.each([
    [{ failuresToDown: 0 }, /failuresToDown/],
    [{ probeIntervalMs: 'fast' }, /probeIntervalMs/],
    [{ replicationMode: 'semi' }, /replicationMode/],
  ])('names the bad field %#', (input, field) => {
    expect(() => parseSettings(input)).toThrow(ValidationError);
    expect(() => parseSettings(input)).toThrow(field);
  });

  it('accepts overrides', () => {
    expect(parseSettings({ failuresToDown: 5 }).failuresToDown).toBe(5);
  });
});
