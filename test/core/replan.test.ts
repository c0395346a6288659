import {
  commitHealth,
  committedLabel,
  existingPrimaryDecision,
  type Lease,
  newPrimaryLost,
  parseSettings,
  rejoinMethod,
  replanDecision,
  replanRun,
  repointEnough,
  resumeDecision,
  selectCandidate,
} from '../../lambdas/core';
import { AZS, clusterWithDeadPrimary, downVote, lease, NOW, S, vote } from './builders';

const NEXT =
  'check pg2 (fenced: ingress revoked), then `npx pgquorum resume --primary pg1` and `npx pgquorum failover --to NODE --force` to a healthy replica';

describe('replanDecision', () => {
  const base = {
    candidate: 'pg2',
    oldPrimary: 'pg1',
    excluded: [],
    nodes: ['pg1', 'pg2', 'pg3'],
    maxReplans: 2,
    failure: 'pg2 does not answer',
  };
  it.each([
    {
      name: 'first failure with another replica left: re-plan',
      over: {},
      action: 'replan',
      excluded: ['pg2'],
      reason:
        'candidate pg2 failed (pg2 does not answer): fenced and given up, choosing again among pg3 (re-plan 1 of at most 2)',
    },
    {
      name: 'maxReplans 0: never re-plan',
      over: { maxReplans: 0 },
      action: 'give-up',
      excluded: ['pg2'],
      reason: `candidate pg2 failed (pg2 does not answer); 1 candidate(s) given up (pg2), maxReplans 0 reached: needs attention; ${NEXT}`,
    },
    {
      name: 'no node left but the old primary: give up',
      over: { nodes: ['pg1', 'pg2'] },
      action: 'give-up',
      excluded: ['pg2'],
      reason: `candidate pg2 failed (pg2 does not answer); no other node to choose (old primary pg1, given up: pg2): needs attention; ${NEXT}`,
    },
    {
      name: 'the second candidate fails too, bound reached at 1',
      over: { candidate: 'pg3', excluded: ['pg2'], maxReplans: 1, failure: 'x' },
      action: 'give-up',
      excluded: ['pg2', 'pg3'],
      reason:
        'candidate pg3 failed (x); 2 candidate(s) given up (pg2, pg3), maxReplans 1 reached: needs attention; check pg2, pg3 (fenced: ingress revoked), then `npx pgquorum resume --primary pg1` and `npx pgquorum failover --to NODE --force` to a healthy replica',
    },
    {
      name: 'a retry whose candidate is already excluded decides the same',
      over: { excluded: ['pg2'] },
      action: 'replan',
      excluded: ['pg2'],
      reason:
        'candidate pg2 failed (pg2 does not answer): fenced and given up, choosing again among pg3 (re-plan 1 of at most 2)',
    },
  ])('$name', ({ over, action, excluded, reason }) => {
    const d = replanDecision({ ...base, ...over });
    expect(d).toEqual({ action, excluded, reason });
  });
});

describe('replanRun', () => {
  const promoted = (over: Partial<NonNullable<Lease['run']>> = {}): Lease =>
    lease({
      state: 'failing-over',
      epoch: 8,
      holder: 'exec-1',
      run: {
        holder: 'exec-1',
        mode: 'failover',
        oldPrimary: 'pg1',
        candidate: 'pg2',
        fenceVerified: true,
        promotedLsn: '0/5',
        ...over,
      },
    });
  it('moves the candidate to excluded, forgets its promotion, keeps the proven fence', () => {
    const r = replanRun(promoted(), { epoch: 8, holder: 'exec-1', candidate: 'pg2' });
    expect(r.ok && r.lease.run).toEqual({
      holder: 'exec-1',
      mode: 'failover',
      oldPrimary: 'pg1',
      fenceVerified: true,
      excluded: ['pg2'],
    });
  });
  it('a retry after the write gets the lease back unchanged', () => {
    const once = replanRun(promoted(), { epoch: 8, holder: 'exec-1', candidate: 'pg2' });
    if (!once.ok) throw new Error(once.reason);
    const again = replanRun(once.lease, { epoch: 8, holder: 'exec-1', candidate: 'pg2' });
    expect(again).toEqual({ ok: true, lease: once.lease });
  });
  it.each([
    {
      name: 'another candidate than the record',
      l: promoted(),
      req: { epoch: 8, holder: 'exec-1', candidate: 'pg3' },
      reason: 'epoch 8 chose pg2, not pg3',
    },
    {
      name: 'a stranger',
      l: promoted(),
      req: { epoch: 8, holder: 'exec-2', candidate: 'pg2' },
      reason: 'exec-2 is not the holder of epoch 8 (exec-1)',
    },
    {
      name: 'a stale epoch',
      l: promoted(),
      req: { epoch: 7, holder: 'exec-1', candidate: 'pg2' },
      reason: 'stale epoch 7: the lease is at epoch 8 (failing-over)',
    },
    {
      name: 'a switchover',
      l: promoted({ mode: 'switchover' }),
      req: { epoch: 8, holder: 'exec-1', candidate: 'pg2' },
      reason: 'a switchover does not re-plan',
    },
    {
      name: 'an ended run',
      l: { ...promoted(), state: 'needs-attention' as const },
      req: { epoch: 8, holder: 'exec-1', candidate: 'pg2' },
      reason: 'epoch 8 is no longer in flight: the lease is needs-attention',
    },
  ])('refuses $name', ({ l, req, reason }) => {
    expect(replanRun(l, req)).toEqual({ ok: false, reason });
  });
});

