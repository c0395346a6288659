import { parsePassfileState, type RepointNextInput, repointNext } from '../../lambdas/core/repoint-passfile';

const base: RepointNextInput = {
  replica: 'pg3',
  primary: 'pg2',
  passfile: '/var/lib/postgresql/15/.pgpass-pgquorum',
  timeline: 3,
  failure: {
    kind: 'not-streaming',
    message: 'pg3 does not stream from pg2 on timeline 3 within 20000 ms (no WAL receiver)',
  },
};
const P = base.passfile;

describe('repointNext: a replica that did not stream, and its passfile', () => {
  it.each<[string, Partial<RepointNextInput>, ReturnType<typeof repointNext>]>([
    [
      'an unreachable replica: no passfile question, reported as it failed',
      { failure: { kind: 'unreachable', message: 'pg3 (10.0.0.3:5432) unreachable: timeout' } },
      { action: 'done', ok: false, detail: 'not re-pointed: pg3 (10.0.0.3:5432) unreachable: timeout' },
    ],
    [
      'stopped early because another replica streams (quorum met): no host command, no second wait',
      { failure: { kind: 'quorum-met', message: 'pg3 not streaming from pg2 (no WAL receiver): quorum met: …' } },
      {
        action: 'done',
        ok: false,
        detail: 'not re-pointed: pg3 not streaming from pg2 (no WAL receiver): quorum met: …: run pgquorum rejoin pg3',
      },
    ],
    [
      'a reachable replica not streaming: ask its host first',
      {},
      {
        action: 'write-passfile',
        reason: `pg3 does not stream from pg2; a host without its passfile (${P}), or with a stale one, cannot authenticate: its write-passfile says which and rewrites it`,
      },
    ],
    [
      'the passfile was missing and is written: wait once more',
      { passfileOutcome: { state: 'missing' } },
      {
        action: 'retry',
        reason: `pg3's passfile at ${P} was missing and is written now: waiting once more for it to stream from pg2`,
      },
    ],
    [
      'stale (a rotation the association has not caught up with): the same',
      { passfileOutcome: { state: 'stale' } },
      {
        action: 'retry',
        reason: `pg3's passfile at ${P} held a stale password and is written now: waiting once more for it to stream from pg2`,
      },
    ],
    [
      'it streams after the write: re-pointed, and the record says why it took longer',
      { passfileOutcome: { state: 'missing' }, retry: { ok: true } },
      {
        action: 'done',
        ok: true,
        detail: `streams from pg2 on timeline 3 (its passfile at ${P} was missing: written by write-passfile, then re-pointed)`,
      },
    ],
    [
      'still not streaming after the write: one sentence ending with the fix',
      { passfileOutcome: { state: 'unknown' }, retry: { ok: false, message: 'pg3 does not stream within 12000 ms' } },
      {
        action: 'done',
        ok: false,
        detail: `not re-pointed: pg3 does not stream within 12000 ms, even after its passfile at ${P} (which may have been missing (the host script does not say)) was written: run pgquorum rejoin pg3`,
      },
    ],
    [
      'the passfile was current: not the cause, no second wait',
      { passfileOutcome: { state: 'current' } },
      {
        action: 'done',
        ok: false,
        detail: `not re-pointed: ${base.failure.message} (its passfile at ${P} is current, so not the cause): run pgquorum rejoin pg3`,
      },
    ],
    [
      'the host command failed (host unreachable): no passfile at the path could be confirmed',
      { passfileOutcome: { error: 'write-passfile to pg3 not delivered within 10000 ms (Pending)' } },
      {
        action: 'done',
        ok: false,
        detail: `not re-pointed: ${base.failure.message}; its passfile at ${P} could not be checked or written (write-passfile to pg3 not delivered within 10000 ms (Pending)): run pgquorum rejoin pg3`,
      },
    ],
  ])('%s', (_name, over, want) => {
    expect(repointNext({ ...base, ...over })).toEqual(want);
  });

  it('never asks the host twice nor waits a third time: every path ends within three decisions', () => {
    const outcomes = [{ state: 'missing' as const }, { state: 'current' as const }, { error: 'x' }];
    for (const passfileOutcome of outcomes) {
      for (const retry of [{ ok: true as const }, { ok: false as const, message: 'm' }]) {
        let input: RepointNextInput = base;
        const actions: string[] = [];
        for (let n = repointNext(input); ; n = repointNext(input)) {
          actions.push(n.action);
          if (n.action === 'done') break;
          input = n.action === 'write-passfile' ? { ...input, passfileOutcome } : { ...input, retry };
        }
        expect(actions.length).toBeLessThanOrEqual(3);
        expect(actions.filter((a) => a === 'write-passfile')).toHaveLength(1);
      }
    }
  });
});

describe('parsePassfileState', () => {
  it.each([
    ['PASSFILE=/x/.pgpass-pgquorum PASSFILE_STATE=missing\n', 'missing'],
    ['PASSFILE=/x PASSFILE_STATE=stale', 'stale'],
    ['PASSFILE=/x PASSFILE_STATE=current', 'current'],
    ['PASSFILE=/x\n', 'unknown'],
    ['PASSFILE_STATE=bogus', 'unknown'],
  ])('%j -> %s', (out, want) => {
    expect(parsePassfileState(out)).toBe(want);
  });
});
