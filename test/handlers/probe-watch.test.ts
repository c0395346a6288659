import { DEFAULT_SETTINGS, parseSettings } from '../../lambdas/core';
import { initialLease } from '../../lambdas/core/lease';
import type { Deps } from '../../lambdas/handlers/deps';
import { watchRound } from '../../lambdas/handlers/probe-watch';
import type { ProbeResult, StandbyInfo } from '../../lambdas/ports/postgres-port';
import type { EventRecord } from '../../lambdas/ports/store-port';
import { memoryEpisodes, memoryLease } from './fixtures';

const NAMES = 'ANY 1 (pg1, pg2, pg3)';

/** One store, one PostgreSQL setting, shared by three probes; every page and ALTER recorded. */
function world(settings = DEFAULT_SETTINGS) {
  let now = 1_000_000;
  const cell = memoryLease({ ...initialLease('pg1', 0), epoch: 3 });
  const eps = memoryEpisodes();
  const episodes = eps.episodes;
  const windows = new Map<number, EventRecord>();
  const pages: string[] = [];
  const alters: string[] = [];
  /** For each ALTER to '': whether the history held the open window event at that moment. */
  const openAtAlter: boolean[] = [];
  /** Window writes still to fail (a probe stopped between its lease write and its event write). */
  const fail = { windowWrites: 0 };
  const pg1 = { names: NAMES };
  const d = {
    config: { PGQ_CLUSTER: 'orders', settings },
    log: { info: () => undefined, warn: () => undefined },
    metrics: { unnamedPrimaries: async () => undefined, syncStandbyMissingSeconds: async () => undefined },
    now: () => now,
    notify: async (subject: string) => void pages.push(subject),
    pg: {
      setSyncStandbyNames: async (_n: unknown, names: string) => {
        if (names === '') openAtAlter.push([...windows.values()].some((e) => e.outcome === 'open'));
        alters.push(names);
        pg1.names = names;
      },
    },
    store: {
      getLease: cell.getLease,
      transitionLease: cell.transitionLease,
      getEpisodes: eps.getEpisodes,
      putEpisode: eps.putEpisode,
      putWindowEvent: async (e: EventRecord) => {
        if (fail.windowWrites > 0) {
          fail.windowWrites--;
          throw new Error('DynamoDB timed out');
        }
        windows.set(e.startedAt, e);
      },
    },
  } as unknown as Deps;
  const probe = (standbys: StandbyInfo[]): ProbeResult[] => [
    {
      node: 'pg1',
      ok: true,
      latencyMs: 1,
      role: 'primary',
      heartbeatOk: true,
      standbys,
      syncStandbyNames: pg1.names,
    },
  ];
  /** Three probes decide on the same lease read (as they do within one round), then act. */
  const round = async (standbys: StandbyInfo[]) => {
    const seen = cell.lease;
    await Promise.all(
      ['a', 'b', 'c'].map((az) => watchRound(d, az, seen, probe(standbys), (n) => ({ name: n, host: 'h', port: 1 }))),
    );
  };
  return {
    round,
    tick: (ms: number) => {
      now += ms;
    },
    pages,
    alters,
    openAtAlter,
    fail,
    episodes,
    windows,
    lease: () => cell.lease,
    pg1,
  };
}

const quorum = (name: string): StandbyInfo => ({ name, state: 'streaming', syncState: 'quorum', replayLsn: null });
const async_ = (name: string): StandbyInfo => ({ name, state: 'streaming', syncState: 'async', replayLsn: null });

