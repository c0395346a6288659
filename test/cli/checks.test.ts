import { checkFailoverFlags, checkRunRequest, checkRunView, type RunRequest } from '../../cli/checks';
import { EXIT, RefusedError, UsageError } from '../../cli/errors';
import type { ClusterView, Lease } from '../../lambdas/core';
import { cluster, lease, NOW, node, S } from '../core/builders';

const NODES = [{ name: 'pg1' }, { name: 'pg2' }, { name: 'pg3' }];
const sw = (target?: string): RunRequest => ({ mode: 'switchover', force: false, ...(target ? { target } : {}) });
const fo = (target?: string, force = true): RunRequest => ({ mode: 'failover', force, ...(target ? { target } : {}) });

describe('checkRunRequest (ValidateInput rules that need only lease and registry)', () => {
  const refusals: [string, RunRequest, Partial<Lease>, typeof UsageError | typeof RefusedError, RegExp][] = [
    ['unknown node', sw('pg9'), {}, UsageError, /^unknown target 'pg9' \(nodes: pg1, pg2, pg3\)$/],
    ['target already primary', sw('pg1'), {}, UsageError, /pg1 is already the primary/],
    ['failover without --to', fo(undefined), {}, UsageError, /failover needs --to NODE/],
    ['failover without --force', fo('pg2', false), {}, UsageError, /needs --force/],
    ['failover needs-attention', fo('pg2'), { state: 'needs-attention', reason: 'x' }, RefusedError, /needs attention/],
    [
      'switchover needs-attention',
      sw('pg2'),
      { state: 'needs-attention', reason: 'fence failed' },
      RefusedError,
      /switchover refused: cluster needs attention \(fence failed\)/,
    ],
    [
      'lease held by a running run',
      sw('pg2'),
      { state: 'failing-over', holder: 'exec-1', leaseUntil: NOW + 60000 },
      RefusedError,
      /switchover refused: lease held by exec-1 \(failing-over, epoch 7\)$/,
    ],
    [
      'lease held and expired',
      fo('pg2'),
      { state: 'switching-over', holder: 'exec-2', leaseUntil: NOW - 5000 },
      RefusedError,
      /lease held by exec-2 .*expired 5000 ms ago: needs an operator/,
    ],
  ];
  it.each(refusals)('%s', (_name, req, over, cls, msg) => {
    const run = () => checkRunRequest(req, lease(over), NODES, S, NOW);
    expect(run).toThrow(cls);
    expect(run).toThrow(msg);
  });

  const allowed: [string, RunRequest, Partial<Lease>][] = [
    ['switchover from steady', sw('pg2'), {}],
    ['switchover with no target', sw(), {}],
    ['switchover from paused (invariant 8)', sw('pg3'), { state: 'paused' }],
    ['forced failover from steady', fo('pg2'), {}],
    // A forced failover overrides anti-flap (it escalates), as ValidateInput allows.
    ['forced failover inside the anti-flap window', fo('pg2'), { lastFailoverAt: NOW - 1000 }],
    // Nothing automatic runs while paused: the operator's forced failover is the way forward (issue 13).
    ['forced failover while paused', fo('pg2'), { state: 'paused', reason: 'maintenance' }],
  ];
  it.each(allowed)('%s', (_name, req, over) => {
    expect(() => checkRunRequest(req, lease(over), NODES, S, NOW)).not.toThrow();
  });

  it('refusals carry the exit codes scripts rely on', () => {
    expect(new UsageError('x').exitCode).toBe(EXIT.usage);
    expect(new RefusedError('x').exitCode).toBe(EXIT.refused);
  });
});

describe('checkFailoverFlags (before any AWS call)', () => {
  it.each([
    [{}, /needs --to NODE/],
    [{ to: 'pg2' }, /needs --force/],
    [{ force: true }, /needs --to NODE/],
  ])('%j is refused', (o, msg) => {
    expect(() => checkFailoverFlags(o)).toThrow(msg);
  });
  it('accepts --to with --force', () => expect(() => checkFailoverFlags({ to: 'pg2', force: true })).not.toThrow());
});

describe('checkRunView (the fresh-view rules)', () => {
  const lagging = cluster({}, [
    node('pg1', { role: 'primary', currentLsn: '1/0', receiveLsn: null, replayLsn: null, streaming: false }),
    node('pg2', { receiveLsn: '0/1000000', replayLsn: '0/1000000' }),
    node('pg3', { receiveLsn: '0/FFFFFFF0', replayLsn: '0/FFFFFFF0' }),
  ]);
  const withLastSeen: ClusterView = { ...lagging, primaryLastSeenLsn: '1/0' };
  const cases: [string, RunRequest, ClusterView, RegExp | string][] = [
    ['named healthy replica', sw('pg2'), cluster(), 'pg2'],
    [
      'best replica when none named',
      sw(),
      cluster({}, [cluster().nodes[0]!, node('pg2', { receiveLsn: '0/2000000' }), node('pg3')]),
      'pg3',
    ],
    [
      'lagging target',
      sw('pg2'),
      withLastSeen,
      /switchover refused: target pg2 is not eligible: lags \d+ bytes, more than maxLagBytes/,
    ],
    [
      'target not streaming',
      sw('pg3'),
      cluster({}, [cluster().nodes[0]!, node('pg2'), node('pg3', { streaming: false, lastStreamedAt: null })]),
      /target pg3 is not eligible: not streaming/,
    ],
    [
      'primary not healthy',
      sw('pg2'),
      cluster({}, [node('pg1', { role: 'unknown' }), node('pg2'), node('pg3')]),
      /needs a healthy primary, and pg1 is unknown/,
    ],
    [
      'forced failover to an unreachable node',
      fo('pg2'),
      cluster({}, [cluster().nodes[0]!, node('pg2', { role: 'unknown', reachableFrom: {} }), node('pg3')]),
      /failover refused: no eligible candidate \(.*pg2: is not a replica/,
    ],
    [
      'forced failover to a lagging node (force overrides lag)',
      fo('pg2'),
      { ...withLastSeen, nodes: withLastSeen.nodes },
      'pg2',
    ],
  ];
  it.each(cases)('%s', (_name, req, view, expected) => {
    if (typeof expected === 'string') expect(checkRunView(req, view, S)).toBe(expected);
    else expect(() => checkRunView(req, view, S)).toThrow(expected);
  });
});
