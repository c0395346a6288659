import {
  clearSyncDegradedLease,
  DEFAULT_SETTINGS,
  decideSyncStandby,
  degradeSyncLease,
  type Episode,
  episodeAgeSec,
  type Lease,
  nextEpisode,
  parseSettings,
  redegradeSyncLease,
  restoreSyncLease,
  type StandbySeen,
  type SyncDegraded,
  type SyncStandbyView,
  unreachableHostPolicy,
} from '../../lambdas/core';
import { lease, NOW } from './builders';

const NAMES = 'ANY 1 (pg1, pg2, pg3)';
const quorum = (name: string): StandbySeen => ({ name, state: 'streaming', syncState: 'quorum' });
const asyncStreaming = (name: string): StandbySeen => ({ name, state: 'streaming', syncState: 'async' });
const lost: Episode = {
  kind: 'sync-standby-missing',
  active: true,
  since: NOW - 20_000,
  node: 'pg1',
  detail: 'x',
  rev: 3,
};
const deg = (over: Partial<SyncDegraded> = {}): SyncDegraded => ({
  primary: 'pg1',
  epoch: 7,
  since: NOW - 5000,
  savedNames: NAMES,
  ...over,
});

function view(over: {
  settings?: Partial<SyncStandbyView['settings']>;
  lease?: Partial<Lease>;
  names?: string;
  standbys?: StandbySeen[];
  reached?: boolean;
  episode?: Episode;
}): SyncStandbyView {
  return {
    settings: {
      replicationMode: 'sync',
      onNoSyncStandby: 'block',
      degradeAfterSec: 15,
      syncRestoreAfterSec: 10,
      ...over.settings,
    },
    lease: lease(over.lease),
    primary:
      over.reached === false ? null : { node: 'pg1', syncNames: over.names ?? NAMES, standbys: over.standbys ?? [] },
    episode: over.episode,
    now: NOW,
  };
}