describe('SelectCandidate after a re-plan', () => {
  it('skips an excluded node with its reason and chooses the other replica', () => {
    const view = clusterWithDeadPrimary({ pg2: { receiveLsn: '0/3000100' } });
    const d = selectCandidate({ view, oldPrimary: 'pg1', settings: S, force: false, excluded: ['pg2'] });
    expect(d.action).toBe('promote');
    expect(d.action === 'promote' && d.candidate).toBe('pg3');
    expect(d.rejected.pg2).toEqual(['given up by this run (failed as its candidate, fenced)']);
  });
  it('no candidate when every replica is excluded', () => {
    const d = selectCandidate({
      view: clusterWithDeadPrimary(),
      oldPrimary: 'pg1',
      settings: S,
      force: false,
      excluded: ['pg2', 'pg3'],
    });
    expect(d.reason).toBe(
      'no eligible candidate (pg1: is the old primary, is not a replica (role unknown), unreachable (reached from 0 of 3 AZs, 2 needed); pg2: given up by this run (failed as its candidate, fenced); pg3: given up by this run (failed as its candidate, fenced))',
    );
  });
  it('accepts a replica on the given-up candidate timeline only when told', () => {
    const view = clusterWithDeadPrimary({ pg3: { timeline: 2 } });
    const old = { ...view, nodes: view.nodes.map((n) => (n.name === 'pg1' ? { ...n, timeline: 1 } : n)) };
    const ctx = { view: old, oldPrimary: 'pg1', settings: S, force: false, excluded: ['pg2'] };
    expect(selectCandidate(ctx).action).toBe('no-candidate');
    expect(selectCandidate({ ...ctx, followedTimelines: [2] }).action).toBe('promote');
  });
  it('judges streaming as of the run start on a re-plan: the run itself may outlast streamingGraceMs', () => {
    const view = clusterWithDeadPrimary({ pg3: { lastStreamedAt: NOW - S.streamingGraceMs - 5000 } });
    const ctx = { view, oldPrimary: 'pg1', settings: S, force: false, excluded: ['pg2'] };
    expect(selectCandidate(ctx).rejected.pg3).toEqual([
      `not streaming (last streamed ${S.streamingGraceMs + 5000} ms ago)`,
    ]);
    expect(selectCandidate({ ...ctx, streamingAsOf: NOW - 20000 }).action).toBe('promote');
  });
  it("judges streaming as of the old primary's last sighting: an operator's forced failover minutes after a give-up", () => {
    const lastSeen = NOW - 120_000;
    const view = clusterWithDeadPrimary({ pg3: { lastStreamedAt: lastSeen - 1000 } });
    const ctx = { oldPrimary: 'pg1', settings: S, force: true, excluded: [] as string[] };
    expect(selectCandidate({ ...ctx, view }).rejected.pg3).toEqual(['not streaming (last streamed 121000 ms ago)']);
    const anchored = { ...view, primaryLastSeenAt: lastSeen };
    expect(selectCandidate({ ...ctx, view: anchored }).action).toBe('promote');
    // A replica that had stopped streaming long before the primary was lost stays out.
    const stale = clusterWithDeadPrimary({ pg3: { lastStreamedAt: lastSeen - S.streamingGraceMs - 1 } });
    expect(selectCandidate({ ...ctx, view: { ...stale, primaryLastSeenAt: lastSeen } }).rejected.pg3).toEqual([
      `not streaming (last streamed ${S.streamingGraceMs + 1} ms ago)`,
    ]);
  });
  it('never adopts (nor counts as a second writer) an excluded candidate that is primary', () => {
    const view = clusterWithDeadPrimary({ pg2: { role: 'primary', timeline: 2, currentLsn: '0/3000200' } });
    expect(existingPrimaryDecision(view, 'pg1', { epoch: 7, candidate: 'pg2' }, ['pg2'])).toBeNull();
    expect(existingPrimaryDecision(view, 'pg1', { epoch: 7, candidate: 'pg2' })?.action).toBe('promote');
  });
});

