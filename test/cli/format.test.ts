import {
  formatBytes,
  formatDuration,
  formatEvent,
  formatHistory,
  formatStatus,
  summarizeEvent,
  table,
} from '../../cli/format';
import { toJson } from '../../cli/output';
import { replicaLag, voteVerdict } from '../../cli/status';
import type { EventRecord } from '../../lambdas/ports/store-port';
import { NOW } from '../core/builders';
import { snapshot } from './fixtures';

describe('units', () => {
  it.each([
    [null, '-'],
    ['0', '0 B'],
    ['1023', '1023 B'],
    ['1536', '1.5 KiB'],
    [16 * 1024 * 1024, '16 MiB'],
    [5n * 1024n ** 3n, '5.0 GiB'],
    ['not-a-number', 'not-a-number'],
  ])('formatBytes(%p) = %p', (v, s) => expect(formatBytes(v as string)).toBe(s));

  it.each([
    [undefined, '-'],
    [42, '42 ms'],
    [1940, '1.9 s'],
    [125_000, '2 min 5 s'],
    [3 * 3_600_000 + 60_000, '3 h 1 min'],
  ])('formatDuration(%p) = %p', (v, s) => expect(formatDuration(v)).toBe(s));

  it('replica lag is the bytes behind the primary, never negative', () => {
    expect(replicaLag('0/3000100', '0/3000000')).toBe('256');
    expect(replicaLag('0/3000000', '0/3000100')).toBe('0');
  });

  it('table pads columns and rules the header', () => {
    expect(table(['a', 'bb'], [['xxx', null]]).split('\n')).toEqual(['a    bb', '---  --', 'xxx  -']);
  });

  it('JSON output keeps bigints as decimal strings', () => {
    expect(toJson({ n: 5n })).toBe('{\n  "n": "5"\n}');
  });
});

describe('votes', () => {
  const v = { az: 'us-east-1a', seq: 9, primary: 'pg1', nodes: {} };
  const settings = { voteTtlMs: 5000, failuresToDown: 3 };
  // Each row as the quorum counts it about pg1 (core classifyVote); the old rule showed the last four as fresh.
  it.each([
    [{ primaryOk: true, consecutiveFailures: 0, observedAt: NOW - 400 }, 'up', 'fresh', null],
    [{ primaryOk: false, consecutiveFailures: 2, observedAt: NOW - 400 }, 'failing (2)', 'fresh', null],
    [{ primaryOk: false, consecutiveFailures: 3, observedAt: NOW - 400 }, 'down (3)', 'fresh', null],
    [
      { primaryOk: true, consecutiveFailures: 0, observedAt: NOW - 6000 },
      'up',
      'stale',
      'stale (6000 ms old, ttl 5000 ms)',
    ],
    // Exactly the TTL old: stale, as the quorum counts it (core/quorum.ts isStaleVote).
    [
      { primaryOk: true, consecutiveFailures: 0, observedAt: NOW - 5000 },
      'up',
      'stale',
      'stale (5000 ms old, ttl 5000 ms)',
    ],
    [{ primaryOk: true, consecutiveFailures: 0, observedAt: NOW - 4999 }, 'up', 'fresh', null],
    // Up to one TTL ahead is clock jitter the quorum tolerates; its age shows negative.
    [{ primaryOk: true, consecutiveFailures: 0, observedAt: NOW + 3000 }, 'up', 'fresh', null],
    [
      { primaryOk: true, consecutiveFailures: 0, observedAt: NOW + 7000 },
      'up',
      'unusable',
      'from the future (7000 ms ahead)',
    ],
    [
      { primaryOk: false, consecutiveFailures: 3, observedAt: NOW - 400, primary: 'pg2' },
      'down (3)',
      'unusable',
      'about pg2, not pg1',
    ],
    [
      { primaryOk: true, consecutiveFailures: 2, observedAt: NOW - 400 },
      'up',
      'unusable',
      'contradictory (ok with failures)',
    ],
  ])('%j reads %s, %s %s', (over, verdict, kind, reason) => {
    const r = voteVerdict({ ...v, ...over }, { primary: 'pg1', now: NOW, settings });
    expect(r).toMatchObject({ verdict, kind, reason, stale: kind === 'stale', ageMs: NOW - over.observedAt });
  });
});

