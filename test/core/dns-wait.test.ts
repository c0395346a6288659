import { DNS_INSYNC_BOUND_MS, type DnsWaitView, dnsWaitDecision } from '../../lambdas/core';

describe('post-commit INSYNC wait', () => {
  it.each<[string, DnsWaitView, boolean, readonly string[], RegExp]>([
    [
      'both records INSYNC at the first poll',
      { elapsedMs: 800, writerInsync: true, readerInsync: true },
      true,
      ['writer record INSYNC at +0.8 s', 'reader record INSYNC at +0.8 s'],
      /every record is INSYNC/,
    ],
    [
      'both still PENDING: poll again, nothing recorded',
      { elapsedMs: 2000, writerInsync: false, readerInsync: false },
      false,
      [],
      /writer and reader record PENDING at \+2\.0 s: poll again/,
    ],
    [
      'writer INSYNC first: recorded once, the loop waits for the reader',
      { elapsedMs: 14_200, writerInsync: true, readerInsync: false },
      false,
      ['writer record INSYNC at +14.2 s'],
      /reader record PENDING/,
    ],
    [
      'writer seen earlier, reader now: only the reader is recorded',
      { elapsedMs: 30_000, writerInsync: true, readerInsync: true, writerInsyncAtMs: 14_200 },
      true,
      ['reader record INSYNC at +30.0 s'],
      /every record is INSYNC/,
    ],
    [
      'no reader change was made: the writer alone ends the loop',
      { elapsedMs: 5000, writerInsync: true },
      true,
      ['writer record INSYNC at +5.0 s'],
      /every record is INSYNC/,
    ],
    [
      'the bound reached with the writer PENDING: stop, say so, the run stays committed',
      { elapsedMs: DNS_INSYNC_BOUND_MS, writerInsync: false, readerInsync: true, readerInsyncAtMs: 9000 },
      true,
      [
        'writer record not INSYNC after +120.0 s: stopped waiting (the run is committed; clients that resolve it follow once Route 53 propagates)',
      ],
      /writer still PENDING at the bound/,
    ],
  ])('%s', (_name, view, done, notes, reason) => {
    const d = dnsWaitDecision(view);
    expect(d.done).toBe(done);
    expect(d.notes).toEqual(notes);
    expect(d.reason).toMatch(reason);
  });
});