describe('maxReplans setting', () => {
  it('defaults to 2 and names the field when invalid', () => {
    expect(S.maxReplans).toBe(2);
    expect(() => parseSettings({ maxReplans: 9 })).toThrow(/maxReplans/);
  });
});

describe('commitHealth', () => {
  it.each([
    {
      name: 'every replica re-pointed',
      i: {
        primary: 'pg2',
        replicas: ['pg3'],
        repointed: [{ replica: 'pg3', ok: true, detail: 'streams' }],
        readers: ['pg3'],
      },
      degraded: [],
      reason: 'committed',
    },
    {
      name: 'a replica left on the old timeline, the reader record back on the primary',
      i: {
        primary: 'pg2',
        replicas: ['pg3'],
        repointed: [{ replica: 'pg3', ok: false, detail: 'not re-pointed: pg3 does not stream from pg2' }],
        readers: ['pg2'],
      },
      degraded: [
        'pg3 not re-pointed: pg3 does not stream from pg2',
        'reader record names no replica: it points at the primary pg2',
      ],
      reason:
        'committed-degraded: pg3 not re-pointed: pg3 does not stream from pg2; reader record names no replica: it points at the primary pg2',
    },
    {
      name: 'a reader record naming only dead nodes',
      i: {
        primary: 'pg3',
        replicas: ['pg4'],
        repointed: [{ replica: 'pg4', ok: true, detail: 'streams' }],
        readers: ['pg2'],
        deadNodes: ['pg2'],
      },
      degraded: ['reader record names no live node (pg2)'],
      reason: 'committed-degraded: reader record names no live node (pg2)',
    },
    {
      name: 'two nodes: no replica to name is not degraded',
      i: { primary: 'pg2', replicas: [], repointed: [], readers: ['pg2'] },
      degraded: [],
      reason: 'committed',
    },
    {
      name: 'a failed rejoin',
      i: { primary: 'pg2', replicas: [], rejoinFailure: 'rejoin of pg1 failed: timeout' },
      degraded: ['rejoin failed: rejoin of pg1 failed: timeout'],
      reason: 'committed-degraded: rejoin failed: rejoin of pg1 failed: timeout',
    },
    {
      name: 'a replica with no result',
      i: { primary: 'pg2', replicas: ['pg3'], repointed: [] },
      degraded: ['pg3 not re-pointed: no result recorded'],
      reason: 'committed-degraded: pg3 not re-pointed: no result recorded',
    },
  ])('$name', ({ i, degraded, reason }) => {
    const h = commitHealth(i);
    expect(h).toEqual({ degraded, reason });
    expect(committedLabel(h.degraded)).toBe(degraded.length ? 'committed-degraded' : 'committed');
  });
});

describe('repointEnough', () => {
  it.each([
    {
      name: 'async: always wait to the bound',
      i: { mode: 'async' as const, replica: 'pg3', elapsedMs: 9000, othersStreaming: ['pg4'] },
      out: null,
    },
    {
      name: 'sync, nobody else streams: wait',
      i: { mode: 'sync' as const, replica: 'pg3', elapsedMs: 9000, othersStreaming: [] },
      out: null,
    },
    {
      name: 'sync, within the grace: wait',
      i: { mode: 'sync' as const, replica: 'pg3', elapsedMs: 1000, othersStreaming: ['pg4'] },
      out: null,
    },
    {
      name: 'sync, another streams past the grace: stop',
      i: { mode: 'sync' as const, replica: 'pg3', elapsedMs: 3200, othersStreaming: ['pg4'] },
      out: 'quorum met: pg4 already stream(s) from the new primary; pg3 not streaming after 3200 ms is left to the rejoin',
    },
  ])('$name', ({ i, out }) => {
    expect(repointEnough(i)).toBe(out);
  });
});