describe('formatStatus', () => {
  const text = formatStatus(snapshot);
  const lines = text.split('\n');
  it('heads with the lease: epoch, state, primary, holder and reason with its age', () => {
    expect(lines[0]).toBe('cluster lab (lab, sync replication)   lease epoch 3 steady   primary pg1   holder -');
    expect(lines[1]).toBe('  reason: switchover to pg1 committed (12.0 s ago)');
  });
  it('has one row per node with role, AZ, timeline, LSN, lag, sync, security group and source', () => {
    const row = (name: string) => lines.find((l) => l.startsWith(name))!.split(/\s{2,}/);
    expect(row('pg1 *')).toEqual([
      'pg1 *',
      'us-east-1a',
      'primary',
      '2',
      '0/5000100',
      '-',
      '-',
      '-',
      'open',
      'healthy',
      'cli',
    ]);
    expect(row('pg2')).toEqual([
      'pg2',
      'us-east-1b',
      'replica',
      '2',
      '0/5000000',
      '256 B',
      '0.002 s',
      'quorum',
      'open',
      'healthy',
      'probe us-east-1b',
    ]);
    expect(row('pg3')).toEqual([
      'pg3 (nofailover)',
      'us-east-1c',
      'down',
      '-',
      '-',
      '-',
      '-',
      '-',
      'fenced (snapshot e3)',
      'needs-rejoin',
      'none',
    ]);
  });
  it('lists each AZ vote with verdict and age, marking the ones the quorum does not count and why', () => {
    expect(lines.find((l) => l.startsWith('us-east-1a'))).toMatch(/^us-east-1a\s+pg1\s+up\s+5\s+300 ms$/);
    expect(lines.find((l) => l.startsWith('us-east-1b'))).toMatch(
      /^us-east-1b\s+pg1\s+down \(4\) \(stale\)\s+5\s+9\.0 s$/,
    );
    expect(lines.find((l) => l.startsWith('us-east-1c'))).toMatch(
      /^us-east-1c\s+pg1\s+up \(unusable: from the future \(7000 ms ahead\)\)\s+5\s+-7\.0 s$/,
    );
  });
  it('names the record targets and the warnings', () => {
    expect(text).toContain('writer writer.lab.pgquorum.internal -> pg1');
    expect(text).toContain('reader: unknown (no hosted zone)');
    expect(text).toContain('warning: every vote is stale: the probes are silent');
  });
});

const T0 = NOW;
const event: EventRecord = {
  epoch: 4,
  kind: 'failover',
  startedAt: T0,
  outcome: 'committed',
  oldPrimary: 'pg1',
  newPrimary: 'pg2',
  reason: 'quorum: 3 of 3 AZs down',
  oldPrimaryLastSeenLsn: '0/5000100',
  promotedLsn: '0/5000100',
  bytesAtRisk: '0',
  lostTransactions: ['xid 812 COMMIT 2025-01-01'],
  rejoin: 'pg1 streams from pg2 again (pg_rewind)',
  timeline: [
    { step: 'select-candidate', at: T0 + 150, detail: 'pg2 has the highest received LSN 0/5000100' },
    { step: 'acquire-lease', at: T0, detail: 'epoch 4' },
    { step: 'promote', at: T0 + 900, detail: 'pg2 promoted' },
    { step: 'commit', at: T0 + 1200, detail: 'committed' },
    { step: 'rejoin', at: T0 + 3000, detail: 'pg1 streams from pg2 again (pg_rewind)' },
  ],
};

describe('history', () => {
  it('summarizes duration up to commit (the rejoin after it is not the outage)', () => {
    expect(summarizeEvent(event)).toMatchObject({ durationMs: 1200, lostTransactions: 1, bytesAtRisk: 0 });
    expect(summarizeEvent({ ...event, timeline: [] }).durationMs).toBeNull();
  });
  it('lists runs newest first, one line each', () => {
    const lines = formatHistory([
      event,
      {
        ...event,
        epoch: 3,
        kind: 'switchover',
        outcome: 'aborted',
        newPrimary: undefined,
        lostTransactions: undefined,
      },
    ]).split('\n');
    expect(lines[0]).toMatch(/^epoch\s+kind\s+started\s+outcome\s+old -> new\s+duration\s+at risk\s+lost tx\s+rejoin$/);
    expect(lines[2]).toMatch(
      /^4\s+failover\s+2023-11-14T22:13:20Z\s+committed\s+pg1 -> pg2\s+1\.2 s\s+0 B\s+1\s+pg1 streams from pg2 again \(pg_rewind\)$/,
    );
    expect(lines[3]).toMatch(/^3\s+switchover\s+.*aborted\s+pg1 -> \?\s+1\.2 s\s+0 B\s+-/);
    expect(formatHistory([])).toBe('no failovers or switchovers recorded');
  });
  it('shows one run in full: candidate, figures, lost transactions and every step at its offset, in order', () => {
    const text = formatEvent(event);
    expect(text).toContain('failover at epoch 4: committed');
    expect(text).toContain('  candidate      pg2 has the highest received LSN 0/5000100');
    expect(text).toContain('  bytes at risk  0 (0 B)');
    expect(text).toMatch(/lost tx {8}1\n {17}xid 812 COMMIT/);
    const steps = text.split('\n').filter((l) => /^ +\+\d+ ms/.test(l));
    expect(steps.map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '+0 ms acquire-lease',
      '+150 ms select-candidate',
      '+900 ms promote',
      '+1200 ms commit',
      '+3000 ms rejoin',
    ]);
  });
});