describe('decideSyncStandby', () => {
  it.each<[string, SyncStandbyView, { active: boolean | null; missing: boolean; action: string; reason: RegExp }]>([
    [
      'async mode: nothing applies',
      view({ settings: { replicationMode: 'async' }, names: '' }),
      { active: null, missing: false, action: 'none', reason: /async replication/ },
    ],
    [
      'primary not reached: the failover decides',
      view({ reached: false }),
      { active: null, missing: false, action: 'none', reason: /not reached/ },
    ],
    [
      'a quorum standby streams',
      view({ standbys: [quorum('pg2'), quorum('pg3')] }),
      { active: false, missing: false, action: 'none', reason: /synchronous standby pg2, pg3/ },
    ],
    [
      'block: no standby, commits wait',
      view({ standbys: [] }),
      { active: true, missing: true, action: 'none', reason: /onNoSyncStandby block: commits wait/ },
    ],
    [
      'block: a standby that streams async does not count',
      view({ standbys: [asyncStreaming('pg2')], episode: lost }),
      { active: true, missing: true, action: 'none', reason: /for 20 s; onNoSyncStandby block/ },
    ],
    [
      'degrade: before degradeAfterSec, wait',
      view({ settings: { onNoSyncStandby: 'degrade' }, episode: { ...lost, since: NOW - 14_000 } }),
      { active: true, missing: true, action: 'none', reason: /14 s of 15 s before degrading/ },
    ],
    [
      'degrade: a first sighting starts the clock',
      view({ settings: { onNoSyncStandby: 'degrade', degradeAfterSec: 1 } }),
      { active: true, missing: true, action: 'none', reason: /0 s of 1 s/ },
    ],
    [
      'degrade: past degradeAfterSec on a steady lease, degrade',
      view({ settings: { onNoSyncStandby: 'degrade' }, episode: lost }),
      { active: true, missing: true, action: 'degrade', reason: /for 20 s \(degradeAfterSec 15\): degrade to async/ },
    ],
    [
      'degrade: an episode about another primary does not count',
      view({ settings: { onNoSyncStandby: 'degrade' }, episode: { ...lost, node: 'pg2' } }),
      { active: true, missing: true, action: 'none', reason: /0 s of 15 s/ },
    ],
    [
      'degrade: never during a run',
      view({ settings: { onNoSyncStandby: 'degrade' }, episode: lost, lease: { state: 'failing-over' } }),
      { active: true, missing: true, action: 'none', reason: /lease is failing-over: no degrade/ },
    ],
    [
      'degrade: never while paused',
      view({ settings: { onNoSyncStandby: 'degrade' }, episode: lost, lease: { state: 'paused' } }),
      { active: true, missing: true, action: 'none', reason: /lease is paused: no degrade/ },
    ],
    [
      'degraded: the setting is still set (the ALTER failed): apply it',
      view({ settings: { onNoSyncStandby: 'degrade' }, lease: { syncDegraded: deg() } }),
      { active: true, missing: true, action: 'apply:', reason: /asks for ''/ },
    ],
    [
      'degraded, no standby streams: stay (RPO window open)',
      view({ settings: { onNoSyncStandby: 'degrade' }, names: '', lease: { syncDegraded: deg() } }),
      { active: true, missing: true, action: 'none', reason: /RPO window is open.*no standby streams/ },
    ],
    [
      'degraded, a standby has streamed for syncRestoreAfterSec: restore',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        names: '',
        standbys: [asyncStreaming('pg3'), { ...asyncStreaming('pg2'), streamingForMs: 12_500 }],
        lease: { syncDegraded: deg() },
      }),
      {
        active: true,
        missing: true,
        action: 'restore',
        reason: /^pg2 streams from pg1 again \(for 12 s, syncRestoreAfterSec 10\): restore .*ANY 1/,
      },
    ],
    [
      // Hysteresis: a stream that just came back (it may drop again) leaves the primary async, commits flowing.
      'degraded, a standby streams again but not yet for syncRestoreAfterSec: stay async',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        names: '',
        standbys: [{ ...asyncStreaming('pg2'), streamingForMs: 3_900 }],
        lease: { syncDegraded: deg() },
      }),
      {
        active: true,
        missing: true,
        action: 'none',
        reason: /RPO window is open\); pg2 streams again, for 3 s of syncRestoreAfterSec 10 before quorum sync/,
      },
    ],
    [
      'degraded, a stream of unknown age counts as just started',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        names: '',
        standbys: [asyncStreaming('pg2')],
        lease: { syncDegraded: deg() },
      }),
      { active: true, missing: true, action: 'none', reason: /for 0 s of syncRestoreAfterSec 10/ },
    ],
    [
      'syncRestoreAfterSec 0: any stream restores at once',
      view({
        settings: { onNoSyncStandby: 'degrade', syncRestoreAfterSec: 0 },
        names: '',
        standbys: [asyncStreaming('pg2')],
        lease: { syncDegraded: deg() },
      }),
      {
        active: true,
        missing: true,
        action: 'restore',
        reason: /pg2 streams from pg1 again \(for 0 s, syncRestoreAfterSec 0\)/,
      },
    ],
    [
      'degraded, a standby with a long-lived walsender that is not streaming (catchup): stay',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        names: '',
        standbys: [{ name: 'pg2', state: 'catchup', syncState: 'async', streamingForMs: 60_000 }],
        lease: { syncDegraded: deg() },
      }),
      { active: true, missing: true, action: 'none', reason: /no standby streams/ },
    ],
    [
      'restoring, the setting not back yet (a probe acted on a stale read): apply the saved one',
      view({
        names: '',
        standbys: [asyncStreaming('pg2')],
        lease: { syncDegraded: deg({ restoringSince: NOW - 1000 }) },
      }),
      { active: true, missing: true, action: `apply:${NAMES}`, reason: /asks for 'ANY 1/ },
    ],
    [
      'restoring, back and synchronous: clear',
      view({ standbys: [quorum('pg2')], lease: { syncDegraded: deg({ restoringSince: NOW - 1000 }) } }),
      { active: false, missing: false, action: 'clear', reason: /close the RPO window/ },
    ],
    [
      'restoring, back but no standby synchronous yet: wait',
      view({ standbys: [asyncStreaming('pg2')], lease: { syncDegraded: deg({ restoringSince: NOW - 1000 }) } }),
      { active: true, missing: true, action: 'none', reason: /waiting for a standby/ },
    ],
    [
      'restoring for degradeAfterSec, no standby synchronous (it dropped before it became one): degrade again',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        standbys: [],
        lease: { syncDegraded: deg({ restoringSince: NOW - 15_000 }) },
      }),
      {
        active: true,
        missing: true,
        action: 'redegrade',
        reason:
          /^pg1's synchronous_standby_names was restored 15 s ago and no standby is synchronous \(no standby streams\): degrade to async again \(degradeAfterSec 15\)$/,
      },
    ],
    [
      '... a standby that streams but never becomes synchronous bounds the wait the same way',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        standbys: [asyncStreaming('pg2')],
        lease: { syncDegraded: deg({ restoringSince: NOW - 20_000 }) },
      }),
      { active: true, missing: true, action: 'redegrade', reason: /\(pg2 streams but is not synchronous\)/ },
    ],
    [
      '... one second short of degradeAfterSec: wait',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        standbys: [],
        lease: { syncDegraded: deg({ restoringSince: NOW - 14_000 }) },
      }),
      { active: true, missing: true, action: 'none', reason: /restored 14 s ago \(no standby streams\); waiting/ },
    ],
    [
      '... but not while a run holds the lease',
      view({
        settings: { onNoSyncStandby: 'degrade' },
        standbys: [],
        lease: { state: 'failing-over', syncDegraded: deg({ restoringSince: NOW - 15_000 }) },
      }),
      { active: true, missing: true, action: 'none', reason: /but the lease is failing-over: no degrade$/ },
    ],
    [
      '... and not once the deployment says block (commits wait, nothing is lost)',
      view({
        settings: { onNoSyncStandby: 'block' },
        standbys: [],
        lease: { syncDegraded: deg({ restoringSince: NOW - 60_000 }) },
      }),
      { active: true, missing: true, action: 'none', reason: /waiting for a standby to become synchronous/ },
    ],
    [
      'a record about a primary the lease moved away from (a failover): clear',
      view({ lease: { primary: 'pg2', syncDegraded: deg() } }),
      { active: null, missing: false, action: 'clear', reason: /names pg1, the lease now names pg2: clear/ },
    ],
    [
      '... but not during a run',
      view({ lease: { primary: 'pg2', state: 'switching-over', syncDegraded: deg() } }),
      { active: null, missing: false, action: 'none', reason: /names pg1, the lease now names pg2$/ },
    ],
    [
      'sync mode with an empty setting and no record: warn, do not touch',
      view({ names: '', standbys: [asyncStreaming('pg2')] }),
      { active: true, missing: true, action: 'none', reason: /empty and no degrade record/ },
    ],
  ])('%s', (_name, v, want) => {
    const d = decideSyncStandby(v);
    expect(d.observation?.active ?? null).toBe(want.active);
    expect(d.missing).toBe(want.missing);
    expect(d.action.kind === 'apply' ? `apply:${d.action.names}` : d.action.kind).toBe(want.action);
    expect(d.reason).toMatch(want.reason);
  });

  it('degrade saves the setting it replaces', () => {
    const d = decideSyncStandby(view({ settings: { onNoSyncStandby: 'degrade' }, episode: lost }));
    expect(d.action).toEqual({ kind: 'degrade', savedNames: NAMES });
  });
});

