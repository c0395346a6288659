import {
  type CaughtError,
  type CauseOptions,
  decideUnnamedPrimary,
  type Lease,
  readableReason,
  readCause,
  unwrapCause,
} from '../../lambdas/core';
import { lease, NOW } from './builders';

const lambdaCause = (errorType: string, errorMessage: string) =>
  JSON.stringify({
    errorType,
    errorMessage,
    trace: [`${errorType}: ${errorMessage}`, '    at promote (/var/task/index.js:1:2)'],
  });

describe("readCause: the one rule, with each caller's options", () => {
  const ROLLBACK: CauseOptions = { fallback: 'unknown error' };
  const REPLAN: CauseOptions = { max: 300, fallback: 'unknown error' };
  const ABORT: CauseOptions = { lines: 'all' };
  // Each row: the error (or the bare cause, as the CLI's run outcome has it), the caller's options, what it reads.
  it.each<[string, CaughtError | string | undefined, CauseOptions, string, string]>([
    [
      "Lambda JSON: the message's first line, the routing name kept in it",
      { Cause: '{"errorMessage":"RetriableError: pg2 did not replay\\nstack","errorType":"Pgq.Retriable"}' },
      ROLLBACK,
      'Pgq.Retriable',
      'RetriableError: pg2 did not replay',
    ],
    [
      'every line joined, whitespace collapsed (the abort reason)',
      { Cause: lambdaCause('Pgq.Fatal', 'PromotionFailedError: pg2\n  did not\tpromote') },
      ABORT,
      'Pgq.Fatal',
      'PromotionFailedError: pg2 did not promote',
    ],
    ['a plain-text cause', { Cause: 'plain text' }, ROLLBACK, '', 'plain text'],
    ['no Cause: the Error is all there is', { Error: 'States.Timeout' }, ROLLBACK, '', 'States.Timeout'],
    ['nothing, with a fallback', undefined, ROLLBACK, '', 'unknown error'],
    ['nothing, without one (the CLI: it says "see pgquorum history")', '', {}, '', ''],
    ['a blank cause reads as nothing', { Cause: '  ' }, REPLAN, '', 'unknown error'],
    [
      "the CLI's bare cause string",
      '{"errorMessage":"ValidationError: switchover refused: x"}',
      {},
      '',
      'ValidationError: switchover refused: x',
    ],
    ['cut without a mark (Replan)', { Cause: 'x'.repeat(400) }, REPLAN, '', 'x'.repeat(300)],
    ['cut with a mark, the mark counted', 'y'.repeat(20), { max: 10, cutMark: '…' }, '', `${'y'.repeat(9)}…`],
    ['JSON with `message` only', '{"message":"Rate exceeded"}', {}, '', 'Rate exceeded'],
    [
      'an empty errorMessage is no message, never the JSON',
      '{"errorMessage":"","errorType":"X"}',
      ROLLBACK,
      'X',
      'unknown error',
    ],
    ['JSON without a message stays as it is', '{"foo":1}', {}, '', '{"foo":1}'],
    ['JSON that is not an object', 'null', {}, '', 'null'],
    ['text that only looks like JSON', '{not json', {}, '', '{not json'],
  ])('%s', (_n, err, o, errorType, message) => {
    expect(readCause(err, o)).toEqual({ errorType, message });
  });
});

describe('unwrapCause', () => {
  it.each<[string, CaughtError | undefined, { name: string; message: string }]>([
    [
      'a Lambda task failure (Error = errorType, Cause = the JSON payload)',
      {
        Error: 'PromotionFailedError',
        Cause: lambdaCause('PromotionFailedError', 'pg2: pg_promote did not finish within 30000 ms'),
      },
      { name: 'PromotionFailedError', message: 'pg2: pg_promote did not finish within 30000 ms' },
    ],
    [
      'Runtime.HandlerError hiding the name in the message',
      {
        Error: 'Runtime.HandlerError',
        Cause:
          '{"errorMessage": "NodeUnreachableError: pg2 (10.0.2.10:5432): connect ECONNREFUSED", "errorType": "Runtime.HandlerError"}',
      },
      { name: 'NodeUnreachableError', message: 'pg2 (10.0.2.10:5432): connect ECONNREFUSED' },
    ],
    [
      'a state timeout (plain text Cause)',
      { Error: 'States.Timeout', Cause: 'Task timed out after 30 seconds' },
      { name: 'States.Timeout', message: 'Task timed out after 30 seconds' },
    ],
    [
      'a Lambda timeout',
      {
        Error: 'Sandbox.Timedout',
        Cause:
          '{"errorMessage":"2026-12-01T10:00:00.000Z abc Task timed out after 90.00 seconds","errorType":"Sandbox.Timedout"}',
      },
      { name: 'Sandbox.Timedout', message: '2026-12-01T10:00:00.000Z abc Task timed out after 90.00 seconds' },
    ],
    [
      'a task error routed as Pgq.Fatal (toStepError keeps the real name in the message)',
      { Error: 'Pgq.Fatal', Cause: lambdaCause('Pgq.Fatal', 'ReplanGiveUpError: candidate pg2 failed (x)') },
      { name: 'ReplanGiveUpError', message: 'candidate pg2 failed (x)' },
    ],
    ['a Cause that only looks like JSON', { Error: 'X', Cause: '{not json' }, { name: 'X', message: '{not json' }],
    [
      'an empty errorMessage: the name alone, never the JSON',
      { Error: 'States.TaskFailed', Cause: '{"errorMessage":"","errorType":"Pgq.Fatal"}' },
      { name: 'Pgq.Fatal', message: '' },
    ],
    [
      'no Cause: the Error is the name, not the message',
      { Error: 'States.Timeout' },
      { name: 'States.Timeout', message: '' },
    ],
    ['nothing at all', undefined, { name: 'unknown error', message: '' }],
  ])('%s', (_n, err, want) => {
    expect(unwrapCause(err)).toEqual(want);
  });
});

