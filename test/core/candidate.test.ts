import {
  type CandidateDecision,
  type CandidateRequest,
  type ClusterView,
  type ControllerSettings,
  candidateBehindAfterFence,
  decideCandidate,
  existingPrimaryDecision,
  type NodeView,
  type PostFenceView,
  refusalWorthAnotherLook,
  selectCandidate,
  selectSwitchoverTarget,
} from '../../lambdas/core';
import { cluster, clusterWithDeadPrimary, NOW, node, S } from './builders';

const pick = (view: ClusterView, settings: ControllerSettings = S, force = false) =>
  selectCandidate({ view, oldPrimary: 'pg1', settings, force });
const ASYNC: ControllerSettings = { ...S, replicationMode: 'async', maxLagBytes: 1000 };
const nowhere = { 'az-a': false, 'az-b': false, 'az-c': false };

function reasonsOf(d: CandidateDecision, n: string): string {
  return (d.rejected[n] ?? []).join(', ');
}

describe('candidate selection', () => {
  it.each<[string, ClusterView, ControllerSettings, boolean, string | null, RegExp]>([
    [
      'highest received LSN wins',
      clusterWithDeadPrimary({ pg3: { receiveLsn: '0/3000100' } }),
      S,
      false,
      'pg3',
      /pg3 has the highest received LSN 0\/3000100.*ahead of pg2 at 0\/3000000/,
    ],
    [
      'tie broken by replay LSN',
      clusterWithDeadPrimary({ pg2: { replayLsn: '0/2FFFF00' } }),
      S,
      false,
      'pg3',
      /pg3 has the highest/,
    ],
    ['full tie broken by name', clusterWithDeadPrimary(), S, false, 'pg2', /pg2 has the highest received LSN/],
    [
      'unreachable replica skipped',
      clusterWithDeadPrimary({ pg3: { receiveLsn: '0/4000000', reachableFrom: nowhere } }),
      S,
      false,
      'pg2',
      /pg2/,
    ],
    [
      'noFailover tag skipped',
      clusterWithDeadPrimary({ pg3: { receiveLsn: '0/4000000', tags: { noFailover: true } } }),
      S,
      false,
      'pg2',
      /pg2/,
    ],
    [
      'wrong timeline skipped',
      cluster({}, [
        node('pg1', { role: 'unknown', timeline: 2 }),
        node('pg2', { timeline: 2 }),
        node('pg3', { timeline: 1, receiveLsn: '0/9000000' }),
      ]),
      S,
      false,
      'pg2',
      /pg2/,
    ],
    [
      'stopped streaming long ago skipped',
      clusterWithDeadPrimary({ pg3: { receiveLsn: '0/4000000', lastStreamedAt: NOW - 60000 } }),
      S,
      false,
      'pg2',
      /pg2/,
    ],
    [
      'async: lagging best candidate refused',
      clusterWithDeadPrimary({ pg2: { receiveLsn: '0/2000000' }, pg3: { receiveLsn: '0/2000000' } }),
      ASYNC,
      false,
      null,
      /no eligible candidate.*lags 16777216 bytes, more than maxLagBytes 1000/,
    ],
    [
      'async: operator force overrides lag',
      clusterWithDeadPrimary({ pg2: { receiveLsn: '0/2000000' }, pg3: { receiveLsn: '0/1000000' } }),
      ASYNC,
      true,
      'pg2',
      /16777216 bytes behind the old primary/,
    ],
    [
      'async: within maxLagBytes',
      clusterWithDeadPrimary({ pg2: { receiveLsn: '0/2FFFC18' } }),
      ASYNC,
      false,
      'pg3',
      /pg3/,
    ],
    [
      'sync: lag does not block',
      clusterWithDeadPrimary({ pg2: { receiveLsn: '0/2000000' }, pg3: { receiveLsn: '0/2000000' } }),
      S,
      false,
      'pg2',
      /pg2/,
    ],
    [
      'nobody eligible: every reason listed',
      clusterWithDeadPrimary({ pg2: { reachableFrom: nowhere }, pg3: { tags: { noFailover: true } } }),
      S,
      false,
      null,
      /pg1: is the old primary.*pg2: unreachable \(reached from 0 of 3 AZs, 2 needed\).*pg3: tagged noFailover/,
    ],
    [
      // Given up by an earlier run and not re-cloned since: even the most advanced replica is not a candidate.
      'a node the registry marks needs-reclone',
      clusterWithDeadPrimary({ pg3: { receiveLsn: '0/9000000', registryStatus: 'needs-reclone' } }),
      S,
      false,
      'pg2',
      /pg2/,
    ],
    [
      '... alone: no candidate, the reason names the command',
      clusterWithDeadPrimary({ pg2: { reachableFrom: nowhere }, pg3: { registryStatus: 'needs-reclone' } }),
      S,
      false,
      null,
      /pg3: marked needs-reclone \(given up as an earlier run's candidate\): `npx pgquorum rejoin pg3` first/,
    ],
    [
      'a node that is not in recovery',
      clusterWithDeadPrimary({ pg2: { role: 'primary' }, pg3: { receiveLsn: null } }),
      S,
      false,
      null,
      /pg2: is not a replica \(role primary\).*pg3: is not a replica \(role replica\)|pg3: has no receive LSN/,
    ],
  ])('%s', (_name, view, settings, force, expected, reason) => {
    const d = pick(view, settings, force);
    expect(d.reason).toMatch(reason);
    if (expected) {
      expect(d.action).toBe('promote');
      if (d.action === 'promote') expect(d).toMatchObject({ kind: 'best', candidate: expected });
    } else {
      expect(d.action).toBe('no-candidate');
    }
  });

  it('records why each skipped node was skipped', () => {
    const d = pick(clusterWithDeadPrimary({ pg3: { receiveLsn: '0/4000000', tags: { noFailover: true } } }));
    expect(reasonsOf(d, 'pg1')).toMatch(/old primary/);
    expect(reasonsOf(d, 'pg3')).toBe('tagged noFailover');
    expect(reasonsOf(d, 'pg2')).toBe('');
  });
});

describe('switchover target', () => {
  it.each<[string, ClusterView, string | undefined, string | null, RegExp]>([
    ['named healthy replica', cluster(), 'pg3', 'pg3', /operator chose pg3/],
    [
      'automatic choice',
      cluster({}, [
        node('pg1', { role: 'primary', receiveLsn: null }),
        node('pg2', { receiveLsn: '0/2FFFFFF' }),
        node('pg3'),
      ]),
      undefined,
      'pg3',
      /pg3 has the highest/,
    ],
    ['unknown target', cluster(), 'pg9', null, /unknown target 'pg9' \(nodes: pg1, pg2, pg3\)/],
    ['the primary itself', cluster(), 'pg1', null, /target pg1 is not eligible: is the old primary/],
    [
      'a lagging target',
      cluster({}, [
        node('pg1', { role: 'primary', receiveLsn: null }),
        node('pg2', { receiveLsn: '0/1000000' }),
        node('pg3'),
      ]),
      'pg2',
      null,
      /target pg2 is not eligible: lags 33554432 bytes/,
    ],
    [
      'a target not streaming now',
      cluster({}, [
        node('pg1', { role: 'primary', receiveLsn: null }),
        node('pg2', { streaming: false, lastStreamedAt: NOW - 1 }),
        node('pg3'),
      ]),
      'pg2',
      null,
      /not streaming/,
    ],
    [
      'a target caught up on receive whose replay is paused',
      cluster({}, [
        node('pg1', { role: 'primary', currentLsn: '0/3000000', receiveLsn: null }),
        node('pg2', { replayLsn: '0/2F00000', replayPaused: true }),
        node('pg3'),
      ]),
      'pg2',
      null,
      /target pg2 is not eligible: has WAL replay paused \(pg_is_wal_replay_paused\(\); run pg_wal_replay_resume\(\) on it\)$/,
    ],
    [
      'a target caught up on receive, 8 MiB behind on replay',
      cluster({}, [
        node('pg1', { role: 'primary', currentLsn: '0/3800000', receiveLsn: null }),
        node('pg2', { receiveLsn: '0/3800000', replayLsn: '0/3000000' }),
        node('pg3', { receiveLsn: '0/3800000', replayLsn: '0/3800000' }),
      ]),
      'pg2',
      null,
      /^target pg2 is not eligible: replay is 8388608 bytes behind the primary's current LSN 0\/3800000, more than switchoverMaxReplayLagBytes 4194304$/,
    ],
    [
      'a target within the replay bound',
      cluster({}, [
        node('pg1', { role: 'primary', currentLsn: '0/3400000', receiveLsn: null }),
        node('pg2', { receiveLsn: '0/3400000', replayLsn: '0/3000000' }),
        node('pg3'),
      ]),
      'pg2',
      'pg2',
      /operator chose pg2/,
    ],
    [
      'a target with no replay LSN',
      cluster({}, [
        node('pg1', { role: 'primary', currentLsn: '0/3000000', receiveLsn: null }),
        node('pg2', { replayLsn: null }),
        node('pg3'),
      ]),
      'pg2',
      null,
      /replay lag unknown \(no replay LSN\)/,
    ],
    [
      'automatic choice skips the replay-paused replica though it received the most',
      cluster({}, [
        node('pg1', { role: 'primary', currentLsn: '0/3000000', receiveLsn: null }),
        node('pg2', { receiveLsn: '0/3000000', replayPaused: true }),
        node('pg3', { receiveLsn: '0/2FFFFF0', replayLsn: '0/2FFFFF0' }),
      ]),
      undefined,
      'pg3',
      /pg3 has the highest received LSN/,
    ],
  ])('%s', (_name, view, target, expected, reason) => {
    const d = selectSwitchoverTarget(view, S, target);
    expect(d.reason).toMatch(reason);
    expect(d.action).toBe(expected ? 'promote' : 'no-candidate');
    if (d.action === 'promote') {
      expect(d.candidate).toBe(expected);
      // A named target is the operator's choice; no name, the best replica.
      expect(d.kind).toBe(target === undefined ? 'best' : 'operator');
    }
  });
});

describe('switchover replay rule in every replication mode', () => {
  const lagging = cluster({}, [
    node('pg1', { role: 'primary', currentLsn: '0/3800000', receiveLsn: null }),
    node('pg2', { receiveLsn: '0/3800000', replayLsn: '0/3000000' }),
    node('pg3'),
  ]);
  it.each(['sync', 'async'] as const)('%s mode refuses a target behind on replay', (replicationMode) => {
    const d = selectSwitchoverTarget(lagging, { ...S, replicationMode }, 'pg2');
    expect(d.action).toBe('no-candidate');
    expect(d.reason).toMatch(/replay is 8388608 bytes behind/);
  });
  it('a failover candidate is not held to the switchover replay rule (it is promoted after its own replay)', () => {
    const d = selectCandidate({ view: lagging, oldPrimary: 'pg1', settings: S, force: false });
    expect(d.action).toBe('promote');
  });
});

describe('existing primary (one writer before the most advanced replica)', () => {
  const promoted = (over: Partial<NodeView> = {}) =>
    node('pg2', { role: 'primary', timeline: 2, currentLsn: '0/3000200', receiveLsn: null, streaming: false, ...over });
  const dead = clusterWithDeadPrimary();
  const withNodes = (...nodes: NodeView[]) => ({ ...dead, nodes: [dead.nodes[0]!, ...nodes] });

  it.each([
    {
      name: 'no other primary: the ordinary rules decide',
      view: dead,
      interrupted: { epoch: 2, candidate: 'pg2' },
      action: null,
      reason: null,
    },
    {
      name: "the aborted run's own candidate finished promoting: adopt it",
      view: withNodes(promoted(), node('pg3')),
      interrupted: { epoch: 2, candidate: 'pg2' },
      action: 'promote',
      reason:
        'adopting pg2: the run at epoch 2 promoted it before it aborted (timeline 2); promoting another node would fork the history',
    },
    {
      name: 'a primary nobody chose: refuse',
      view: withNodes(promoted(), node('pg3')),
      interrupted: undefined,
      action: 'no-candidate',
      reason: 'refusing to promote a second primary: pg2 is already primary (timeline 2); an operator must decide',
    },
    {
      name: 'a primary other than the one the aborted run chose: refuse',
      view: withNodes(promoted(), node('pg3')),
      interrupted: { epoch: 2, candidate: 'pg3' },
      action: 'no-candidate',
      reason:
        'refusing to promote a second primary: pg2 is already primary (timeline 2), but the run at epoch 2 chose pg3; an operator must decide',
    },
    {
      name: 'two primaries besides the old one: refuse',
      view: withNodes(promoted(), promoted({ name: 'pg3' })),
      interrupted: { epoch: 2, candidate: 'pg2' },
      action: 'no-candidate',
      reason:
        'refusing to choose: pg2, pg3 are all primaries besides pg1; an operator must decide which history to keep',
    },
  ])('$name', ({ view, interrupted, action, reason }) => {
    const d = existingPrimaryDecision(view, 'pg1', interrupted);
    expect(d?.action ?? null).toBe(action);
    expect(d?.reason ?? null).toBe(reason);
    if (d?.action === 'promote') {
      expect(d).toMatchObject({ kind: 'adopted', candidate: 'pg2', receiveLsn: '0/3000200' });
    }
  });
});

describe('the candidate checked again once the old primary is fenced', () => {
  it.each<[string, PostFenceView, RegExp | null]>([
    [
      'as far as every other replica: promote',
      { candidate: 'pg2', candidateReceived: '0/5000100', others: [{ name: 'pg3', received: '0/5000100' }] },
      null,
    ],
    [
      'ahead of the others: promote',
      { candidate: 'pg2', candidateReceived: '0/5000200', others: [{ name: 'pg3', received: '0/5000100' }] },
      null,
    ],
    [
      'another replica received more after the selection: given up, naming both nodes and the bytes',
      {
        candidate: 'pg2',
        candidateReceived: '0/5000100',
        others: [
          { name: 'pg3', received: '0/5000180' },
          { name: 'pg4', received: '0/5000140' },
        ],
      },
      /^pg2 received 0\/5000100 but pg3 received 0\/5000180 \(128 bytes more\) by the time the old primary was fenced: promoting pg2 could lose commits pg3 acknowledged$/,
    ],
    [
      'past 2^53 bytes the comparison is exact',
      { candidate: 'pg2', candidateReceived: '200000/1', others: [{ name: 'pg3', received: '200000/2' }] },
      /pg3 received 200000\/2 \(1 bytes more\)/,
    ],
    [
      'the candidate no longer a replica (a retry after its promotion): nothing to compare',
      { candidate: 'pg2', candidateReceived: null, others: [{ name: 'pg3', received: '0/9000000' }] },
      null,
    ],
    [
      'a replica whose received LSN is unknown does not count',
      { candidate: 'pg2', candidateReceived: '0/5000100', others: [{ name: 'pg3', received: null }] },
      null,
    ],
  ])('%s', (_name, view, reason) => {
    const got = candidateBehindAfterFence(view);
    if (reason === null) expect(got).toBeNull();
    else expect(got).toMatch(reason);
  });
});

describe('the one candidate decision', () => {
  const dead = clusterWithDeadPrimary({ pg2: { receiveLsn: '0/3000000' }, pg3: { receiveLsn: '0/2FFFF00' } });
  const promoted = (over: Partial<NodeView> = {}) =>
    node('pg2', { role: 'primary', timeline: 2, currentLsn: '0/3000200', receiveLsn: null, streaming: false, ...over });
  const withPg2Promoted: ClusterView = { ...dead, nodes: [dead.nodes[0]!, promoted(), dead.nodes[2]!] };
  const failover = (over: Partial<CandidateRequest> = {}): CandidateRequest => ({
    mode: 'failover',
    view: dead,
    oldPrimary: 'pg1',
    settings: S,
    ...over,
  });

  it.each<[string, CandidateRequest, string, string | undefined, string]>([
    [
      'failover: the most advanced replica',
      failover(),
      'best',
      'pg2',
      'pg2 has the highest received LSN 0/3000000, 0 bytes behind the old primary; ahead of pg3 at 0/2FFFF00',
    ],
    [
      'failover asked for the best one anyway: still best',
      failover({ target: 'pg2' }),
      'best',
      'pg2',
      'pg2 has the highest received LSN 0/3000000, 0 bytes behind the old primary; ahead of pg3 at 0/2FFFF00',
    ],
    [
      'failover asked for another eligible replica: the operator chose it',
      failover({ target: 'pg3' }),
      'operator',
      'pg3',
      'operator chose pg3 (pg3 has the highest received LSN 0/2FFFF00, 256 bytes behind the old primary)',
    ],
    [
      "an operator's target lagging past maxLagBytes (async): their choice overrides the lag rule",
      failover({
        settings: ASYNC,
        target: 'pg3',
        view: clusterWithDeadPrimary({ pg2: { receiveLsn: '0/3000000' }, pg3: { receiveLsn: '0/2000000' } }),
      }),
      'operator',
      'pg3',
      'operator chose pg3 (pg3 has the highest received LSN 0/2000000, 16777216 bytes behind the old primary)',
    ],
    [
      "an operator's target tagged noFailover: no candidate, the reason says why",
      failover({
        target: 'pg3',
        view: clusterWithDeadPrimary({ pg2: { receiveLsn: '0/3000000' }, pg3: { tags: { noFailover: true } } }),
      }),
      'no-candidate',
      undefined,
      'no eligible candidate (pg1: is the old primary, is not a replica (role unknown), unreachable (reached from 0 of 3 AZs, 2 needed); pg3: tagged noFailover)',
    ],
    [
      "the previous run's own promotion: adopted",
      failover({ view: withPg2Promoted, interrupted: { epoch: 6, candidate: 'pg2' } }),
      'adopted',
      'pg2',
      'adopting pg2: the run at epoch 6 promoted it before it aborted (timeline 2); promoting another node would fork the history',
    ],
    [
      "the previous run's promotion, and the operator asked for it: adopted",
      failover({ view: withPg2Promoted, interrupted: { epoch: 6, candidate: 'pg2' }, target: 'pg2' }),
      'adopted',
      'pg2',
      'adopting pg2: the run at epoch 6 promoted it before it aborted (timeline 2); promoting another node would fork the history',
    ],
    [
      "the previous run's promotion, but the operator asked for another: refused, never a second primary",
      failover({ view: withPg2Promoted, interrupted: { epoch: 6, candidate: 'pg2' }, target: 'pg3' }),
      'no-candidate',
      undefined,
      'adopting pg2: the run at epoch 6 promoted it before it aborted (timeline 2); promoting another node would fork the history; not pg3 as asked',
    ],
    [
      'a primary nobody chose: refused, even with a target',
      failover({ view: withPg2Promoted, target: 'pg3' }),
      'no-candidate',
      undefined,
      'refusing to promote a second primary: pg2 is already primary (timeline 2); an operator must decide',
    ],
    [
      'switchover to a named replica: the operator chose it',
      { mode: 'switchover', view: cluster(), oldPrimary: 'pg1', settings: S, target: 'pg3' },
      'operator',
      'pg3',
      'operator chose pg3',
    ],
    [
      'switchover without a target: the best replica',
      { mode: 'switchover', view: cluster(), oldPrimary: 'pg1', settings: S },
      'best',
      'pg2',
      'pg2 has the highest received LSN 0/3000000, 0 bytes behind the old primary; ahead of pg3 at 0/3000000',
    ],
  ])('%s', (_name, request, kind, candidate, reason) => {
    const d = decideCandidate(request);
    expect(d.reason).toBe(reason);
    if (kind === 'no-candidate') expect(d.action).toBe('no-candidate');
    else expect(d).toMatchObject({ action: 'promote', kind, candidate });
  });

  it('a re-plan judges streaming as of the run start, an ordinary run as of now', () => {
    // pg3 streamed 1 s before the run started, long before now; pg2 was given up by this run.
    const view = clusterWithDeadPrimary({ pg3: { lastStreamedAt: NOW - 60_000 } });
    const replan = failover({ view, excluded: ['pg2'], startedAt: NOW - 59_000 });
    expect(decideCandidate(replan)).toMatchObject({ action: 'promote', candidate: 'pg3' });
    const first = decideCandidate({ ...replan, excluded: [] });
    expect(first).toMatchObject({ action: 'promote', candidate: 'pg2' });
    expect(decideCandidate({ ...replan, startedAt: undefined }).reason).toMatch(
      /pg3: not streaming \(last streamed 60000 ms ago\)/,
    );
  });
});

describe('refusalWorthAnotherLook: a refusal that may be the controller failing to look', () => {
  const refusal = (rejected: Record<string, string[]>): CandidateDecision => ({
    action: 'no-candidate',
    reason: 'no eligible candidate (…)',
    rejected,
  });
  const UNREACHED = 'unreachable (reached from 0 of 1 AZs, 1 needed)';
  it.each([
    {
      name: 'a replica the task could not reach: look again',
      d: refusal({ pg1: ['is the old primary'], pg2: [UNREACHED, 'is not a replica (role unknown)'], pg3: ['lags'] }),
      excluded: [],
      want: 'pg2 not reached from the controller (looked at again before the run gives up)',
    },
    {
      name: 'every replica refused for what it is, not for being out of reach: the refusal stands',
      d: refusal({ pg1: ['is the old primary', UNREACHED], pg2: ['tagged noFailover'], pg3: ['not streaming'] }),
      excluded: [],
      want: null,
    },
    {
      name: 'only a given-up candidate is out of reach: the refusal stands',
      d: refusal({ pg1: ['is the old primary'], pg2: [UNREACHED], pg3: ['tagged noFailover'] }),
      excluded: ['pg2'],
      want: null,
    },
    {
      name: 'a pick is not a refusal',
      d: { action: 'promote', kind: 'best', candidate: 'pg2', receiveLsn: '0/1', reason: 'r', rejected: {} },
      excluded: [],
      want: null,
    },
  ] as { name: string; d: CandidateDecision; excluded: string[]; want: string | null }[])(
    '$name',
    ({ d, excluded, want }) => {
      expect(refusalWorthAnotherLook(d, 'pg1', excluded)).toBe(want);
    },
  );
});