describe('resumeDecision', () => {
  const up = AZS.map((az) => vote(az));
  const upPg2 = AZS.map((az) => vote(az, { primary: 'pg2' }));
  const attention = lease({ state: 'needs-attention', reason: 'failover aborted' });
  const paused = lease({ state: 'paused' });
  const req = { votes: up, probeAzs: AZS, now: NOW, settings: S };
  it.each([
    {
      name: 'needs-attention without a primary',
      l: attention,
      r: {},
      action: 'refuse',
      reason: 'resuming from needs-attention (failover aborted) needs the verified primary',
    },
    {
      name: 'needs-attention naming another node: paused, the probes have not judged it',
      l: attention,
      r: { primary: 'pg2', votes: upPg2 },
      action: 'paused',
      reason:
        'pg2 recorded as primary, automatic failover still off: the probes vote about pg1, not pg2; run `pgquorum resume` again once `pgquorum status` shows pg2 up',
    },
    {
      name: 'needs-attention naming the lease primary the probes see up',
      l: attention,
      r: { primary: 'pg1' },
      action: 'steady',
      reason: 'automatic failover on: 3 of 3 AZs reach pg1',
    },
    {
      name: 'paused, the probes see the primary down: stay paused',
      l: paused,
      r: { votes: AZS.map((az) => downVote(az)) },
      action: 'paused',
      reason:
        'automatic failover still off: the probes do not see pg1 up as primary (3 of 3 AZs report pg1 down (az-a: 3 failures; az-b: 3 failures; az-c: 3 failures)); run `pgquorum resume` again once they do',
    },
    {
      name: 'paused, stale votes: stay paused',
      l: paused,
      r: { votes: AZS.map((az) => vote(az, { observedAt: NOW - 60000 })) },
      action: 'paused',
      reason: expect.stringContaining('no quorum about pg1'),
    },
    {
      name: 'paused, fresh up votes: steady',
      l: paused,
      r: {},
      action: 'steady',
      reason: 'automatic failover on: 3 of 3 AZs reach pg1',
    },
    {
      name: 'in flight',
      l: lease({ state: 'failing-over' }),
      r: {},
      action: 'refuse',
      reason: 'cannot resume while failing-over (epoch 7)',
    },
    {
      name: 'steady naming another node',
      l: lease(),
      r: { primary: 'pg2' },
      action: 'refuse',
      reason: 'the cluster is steady with pg1 as primary: use `pgquorum switchover --to pg2`',
    },
  ])('$name', ({ l, r, action, reason }) => {
    expect(resumeDecision(l, { ...req, ...r })).toMatchObject({ action, reason });
  });
});

describe('newPrimaryLost', () => {
  it.each([
    { name: 'a writable primary', seen: { ok: true, role: 'primary' as const }, reason: null },
    {
      name: 'no answer',
      seen: { ok: false, error: 'timeout after 1500 ms' },
      reason: 'new primary pg2 does not answer (timeout after 1500 ms) before the commit',
    },
    {
      name: 'a primary whose heartbeat failed (no local commit)',
      seen: { ok: false, role: 'primary' as const, error: 'heartbeat write failed: disk full' },
      reason: 'new primary pg2 does not answer (heartbeat write failed: disk full) before the commit',
    },
    {
      name: 'answers as a replica',
      seen: { ok: true, role: 'replica' as const },
      reason: 'new primary pg2 answers as a replica before the commit',
    },
    {
      name: 'no probe result',
      seen: undefined,
      reason: 'new primary pg2 does not answer (probe failed) before the commit',
    },
  ])('$name', ({ seen, reason }) => {
    expect(newPrimaryLost('pg2', seen, 'before the commit')).toBe(reason);
  });
});

describe('rejoinMethod', () => {
  it.each([
    { name: 'the old primary: pg_rewind', node: 'pg1', givenUp: ['pg2'], method: 'rewind', reason: /former primary/ },
    {
      // Seen on the lab: pg2 and pg3 both promoted to timeline 2 at 0/5094420; pg_rewind found nothing to do.
      name: 'a given-up candidate: re-clone (same timeline ID, another history)',
      node: 'pg2',
      givenUp: ['pg2'],
      method: 'reclone',
      reason: /^pg2 was given up by the run as its candidate: .*pg_rewind cannot tell apart/,
    },
    { name: 'no record of a give-up: pg_rewind', node: 'pg2', givenUp: [], method: 'rewind', reason: /pg_rewind/ },
    {
      // The maxReplans path: the give-up's epoch ended in needs-attention, the rejoin runs under a later one.
      name: 'given up by an earlier run (the registry mark): re-clone',
      node: 'pg2',
      givenUp: [],
      status: 'needs-reclone',
      method: 'reclone',
      reason: /^pg2 is marked needs-reclone \(an earlier run gave it up as its candidate\)/,
    },
    {
      name: 'a plain needs-rejoin: pg_rewind',
      node: 'pg2',
      givenUp: [],
      status: 'needs-rejoin',
      method: 'rewind',
      reason: /pg_rewind/,
    },
  ])('$name', ({ node, givenUp, status, method, reason }) => {
    const m = rejoinMethod({ node, givenUp, ...(status ? { status } : {}) });
    expect(m.method).toBe(method);
    expect(m.reason).toMatch(reason);
  });
});