describe('episodes', () => {
  const obs = (active: boolean, node = 'pg1') => ({
    kind: 'sync-standby-missing' as const,
    active,
    node,
    detail: active ? 'lost' : 'back',
    now: NOW,
  });
  it.each<[string, Episode | undefined, ReturnType<typeof obs>, 'start' | 'end' | null]>([
    ['first loss starts one', undefined, obs(true), 'start'],
    ['a loss already recorded writes nothing', lost, obs(true), null],
    ['a standby back ends it', lost, obs(false), 'end'],
    ['nothing wrong, nothing stored: nothing', undefined, obs(false), null],
    ['an ended episode stays ended', { ...lost, active: false }, obs(false), null],
    ['a loss on another primary is a new episode', lost, obs(true, 'pg2'), 'start'],
    ['a new loss after an ended one starts again', { ...lost, active: false }, obs(true), 'start'],
  ])('%s', (_n, prev, o, change) => {
    const s = nextEpisode(prev, o);
    expect(s.change).toBe(change);
    if (change === 'start') expect(s.episode).toMatchObject({ active: true, since: NOW, node: o.node });
    if (change === 'end') expect(s.episode).toMatchObject({ active: false, since: lost.since, endedAt: NOW });
  });

  it('ages an active episode in whole seconds, and an ended one as 0', () => {
    expect(episodeAgeSec(lost, NOW)).toBe(20);
    expect(episodeAgeSec({ ...lost, active: false }, NOW)).toBe(0);
    expect(episodeAgeSec(undefined, NOW)).toBe(0);
  });
});