describe('watchRound: sync-standby loss', () => {
  it('block: three probes, one page at the start and one at the end; the setting is never touched', async () => {
    const w = world();
    await w.round([quorum('pg2')]);
    for (let i = 0; i < 30; i++) {
      await w.round([]);
      w.tick(1000);
    }
    await w.round([quorum('pg3')]);
    expect(w.pages).toEqual([
      'pgquorum orders: no synchronous standby on pg1',
      'pgquorum orders: synchronous standby back on pg1',
    ]);
    expect(w.alters).toEqual([]);
    expect(w.lease().syncDegraded).toBeUndefined();
  });

  it('degrade: one probe degrades after degradeAfterSec, the window opens; a standby back restores and closes it', async () => {
    const w = world(parseSettings({ onNoSyncStandby: 'degrade', degradeAfterSec: 5 }));
    for (let i = 0; i < 5; i++) {
      await w.round([]);
      w.tick(1000);
    }
    expect(w.alters).toEqual([]);
    await w.round([]);
    expect(w.alters).toEqual(['']);
    expect(w.lease().syncDegraded).toMatchObject({ primary: 'pg1', epoch: 3, savedNames: NAMES });
    expect([...w.windows.values()].map((e) => e.outcome)).toEqual(['open']);
    for (let i = 0; i < 5; i++) {
      w.tick(1000);
      await w.round([]);
    }
    expect(w.alters).toEqual(['']);
    // pg2 streams again, drops, streams again (syncRestoreAfterSec 10 by default): no toggle, the window stays open.
    await w.round([{ ...async_('pg2'), streamingForMs: 3000 }]);
    await w.round([]);
    await w.round([{ ...async_('pg2'), streamingForMs: 900 }]);
    expect(w.alters).toEqual(['']);
    expect(w.lease().syncDegraded?.restoringSince).toBeUndefined();
    // Its stream has held for syncRestoreAfterSec: restore, then clear once it is a quorum standby.
    await w.round([{ ...async_('pg2'), streamingForMs: 10_000 }]);
    expect(w.alters).toEqual(['', NAMES]);
    await w.round([quorum('pg2')]);
    expect(w.lease().syncDegraded).toBeUndefined();
    const [closed] = [...w.windows.values()];
    expect(closed).toMatchObject({ kind: 'rpo-window', outcome: 'closed', oldPrimary: 'pg1' });
    expect(closed?.timeline.map((s) => s.step)).toEqual(['degrade', 'restore', 'closed']);
    expect(w.pages).toEqual([
      'pgquorum orders: no synchronous standby on pg1',
      'pgquorum orders: pg1 degraded to async',
      'pgquorum orders: synchronous standby back on pg1',
    ]);
  });

  it('degrade: a standby that drops before it becomes synchronous after the restore does not block commits for good', async () => {
    const w = world(parseSettings({ onNoSyncStandby: 'degrade', degradeAfterSec: 5 }));
    for (let i = 0; i < 6; i++) {
      await w.round([]);
      w.tick(1000);
    }
    await w.round([{ ...async_('pg2'), streamingForMs: 10_000 }]);
    expect(w.alters).toEqual(['', NAMES]);
    const since = w.lease().syncDegraded?.since;
    // pg2 drops before it is synchronous: commits wait under the restored setting, for degradeAfterSec at most.
    for (let i = 0; i < 5; i++) {
      await w.round([]);
      w.tick(1000);
    }
    expect(w.alters).toEqual(['', NAMES]);
    await w.round([]);
    expect(w.alters).toEqual(['', NAMES, '']);
    expect(w.lease().syncDegraded).toMatchObject({ primary: 'pg1', since });
    expect(w.lease().syncDegraded?.restoringSince).toBeUndefined();
    expect(w.pages).toEqual([
      'pgquorum orders: no synchronous standby on pg1',
      'pgquorum orders: pg1 degraded to async',
      'pgquorum orders: pg1 degraded to async again',
    ]);
    // The window it opened stays one window: a lasting stream restores and closes it.
    await w.round([{ ...async_('pg3'), streamingForMs: 10_000 }]);
    await w.round([quorum('pg3')]);
    expect(w.lease().syncDegraded).toBeUndefined();
    expect([...w.windows.values()].map((e) => [e.startedAt, e.outcome])).toEqual([[since, 'closed']]);
  });

  it('degrade: the history says the window is open before the ALTER lets a commit through without a standby', async () => {
    const w = world(parseSettings({ onNoSyncStandby: 'degrade', degradeAfterSec: 5 }));
    for (let i = 0; i < 6; i++) {
      await w.round([]);
      w.tick(1000);
    }
    expect(w.alters).toEqual(['']);
    expect(w.openAtAlter).toEqual([true]);
    expect([...w.windows.values()][0]?.reason).toMatch(
      /^pg1 had no synchronous standby for 5 s \(onNoSyncStandby degrade\): synchronous_standby_names 'ANY 1 \(pg1, pg2, pg3\)' -> ''/,
    );
  });

  it('degrade: a winner that stops between its lease write and its window event leaves the ALTER to a later round, which opens the window first', async () => {
    const w = world(parseSettings({ onNoSyncStandby: 'degrade', degradeAfterSec: 5 }));
    for (let i = 0; i < 5; i++) {
      await w.round([]);
      w.tick(1000);
    }
    w.fail.windowWrites = 1;
    await w.round([]);
    // The record says degraded; the event write failed, so nothing was altered and commits still wait.
    expect(w.lease().syncDegraded).toMatchObject({ primary: 'pg1', savedNames: NAMES });
    expect(w.windows.size).toBe(0);
    expect(w.alters).toEqual([]);
    w.tick(1000);
    await w.round([]);
    // Each of the round's three probes applies what the record asks (an idempotent ALTER), each after the event.
    expect(w.alters).toEqual(['', '', '']);
    expect(w.openAtAlter).toEqual([true, true, true]);
    expect([...w.windows.values()].map((e) => [e.startedAt, e.outcome])).toEqual([
      [w.lease().syncDegraded?.since, 'open'],
    ]);
  });

  it('async mode: nothing is written, nothing pages', async () => {
    const w = world(parseSettings({ replicationMode: 'async' }));
    await w.round([]);
    expect(w.pages).toEqual([]);
    expect(w.episodes.get('sync-standby-missing')).toBeUndefined();
  });
});
