import { asReason, checkRunRequest, checkRunView, type Lease, REASON_MAX, type RunRequest } from '../../lambdas/core';
import { cluster, clusterWithDeadPrimary, lease, NOW, node, S } from './builders';

const NODES = [{ name: 'pg1' }, { name: 'pg2' }, { name: 'pg3' }];
const req = (over: Partial<RunRequest> = {}): RunRequest => ({ mode: 'failover', cluster: 'lab', ...over });
const ctx = (over: Partial<Lease> = {}) => ({
  cluster: 'lab',
  lease: lease(over),
  nodes: NODES,
  settings: S,
  now: NOW,
});

describe('checkRunRequest: the run pre-checks ValidateInput, AcquireLease and the CLI share', () => {
  it.each<[string, RunRequest, Partial<Lease>, 'usage' | 'refused' | null, RegExp | null]>([
    ['an automatic failover of a steady cluster', req(), {}, null, null],
    ['another cluster', req({ cluster: 'orders' }), {}, 'usage', /manages cluster 'lab', not 'orders'/],
    ['force without a target', req({ force: true }), {}, 'usage', /a forced failover needs a target: name the node/],
    ['force with a target', req({ force: true, target: 'pg2' }), {}, null, null],
    ['a target without force', req({ target: 'pg2' }), {}, 'usage', /failover --to NODE needs --force/],
    [
      'an unknown target',
      req({ force: true, target: 'pg9' }),
      {},
      'usage',
      /unknown target 'pg9' \(nodes: pg1, pg2, pg3\)/,
    ],
    [
      'the primary as target',
      req({ mode: 'switchover', target: 'pg1' }),
      {},
      'usage',
      /target pg1 is already the primary/,
    ],
    [
      'a reason over the bound',
      req({ reason: 'x'.repeat(REASON_MAX + 1) }),
      {},
      'usage',
      /reason: at most 500 characters \(got 501\)/,
    ],
    ['a reason with a newline', req({ reason: 'a\nb' }), {}, 'usage', /reason: must be printable/],
    ['a reason with a terminal escape', req({ reason: 'a\u001b[2Jb' }), {}, 'usage', /reason: must be printable/],
    ['a reason of exactly the bound', req({ reason: 'x'.repeat(REASON_MAX) }), {}, null, null],
    [
      'a held lease',
      req(),
      { state: 'failing-over', holder: 'e1', leaseUntil: NOW + 1 },
      'refused',
      /lease held by e1/,
    ],
    ['a paused cluster', req(), { state: 'paused', reason: 'upgrade' }, 'refused', /cluster is paused \(upgrade\)/],
    ['anti-flap', req(), { lastFailoverAt: NOW - 1000 }, 'refused', /anti-flap/],
    ['anti-flap, forced', req({ force: true, target: 'pg2' }), { lastFailoverAt: NOW - 1000 }, null, null],
    ['switchover of a paused cluster', req({ mode: 'switchover' }), { state: 'paused' }, null, null],
    // The way forward after a give-up (issue 13): resume --primary OLD leaves a dead OLD paused; nothing automatic
    // runs there, so the operator's forced failover may start; never from needs-attention itself.
    ['a forced failover of a paused cluster', req({ force: true, target: 'pg2' }), { state: 'paused' }, null, null],
    [
      'a forced failover needing attention',
      req({ force: true, target: 'pg2' }),
      { state: 'needs-attention', reason: 'r' },
      'refused',
      /cluster needs attention \(r\)/,
    ],
    [
      'switchover needing attention',
      req({ mode: 'switchover' }),
      { state: 'needs-attention', reason: 'r' },
      'refused',
      /needs attention \(r\)/,
    ],
  ])('%s', (_n, r, l, kind, reason) => {
    const v = checkRunRequest(r, ctx(l));
    if (kind === null) return expect(v).toEqual({ ok: true });
    expect(v).toMatchObject({ ok: false, kind });
    if (!v.ok) expect(v.reason).toMatch(reason!);
  });
});

describe('checkRunView: the pre-checks that need the nodes', () => {
  it.each([
    ['an automatic failover leaves the pick to SelectCandidate', req(), clusterWithDeadPrimary(), true, null],
    ['a forced target that is eligible', req({ force: true, target: 'pg3' }), clusterWithDeadPrimary(), true, 'pg3'],
    [
      'a forced target that is not streaming is refused before the lease is taken',
      req({ force: true, target: 'pg3' }),
      clusterWithDeadPrimary({ pg3: { lastStreamedAt: null, timeline: 2 } }),
      false,
      /failover refused: no eligible candidate \(.*pg3: not streaming/,
    ],
    ['a switchover to a caught-up replica', req({ mode: 'switchover', target: 'pg2' }), cluster(), true, 'pg2'],
    [
      'a switchover without a healthy primary',
      req({ mode: 'switchover', target: 'pg2' }),
      clusterWithDeadPrimary(),
      false,
      /switchover refused: it needs a healthy primary, and pg1 is unknown/,
    ],
    [
      'a switchover to a replica whose replay is paused (issue 13, finding 1)',
      req({ mode: 'switchover', target: 'pg2' }),
      cluster({}, [
        node('pg1', { role: 'primary', currentLsn: '0/3000000', receiveLsn: null, replayLsn: null, streaming: false }),
        node('pg2', { replayPaused: true }),
        node('pg3'),
      ]),
      false,
      /^switchover refused: target pg2 is not eligible: has WAL replay paused/,
    ],
    [
      'a switchover to a replica current on receive but behind on replay',
      req({ mode: 'switchover', target: 'pg2' }),
      cluster({}, [
        node('pg1', { role: 'primary', currentLsn: '0/3800000', receiveLsn: null, replayLsn: null, streaming: false }),
        node('pg2', { receiveLsn: '0/3800000', replayLsn: '0/3000000' }),
        node('pg3'),
      ]),
      false,
      /^switchover refused: target pg2 is not eligible: replay is 8388608 bytes behind/,
    ],
  ])('%s', (_n, r, view, ok, expected) => {
    const v = checkRunView(r, view, S);
    expect(v.ok).toBe(ok);
    if (v.ok) expect(v.candidate).toBe(expected);
    else expect(v.reason).toMatch(expected as RegExp);
  });
});

describe('asReason', () => {
  it.each([
    ['quorum down\nfrom 2 AZs', 'quorum down from 2 AZs'],
    ['\u001b[31mred', '[31mred'],
    ['', 'unspecified'],
  ])('%j -> %j', (input, out) => expect(asReason(input)).toBe(out));
  it('bounds a long reason', () => expect(asReason('y'.repeat(2000))).toHaveLength(REASON_MAX));
});