describe('the degrade record in the lease', () => {
  const req = { primary: 'pg1', epoch: 7, savedNames: NAMES, now: NOW };
  it.each<[string, Lease, RegExp | 'ok' | 'same']>([
    ['steady, names pg1, epoch 7: recorded', lease(), 'ok'],
    ['a second probe finds it recorded: unchanged', lease({ syncDegraded: deg({ since: NOW - 10 }) }), 'same'],
    ['another epoch: refused', lease({ epoch: 8 }), /stale epoch 7/],
    ['a run holds the lease: refused', lease({ state: 'failing-over' }), /while the lease is failing-over/],
    ['needs-attention: refused', lease({ state: 'needs-attention' }), /while the lease is needs-attention/],
    ['the lease names another primary: refused', lease({ primary: 'pg2' }), /names pg2, not pg1/],
  ])('%s', (_n, l, want) => {
    const r = degradeSyncLease(l, req);
    if (want === 'ok') {
      expect(r.ok && r.lease.syncDegraded).toEqual({ primary: 'pg1', epoch: 7, since: NOW, savedNames: NAMES });
    } else if (want === 'same') {
      expect(r.ok && r.lease).toBe(l);
    } else {
      expect(r.ok).toBe(false);
      expect(!r.ok && r.reason).toMatch(want);
    }
  });

  it('restores once, then clears; clearing an unrestored degrade of the current primary is refused', () => {
    const l = lease({ syncDegraded: deg() });
    expect(clearSyncDegradedLease(l, { primary: 'pg1' })).toMatchObject({
      ok: false,
      reason: /restore before clearing/,
    });
    const r = restoreSyncLease(l, { primary: 'pg1', now: NOW });
    expect(r.ok && r.lease.syncDegraded?.restoringSince).toBe(NOW);
    const again = r.ok ? restoreSyncLease(r.lease, { primary: 'pg1', now: NOW + 5 }) : r;
    expect(again.ok && r.ok && again.lease).toBe(r.ok && r.lease);
    const c = r.ok ? clearSyncDegradedLease(r.lease, { primary: 'pg1' }) : r;
    expect(c.ok && 'syncDegraded' in c.lease).toBe(false);
    expect(
      restoreSyncLease(lease({ syncDegraded: deg(), state: 'failing-over' }), { primary: 'pg1', now: NOW }),
    ).toMatchObject({
      ok: false,
    });
    // After a failover the record names the old primary: clearing it is allowed outside a run.
    expect(clearSyncDegradedLease(lease({ primary: 'pg2', syncDegraded: deg() }), { primary: 'pg1' }).ok).toBe(true);
  });
});

describe('a restore that did not take goes back to degraded', () => {
  const restoring = deg({ restoringSince: NOW - 15_000 });
  it.each<[string, Lease, { restoringSince: number }, RegExp | 'ok' | 'same']>([
    [
      'steady, the restore the probe read: degraded, the window kept',
      lease({ syncDegraded: restoring }),
      { restoringSince: NOW - 15_000 },
      'ok',
    ],
    [
      'a second probe finds it degraded already: unchanged',
      lease({ syncDegraded: deg() }),
      { restoringSince: NOW - 15_000 },
      'same',
    ],
    [
      'a newer restore than the one read: refused',
      lease({ syncDegraded: restoring }),
      { restoringSince: NOW - 60_000 },
      /recorded at/,
    ],
    [
      'a run holds the lease: refused',
      lease({ syncDegraded: restoring, state: 'switching-over' }),
      { restoringSince: NOW - 15_000 },
      /while the lease is switching-over/,
    ],
    ['no record: refused', lease(), { restoringSince: NOW - 15_000 }, /no degrade of pg1 is recorded/],
  ])('%s', (_n, l, req, want) => {
    const r = redegradeSyncLease(l, { primary: 'pg1', ...req });
    if (want === 'ok') {
      expect(r.ok && r.lease.syncDegraded).toEqual({ primary: 'pg1', epoch: 7, since: NOW - 5000, savedNames: NAMES });
    } else if (want === 'same') {
      expect(r.ok && r.lease).toBe(l);
    } else {
      expect(r.ok).toBe(false);
      expect(!r.ok && r.reason).toMatch(want);
    }
  });
});

describe('settings', () => {
  it('defaults to block with an alarm under 30 s', () => {
    expect(DEFAULT_SETTINGS.onNoSyncStandby).toBe('block');
    expect(DEFAULT_SETTINGS.syncStandbyAlarmSec).toBeLessThan(30);
  });
  it.each<[string, unknown, RegExp]>([
    [
      'degrade with quorum fencing',
      { onNoSyncStandby: 'degrade', fence: { unreachableHost: 'quorum' } },
      /fence\.unreachableHost: quorum fencing relies on ANY 1/,
    ],
    [
      'degrade in async mode',
      { onNoSyncStandby: 'degrade', replicationMode: 'async' },
      /onNoSyncStandby: degrade applies to replicationMode sync only/,
    ],
    ['an unknown policy', { onNoSyncStandby: 'maybe' }, /onNoSyncStandby/],
    ['a zero degradeAfterSec', { degradeAfterSec: 0 }, /degradeAfterSec/],
  ])('refuses %s, naming the field', (_n, input, msg) => {
    expect(() => parseSettings(input)).toThrow(msg);
  });
  it('degrade makes stop-instance the unreachable-host default (a degraded primary acknowledges alone)', () => {
    expect(unreachableHostPolicy(parseSettings({ onNoSyncStandby: 'degrade' }))).toBe('stop-instance');
    expect(unreachableHostPolicy(parseSettings({}))).toBe('quorum');
  });
});