describe('readableReason', () => {
  it.each<[string, CaughtError | undefined, Parameters<typeof readableReason>[1], RegExp[]]>([
    [
      'a candidate that did not promote',
      {
        Error: 'PromotionFailedError',
        Cause: lambdaCause('PromotionFailedError', 'pg2: pg_promote did not finish within 30000 ms'),
      },
      { mode: 'failover', epoch: 9, oldPrimary: 'pg1', candidate: 'pg2' },
      [
        /^failover pg1 -> pg2 aborted at epoch 9: candidate pg2 did not promote \(pg2: pg_promote did not finish/,
        /next: .*npx pgquorum resume --primary <node>/,
      ],
    ],
    [
      'a node unreachable before a candidate was chosen',
      {
        Error: 'Runtime.HandlerError',
        Cause:
          '{"errorMessage": "NodeUnreachableError: pg2 (10.0.2.10:5432): timeout", "errorType": "Runtime.HandlerError"}',
      },
      { mode: 'failover', epoch: 9, oldPrimary: 'pg1' },
      [
        /^failover pg1, no candidate chosen aborted at epoch 9: a node did not answer \(pg2 \(10\.0\.2\.10:5432\): timeout\)/,
      ],
    ],
    [
      'a switchover timeout names both nodes',
      { Error: 'States.Timeout', Cause: 'Task timed out after 30 seconds' },
      { mode: 'switchover', epoch: 4, oldPrimary: 'pg1', candidate: 'pg3' },
      [/^switchover pg1 -> pg3 aborted at epoch 4: a step timed out/, /check pg1 and pg3/],
    ],
  ])('%s', (_n, err, run, want) => {
    const r = readableReason(err, run);
    for (const w of want) expect(r).toMatch(w);
    expect(r).not.toMatch(/errorType|errorMessage|trace|\{"/);
    expect(r).not.toMatch(/\n/);
  });

  it('a re-plan that gave up: its own sentence and next command, uncut, no second next step', () => {
    const msg = `candidate pg2 failed (${'x'.repeat(300)}); 1 candidate(s) given up (pg2), maxReplans 0 reached: needs attention; check pg2 (fenced: ingress revoked), then \`npx pgquorum resume --primary pg1\` and \`npx pgquorum failover --to NODE --force\` to a healthy replica`;
    const r = readableReason(
      { Error: 'Pgq.Fatal', Cause: lambdaCause('Pgq.Fatal', `ReplanGiveUpError: ${msg}`) },
      { mode: 'failover', epoch: 5, oldPrimary: 'pg1', candidate: 'pg2' },
    );
    expect(r).toBe(`failover pg1 -> pg2 aborted at epoch 5: ${msg}`);
  });

  it('cuts a long message', () => {
    const r = readableReason({ Error: 'X', Cause: 'y'.repeat(2000) }, { mode: 'failover', epoch: 1 }, 50);
    expect(r.length).toBeLessThan(400);
    expect(r).toMatch(/y…/);
  });
});

describe('decideUnnamedPrimary', () => {
  const up = (node: string, role: 'primary' | 'replica', ok = true) => ({ node, role, ok });
  it.each<[string, Partial<Lease>, ReturnType<typeof up>[], boolean | null, string[], RegExp]>([
    ['only the named primary writes', {}, [up('pg1', 'primary'), up('pg2', 'replica')], false, [], /only pg1/],
    [
      'a promoted-then-abandoned candidate writes outside a run',
      { state: 'needs-attention' },
      [up('pg1', 'primary', false), up('pg2', 'primary'), up('pg3', 'replica')],
      true,
      ['pg2'],
      /pg2 answers as a writable primary but the lease names pg1 \(epoch 7, needs-attention\).*npx pgquorum rejoin pg2/,
    ],
    ['two writers, steady', {}, [up('pg1', 'primary'), up('pg3', 'primary')], true, ['pg3'], /pg3 answers/],
    [
      'a read-only primary (heartbeat failed) is not writable',
      {},
      [up('pg1', 'primary'), up('pg2', 'primary', false)],
      false,
      [],
      /only pg1/,
    ],
    [
      'during a run: not judged (the candidate is promoted before commit)',
      { state: 'failing-over' },
      [up('pg2', 'primary')],
      null,
      [],
      /not judged/,
    ],
  ])('%s', (_n, l, nodes, active, unnamed, reason) => {
    const d = decideUnnamedPrimary({ lease: lease(l), nodes, now: NOW });
    expect(d.observation?.active ?? null).toBe(active);
    expect(d.unnamed).toEqual(unnamed);
    expect(d.reason).toMatch(reason);
  });
});
